// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only)
// mamori's kernel side: process and syscall events for the runtime sensor.
//
// Only program types this project's machine kind accepts are used: BTF tracepoints
// (tp_btf) for sched_process_{exec,fork,exit} and sys_exit. No kprobes, no trampolines.
// Every event goes through one ring buffer; a failed reservation is counted in `stats`.
// Userspace decodes the layout in crates/sensor/src/wire.rs: keep the two in step
// (WIRE_VERSION below and in wire.rs).
//
// Rebuild: crates/sensor/bpf/build.sh (clang -O2 -target bpf, CO-RE against vmlinux.h).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define WIRE_VERSION 2

#define EV_EXEC 1
#define EV_EXIT 2
#define EV_SYSCALL 3

#define SLOT 256
#define ARGV_MAX 1024
#define ANCESTORS 6

// Event flags.
#define F_TAINT (1u << 0)        // the task descends from an exec session (runc exec / CRI exec)
#define F_UPPER (1u << 1)        // the executable is on an overlay upper layer (drift)
#define F_MEMFD (1u << 2)        // the executable is a memfd (fileless)
#define F_STDIN_SOCK (1u << 3)   // fd 0 is a socket
#define F_STDOUT_SOCK (1u << 4)  // fd 1 is a socket
#define F_KILLED (1u << 5)       // the sensor sent SIGKILL (post-exec enforcement)
#define F_OVERLAY (1u << 6)      // the executable is on an overlay filesystem
#define F_SOCK (1u << 7)         // slot 1 holds a struct sockinfo read from the kernel socket
#define F_UADDR (1u << 8)        // slot 1 holds a raw sockaddr copied from user memory
#define F_TRUNC_ARGV (1u << 9)   // argv longer than ARGV_MAX
#define F_TTY_SET (1u << 10)
#define F_DELETED (1u << 11)     // the executable has no name left (unlinked, O_TMPFILE): fileless

// Config indices.
#define CFG_HOST_PIDNS 0
#define CFG_CONTAINERS_ONLY 1
#define CFG_WAKEUP_BYTES 2
#define CFG_FAILED_SYSCALLS 3
#define CFG_SELF_PID 4
#define CFG_MAX 8

// Per-pid-namespace enforcement flags (map `enforce`).
#define ENF_KILL_FILELESS (1u << 0)
#define ENF_KILL_SESSION_EXEC (1u << 1) // post-exec fallback when fanotify is unavailable
#define ENF_KILL_DRIFT (1u << 2)        // post-exec fallback when fanotify is unavailable
#define ENF_TRACK_EXEC (1u << 3)        // record execve's pathname per task for the fanotify decider

#define AT_FDCWD_VAL -100
#define EINPROGRESS_VAL 115

struct event_hdr {
	__u64 ts;        // bpf_ktime_get_boot_ns
	__u64 pidns;     // active pid namespace inode
	__u64 mntns;     // mount namespace inode
	__u64 cgid;      // cgroup v2 id
	__u64 cap_eff;
	__u64 cap_prm;
	__s64 res;       // syscall return value
	__u64 args[6];   // syscall arguments (numeric) or exec data
	__u32 version;
	__u32 kind;
	__u32 syscall;
	__u32 tid;
	__u32 pid;
	__u32 ppid;
	__u32 vpid;
	__u32 uid;
	__u32 gid;
	__u32 loginuid;
	__u32 tty;
	__u32 flags;
	__u16 len[3];
	__u16 pad;
	char comm[16];
};

struct ancestor {
	__u32 pid;
	char comm[16];
};

// IPv4/IPv6 endpoints read from a kernel socket.
struct sockinfo {
	__u16 family;
	__u16 proto;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

#define HDR sizeof(struct event_hdr)
#define OFF0 HDR
#define OFF1 (HDR + SLOT)
#define OFF2 (HDR + 2 * SLOT)
#define SCRATCH (HDR + 2 * SLOT + ARGV_MAX)

struct scratch_buf {
	__u8 b[SCRATCH + 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_buf);
} scratch SEC(".maps");

// [0] produced, [1] dropped (ring buffer full), [2] filtered out in kernel, [3] killed
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_MAX);
	__type(key, __u32);
	__type(value, __u64);
} settings SEC(".maps");

// Which syscall numbers cross to userspace (set from the loaded rules and policies).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u8);
} syscalls SEC(".maps");

// Exec-session taint, by task id: set when a task enters a container's pid namespace from
// outside with a namespace pid other than 1 (runc exec, CRI exec), inherited at fork.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} taint SEC(".maps");

// Enforcement flags by pid namespace inode (containers under an enforce policy).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} enforce SEC(".maps");

struct exec_path {
	char p[SLOT];
};

// The pathname passed to execve, by task id, for tasks in containers with ENF_TRACK_EXEC: the
// fanotify decider sees the resolved file (busybox for every applet), this is the name asked for.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct exec_path);
} exec_paths SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline __u64 cfg(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&settings, &idx);
	return v ? *v : 0;
}

// The number of `p` as seen from pid namespace level `level` (0 when not visible there).
static __always_inline __u32 pid_nr_at(struct pid *p, unsigned int level)
{
	if (!p)
		return 0;
	unsigned int pl = BPF_CORE_READ(p, level);
	if (pl < level)
		return 0;
	struct upid up;
	bpf_core_read(&up, sizeof(up), &p->numbers[level & 31]);
	return up.nr;
}

// Fills the common header from the current task. Returns 0 to go on, -1 to skip (filtered).
static __always_inline int fill_hdr(struct event_hdr *h, struct task_struct *t, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 vpid = 0;
	// The sensor's own activity never crosses (it would feed back on itself).
	if ((id >> 32) == cfg(CFG_SELF_PID)) {
		count(2);
		return -1;
	}
	struct pid_namespace *pns = task_pidns(t, &vpid);
	__u64 pidns = BPF_CORE_READ(pns, ns.inum);
	if (cfg(CFG_CONTAINERS_ONLY) && pidns == cfg(CFG_HOST_PIDNS) && kind != EV_EXIT) {
		count(2);
		return -1;
	}
	__builtin_memset(h, 0, sizeof(*h));
	h->version = WIRE_VERSION;
	h->kind = kind;
	h->ts = bpf_ktime_get_boot_ns();
	h->tid = (__u32)id;
	h->pid = id >> 32;
	h->ppid = BPF_CORE_READ(t, real_parent, tgid);
	h->vpid = vpid;
	h->pidns = pidns;
	h->mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	h->cgid = bpf_get_current_cgroup_id();
	__u64 ug = bpf_get_current_uid_gid();
	h->uid = (__u32)ug;
	h->gid = ug >> 32;
	if (bpf_core_field_exists(t->loginuid))
		h->loginuid = BPF_CORE_READ(t, loginuid.val);
	else
		h->loginuid = (__u32)-1;
	const struct cred *c = BPF_CORE_READ(t, cred);
	bpf_core_read(&h->cap_eff, sizeof(h->cap_eff), &c->cap_effective);
	bpf_core_read(&h->cap_prm, sizeof(h->cap_prm), &c->cap_permitted);
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		int major = BPF_CORE_READ(tty, driver, major);
		int minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		// The encoding of /proc/<pid>/stat's tty_nr (what Falco reports as proc.tty).
		h->tty = (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
		h->flags |= F_TTY_SET;
	}
	bpf_get_current_comm(&h->comm, sizeof(h->comm));
	__u32 *tv = bpf_map_lookup_elem(&taint, &h->tid);
	if (tv)
		h->flags |= F_TAINT;
	return 0;
}

// Sends the scratch event: header plus the used part of the slots.
static __always_inline void submit(struct scratch_buf *s, struct event_hdr *h)
{
	__u64 size;
	if (h->len[2])
		size = OFF2 + (h->len[2] & (ARGV_MAX - 1));
	else if (h->len[1])
		size = OFF1 + (h->len[1] & (SLOT - 1));
	else
		size = OFF0 + (h->len[0] & (SLOT - 1));
	if (size > SCRATCH)
		size = SCRATCH;
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u64 wake = cfg(CFG_WAKEUP_BYTES);
	if (wake && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wake)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, s->b, size, flags))
		count(1);
	else
		count(0);
}

static __always_inline struct scratch_buf *get_scratch(void)
{
	__u32 z = 0;
	return bpf_map_lookup_elem(&scratch, &z);
}

static __always_inline __u16 user_str(struct scratch_buf *s, __u32 off, const void *src)
{
	if (!src)
		return 0;
	long n = bpf_probe_read_user_str(&s->b[off], SLOT, src);
	return n > 0 ? (__u16)n : 0;
}

// The inode's ctime seconds across kernel versions: `i_ctime_sec` (6.11+), `__i_ctime` (6.6 to
// 6.10), `i_ctime` (before 6.6). A relocation against a field the running kernel lacks would
// make the whole program fail to load.
struct inode___v66 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

static __always_inline __u64 inode_ctime_sec(struct inode *ino)
{
	if (bpf_core_field_exists(ino->i_ctime_sec))
		return BPF_CORE_READ(ino, i_ctime_sec);
	struct inode___v66 *v66 = (void *)ino;
	if (bpf_core_field_exists(v66->__i_ctime))
		return BPF_CORE_READ(v66, __i_ctime.tv_sec);
	struct inode___old *old = (void *)ino;
	return BPF_CORE_READ(old, i_ctime.tv_sec);
}

// Reads the endpoints of the socket behind `fd` into slot 1. Returns 1 when it is an inet socket.
static __always_inline int sock_of_fd(struct scratch_buf *s, struct event_hdr *h, struct task_struct *t, __u32 fd)
{
	struct file *f = task_fd(t, fd);
	if (!is_sock_file(f))
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return 0;
	struct sockinfo *si = (struct sockinfo *)&s->b[OFF1];
	__builtin_memset(si, 0, sizeof(*si));
	si->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	si->proto = BPF_CORE_READ(sk, sk_protocol);
	si->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	si->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (si->family == 2) {
		bpf_core_read(si->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(si->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (si->family == 10) {
		bpf_core_read(si->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(si->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	h->len[1] = sizeof(*si);
	h->flags |= F_SOCK;
	return si->family == 2 || si->family == 10 || si->family == 1;
}

// ---- process lifecycle ------------------------------------------------------------------

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptid = BPF_CORE_READ(parent, pid);
	__u32 ctid = BPF_CORE_READ(child, pid);
	__u32 one = 1;
	if (bpf_map_lookup_elem(&taint, &ptid)) {
		bpf_map_update_elem(&taint, &ctid, &one, BPF_ANY);
		return 0;
	}
	// Seed: a task created in a pid namespace other than its parent's, and not as that
	// namespace's init, entered an existing container from outside (runc exec, CRI exec).
	__u32 pv = 0, cv = 0;
	struct pid_namespace *pns = task_pidns(parent, &pv);
	struct pid_namespace *cns = task_pidns(child, &cv);
	if (pns != cns && cv != 1)
		bpf_map_update_elem(&taint, &ctid, &one, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *t)
{
	__u32 tid = BPF_CORE_READ(t, pid);
	__u32 tgid = BPF_CORE_READ(t, tgid);
	bpf_map_delete_elem(&taint, &tid);
	if (tid != tgid)
		return 0;
	struct scratch_buf *s = get_scratch();
	if (!s)
		return 0;
	struct event_hdr *h = (struct event_hdr *)s->b;
	if (fill_hdr(h, t, EV_EXIT))
		return 0;
	h->res = BPF_CORE_READ(t, exit_code);
	submit(s, h);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *t, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch_buf *s = get_scratch();
	if (!s)
		return 0;
	struct event_hdr *h = (struct event_hdr *)s->b;
	if (fill_hdr(h, t, EV_EXEC))
		return 0;
	h->syscall = 59;
	const char *fname = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(&s->b[OFF0], SLOT, fname);
	h->len[0] = n > 0 ? n : 0;

	// Executable file: inode, device, overlay upper layer, memfd.
	struct file *f = BPF_CORE_READ(bprm, file);
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	h->args[0] = BPF_CORE_READ(ino, i_ino);
	h->args[1] = BPF_CORE_READ(ino, i_sb, s_dev);
	h->args[2] = BPF_CORE_READ(ino, __i_nlink);
	h->args[3] = inode_ctime_sec(ino);
	// Session and process group, as seen from the task's own pid namespace (proc.sid,
	// proc.vpgid).
	unsigned int lvl = BPF_CORE_READ(t, thread_pid, level);
	h->args[4] = pid_nr_at(BPF_CORE_READ(t, signal, pids[PIDTYPE_SID]), lvl);
	h->args[5] = pid_nr_at(BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]), lvl);
	unsigned long magic = BPF_CORE_READ(ino, i_sb, s_magic);
	if (magic == OVERLAYFS_SUPER_MAGIC) {
		h->flags |= F_OVERLAY;
		if (ovl_upper(ino))
			h->flags |= F_UPPER;
	}
	if (is_memfd_file(f))
		h->flags |= F_MEMFD;
	if (h->args[2] == 0)
		h->flags |= F_DELETED;

	// stdio on sockets (reverse shells).
	if (is_sock_file(task_fd(t, 0)))
		h->flags |= F_STDIN_SOCK;
	if (is_sock_file(task_fd(t, 1)))
		h->flags |= F_STDOUT_SOCK;

	// Ancestors: pid and comm of up to ANCESTORS parents.
	struct ancestor *anc = (struct ancestor *)&s->b[OFF1];
	struct task_struct *p = BPF_CORE_READ(t, real_parent);
	__u16 na = 0;
	for (int i = 0; i < ANCESTORS; i++) {
		if (!p)
			break;
		__u32 ppid = BPF_CORE_READ(p, tgid);
		if (ppid == 0)
			break;
		anc[i].pid = ppid;
		bpf_probe_read_kernel(anc[i].comm, 16, &p->comm);
		na++;
		if (ppid == 1)
			break;
		p = BPF_CORE_READ(p, real_parent);
	}
	h->len[1] = na * sizeof(struct ancestor);

	// argv from the new image's memory.
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long as = BPF_CORE_READ(mm, arg_start);
	unsigned long ae = BPF_CORE_READ(mm, arg_end);
	unsigned long alen = ae > as ? ae - as : 0;
	if (alen >= ARGV_MAX) {
		alen = ARGV_MAX - 1;
		h->flags |= F_TRUNC_ARGV;
	}
	if (alen > 0 && !bpf_probe_read_user(&s->b[OFF2], alen & (ARGV_MAX - 1), (void *)as))
		h->len[2] = alen;
	if (!h->len[2] && !h->len[1])
		h->len[1] = 0;

	// Post-exec enforcement (fileless exec always; sessions and drift only as a fallback).
	__u32 *ef = bpf_map_lookup_elem(&enforce, &h->pidns);
	if (ef) {
		__u32 e = *ef;
		if (((e & ENF_KILL_FILELESS) && (h->flags & (F_MEMFD | F_DELETED))) ||
		    ((e & ENF_KILL_SESSION_EXEC) && (h->flags & F_TAINT)) ||
		    ((e & ENF_KILL_DRIFT) && (h->flags & F_UPPER))) {
			bpf_send_signal(9);
			h->flags |= F_KILLED;
			count(3);
		}
	}
	submit(s, h);
	return 0;
}

static __always_inline int track_exec_path(const char *filename)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	__u32 vpid = 0;
	struct pid_namespace *pns = task_pidns(t, &vpid);
	__u64 pidns = BPF_CORE_READ(pns, ns.inum);
	__u32 *ef = bpf_map_lookup_elem(&enforce, &pidns);
	if (!ef || !(*ef & ENF_TRACK_EXEC))
		return 0;
	struct scratch_buf *s = get_scratch();
	if (!s)
		return 0;
	struct exec_path *ep = (struct exec_path *)s->b;
	if (bpf_probe_read_user_str(ep->p, SLOT, filename) <= 0)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&exec_paths, &tid, ep, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int on_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return track_exec_path((const char *)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int on_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return track_exec_path((const char *)ctx->args[1]);
}

// ---- syscalls ---------------------------------------------------------------------------

// tp_btf hands over a trusted, BTF-typed pt_regs: plain loads (CO-RE relocated through
// vmlinux.h's preserve_access_index) instead of a probe-read helper call on every syscall.
static __always_inline unsigned long arg(struct pt_regs *r, int i)
{
	switch (i) {
	case 0: return r->di;
	case 1: return r->si;
	case 2: return r->dx;
	case 3: return r->r10;
	case 4: return r->r8;
	default: return r->r9;
	}
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 nr = (__u32)regs->orig_ax;
	if (nr >= 512)
		return 0;
	__u8 *on = bpf_map_lookup_elem(&syscalls, &nr);
	if (!on || !*on)
		return 0;
	if (ret < 0 && !cfg(CFG_FAILED_SYSCALLS) && !(nr == 42 && ret == -EINPROGRESS_VAL))
		return 0;
	struct scratch_buf *s = get_scratch();
	if (!s)
		return 0;
	struct event_hdr *h = (struct event_hdr *)s->b;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	if (fill_hdr(h, t, EV_SYSCALL))
		return 0;
	h->syscall = nr;
	h->res = ret;
	for (int i = 0; i < 6; i++)
		h->args[i] = arg(regs, i);

	switch (nr) {
	case 2:   // open(path, flags, mode)
	case 85:  // creat(path, mode)
	case 83:  // mkdir(path, mode)
	case 84:  // rmdir(path)
	case 87:  // unlink(path)
	case 90:  // chmod(path, mode)
	case 319: // memfd_create(name, flags)
		h->len[0] = user_str(s, OFF0, (void *)h->args[0]);
		break;
	case 257: // openat(dirfd, path, flags, mode)
	case 258: // mkdirat(dirfd, path, mode)
	case 263: // unlinkat(dirfd, path, flags)
	case 268: // fchmodat(dirfd, path, mode)
		h->len[0] = user_str(s, OFF0, (void *)h->args[1]);
		break;
	case 437: { // openat2(dirfd, path, how, size): flags and mode from struct open_how
		h->len[0] = user_str(s, OFF0, (void *)h->args[1]);
		__u64 how[2] = {};
		bpf_probe_read_user(how, sizeof(how), (void *)h->args[2]);
		h->args[2] = how[0];
		h->args[3] = how[1];
		break;
	}
	case 82: // rename(old, new)
	case 86: // link(old, new)
	case 88: // symlink(target, linkpath)
		h->len[0] = user_str(s, OFF0, (void *)h->args[0]);
		h->len[1] = user_str(s, OFF1, (void *)h->args[1]);
		break;
	case 264: // renameat(olddfd, old, newdfd, new)
	case 316: // renameat2(olddfd, old, newdfd, new, flags)
	case 265: // linkat(olddfd, old, newdfd, new, flags)
		h->len[0] = user_str(s, OFF0, (void *)h->args[1]);
		h->len[1] = user_str(s, OFF1, (void *)h->args[3]);
		break;
	case 266: // symlinkat(target, newdfd, linkpath)
		h->len[0] = user_str(s, OFF0, (void *)h->args[0]);
		h->len[1] = user_str(s, OFF1, (void *)h->args[2]);
		break;
	case 42:  // connect(fd, addr, len)
	case 49: { // bind(fd, addr, len)
		if (!sock_of_fd(s, h, t, (__u32)h->args[0]) || (h->flags & F_SOCK) == 0)
			break;
		struct sockinfo *si = (struct sockinfo *)&s->b[OFF1];
		if (si->family == 1) {
			// AF_UNIX: the path is in the user's sockaddr_un.
			h->flags &= ~F_SOCK;
			h->flags |= F_UADDR;
			long n = bpf_probe_read_user(&s->b[OFF1], 110, (void *)h->args[1]);
			h->len[1] = n == 0 ? 110 : 0;
		}
		break;
	}
	case 43:  // accept(fd, addr, len) -> new fd
	case 288: // accept4
		if (ret >= 0)
			sock_of_fd(s, h, t, (__u32)ret);
		break;
	case 32: // dup(old) -> new
	case 33: // dup2(old, new)
	case 292: // dup3(old, new, flags)
		sock_of_fd(s, h, t, (__u32)h->args[0]);
		break;
	case 175: // init_module(image, len, params)
		h->len[0] = user_str(s, OFF0, (void *)h->args[2]);
		break;
	case 313: // finit_module(fd, params, flags)
		h->len[0] = user_str(s, OFF0, (void *)h->args[1]);
		break;
	default:
		break;
	}
	submit(s, h);
	return 0;
}

// ---- BPF LSM availability probe ---------------------------------------------------------
// Loaded only to learn whether this kernel accepts BPF LSM programs (it needs BPF trampolines;
// some kernels refuse them with EPERM). It never denies anything.
SEC("lsm/bprm_check_security")
int BPF_PROG(lsm_probe, struct linux_binprm *bprm, int ret)
{
	return ret;
}
