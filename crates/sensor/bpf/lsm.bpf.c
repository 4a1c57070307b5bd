// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only)
// mamori's BPF LSM enforcement: runtime-policy controls decided in the kernel, before the exec,
// open or change happens, for kernels that accept BPF LSM programs (CONFIG_BPF_LSM and `bpf` in
// the active LSM list). Kernels that refuse them use the fanotify backend instead.
//
// Userspace (crates/sensor/src/lsm.rs) fills three maps per container, keyed by the container's
// pid namespace inode (the key the sensor's post-exec `enforce` map uses too):
//   containers: which controls each enforce-mode policy in force asks (`need`, a mask of policy
//               slots per control) and the container's pattern set;
//   patterns:   the set's path and name patterns, hashed (FNV-1a 64 of the bytes, with the
//               length and match kind in the key); the value says, per control, which policy
//               slots list the pattern;
//   sets:       per set, the lengths at which a prefix pattern exists (so a path is hashed once
//               and looked up only at those lengths; one byte per length keeps the verifier's
//               bounds simple).
// Globs that are not an exact path, a literal prefix followed by `*`, or an exact name cannot be
// matched here: userspace keeps such controls on the fanotify/detect path and says so.
//
// Every denial is a record in the `denials` ring buffer (layout in src/lsm/wire.rs, keep them in
// step: LSM_WIRE_VERSION); userspace turns it into the same `block` event as a fanotify denial.
//
// Exec sessions are tracked here (independent of the sensor object): a task that
// execs with a namespace pid other than 1 while its parent lives in another pid namespace entered
// the container from outside (runc exec, CRI exec); `task_alloc` passes the taint to children, and
// it survives re-parenting.
//
// Rebuild: crates/sensor/bpf/build.sh (clang -O2 -target bpf, CO-RE against vmlinux.h).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define LSM_WIRE_VERSION 1
#define EPERM_VAL 1
#define PATH_K 256
#define NAME_K 64
#define DEPTH_K 16

// Controls (indices into need[] and pat_val.mask[]); src/lsm/wire.rs has the same numbers.
#define C_SESSION 0
#define C_DRIFT 1
#define C_BLOCKED_EXE 2
#define C_BLOCKED_FILES 3
#define C_READ_ONLY 4
#define C_REVERSE_SHELL 5
#define C_FILELESS 6
#define C_SHELL 7 // not a control: the names reverseShell counts as shells
#define NCTL 8

// Match kinds of a pattern key.
#define M_EXACT 0
#define M_PREFIX 1
#define M_NAME 2

// Denial kinds.
#define K_EXEC 1
#define K_OPEN 2
#define K_MODIFY 3

// Modify operations (the syscall family refused).
#define OP_UNLINK 1
#define OP_MKDIR 2
#define OP_RMDIR 3
#define OP_RENAME 4
#define OP_CHMOD 5
#define OP_CREATE 6
#define OP_TRUNCATE 7
#define OP_SYMLINK 8
#define OP_LINK 9

// Record flags.
#define F_TAINT (1u << 0)
#define F_UPPER (1u << 1)
#define F_MEMFD (1u << 2)
#define F_STDIO_SOCK (1u << 3)
#define F_WRITE (1u << 4)
#define F_PATH_UNKNOWN (1u << 5)
#define F_OVERLAY (1u << 6)
#define F_DELETED (1u << 7) // the executable has no name left (unlinked, O_TMPFILE)

#define FMODE_WRITE_VAL 0x2
#define O_CREAT_VAL 0100
#define O_TRUNC_VAL 01000

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

struct container_policy {
	__u32 set;
	__u32 need[NCTL];
};

struct pat_key {
	__u64 hash;
	__u32 set;
	__u16 len;
	__u8 match;
	__u8 pad;
};

struct pat_val {
	__u32 mask[NCTL];
};

struct set_info {
	__u8 has_prefix[PATH_K]; // [n]: a prefix pattern of n bytes exists in this set
};

struct denial {
	__u64 ts;
	__u64 pidns;
	__u64 cgid;
	__u32 version;
	__u32 kind;
	__u32 control;
	__u32 slots;
	__u32 op;
	__u32 flags;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 vpid;
	__u32 uid;
	__u32 gid;
	__u16 path_len;
	__u16 path2_len;
	__u32 pad;
	char comm[16];
	char path[PATH_K];
	char path2[PATH_K];
};

struct scratch {
	struct denial d;
	char buf[PATH_K];
	char name[NAME_K];
	__u64 comps[DEPTH_K];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct container_policy);
} containers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pat_key);
	__type(value, struct pat_val);
} patterns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct set_info);
} sets SEC(".maps");

// Exec-session taint by task (the task_struct's address: at task_alloc the child has no pid
// yet), dropped at task_free. (Task storage would fit better, but aya 0.14 cannot create it.)
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u32);
} session SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} denials SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

// [0] denied, [1] denial records lost (ring buffer full), [2] paths that could not be read,
// [3] checks made
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} lsm_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lsm_stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct container_policy *policy_of_current(__u64 *pidns, __u32 *vpid)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pid_namespace *ns = task_pidns(t, vpid);
	*pidns = BPF_CORE_READ(ns, ns.inum);
	return bpf_map_lookup_elem(&containers, pidns);
}

// ---- pattern matching ---------------------------------------------------------------------

// `v` masked to a path index, with its range hidden from the compiler so that the mask stays in
// the code: the verifier needs it to bound the index (clang drops a mask it can prove redundant).
static __always_inline __u32 bounded(__u32 v)
{
	asm volatile("" : "+r"(v));
	return v & (PATH_K - 1);
}

struct match_ctx {
	const char *s;
	struct set_info *si;
	__u64 h;
	__u64 hn;
	__u32 set;
	__u32 len;
	__u32 nlen;
	__u32 mask[NCTL];
};

static __always_inline void or_lookup(struct match_ctx *c, __u8 match, __u32 len, __u64 h)
{
	struct pat_key k = {};
	k.hash = h;
	k.set = c->set;
	k.len = len;
	k.match = match;
	struct pat_val *v = bpf_map_lookup_elem(&patterns, &k);
	if (!v)
		return;
	for (int i = 0; i < NCTL; i++)
		c->mask[i] |= v->mask[i];
}

static long match_step(__u32 i, void *ctx)
{
	struct match_ctx *c = ctx;
	if (i >= PATH_K - 1)
		return 1;
	unsigned char ch = c->s[i & (PATH_K - 1)];
	if (ch == 0) {
		c->len = i;
		return 1;
	}
	c->h = (c->h ^ ch) * FNV_PRIME;
	if (ch == '/') {
		c->hn = FNV_OFF;
		c->nlen = 0;
	} else {
		c->hn = (c->hn ^ ch) * FNV_PRIME;
		c->nlen++;
	}
	__u32 n = bounded(i + 1);
	if (c->si && c->si->has_prefix[n])
		or_lookup(c, M_PREFIX, n, c->h);
	return 0;
}

// Which policy slots list `s` (a NUL-terminated path or name, at most PATH_K - 1 bytes) as an
// exact path, a path prefix, or (its basename) as a name, per control.
static __always_inline void match_path(struct match_ctx *c, const char *s, __u32 set)
{
	__builtin_memset(c, 0, sizeof(*c));
	c->s = s;
	c->set = set;
	c->h = FNV_OFF;
	c->hn = FNV_OFF;
	c->len = PATH_K - 1;
	c->si = bpf_map_lookup_elem(&sets, &set);
	bpf_loop(PATH_K, match_step, c, 0);
	or_lookup(c, M_EXACT, c->len, c->h);
	if (c->nlen)
		or_lookup(c, M_NAME, c->nlen, c->hn);
}

// ---- context ------------------------------------------------------------------------------

static __always_inline struct scratch *get_scratch(void)
{
	__u32 z = 0;
	return bpf_map_lookup_elem(&scratch, &z);
}

static __always_inline int is_tainted(struct task_struct *t)
{
	__u64 k = (__u64)t;
	return bpf_map_lookup_elem(&session, &k) != NULL;
}

static __always_inline void taint(struct task_struct *t)
{
	__u64 k = (__u64)t;
	__u32 one = 1;
	bpf_map_update_elem(&session, &k, &one, BPF_ANY);
}

static __always_inline void fill(struct denial *d, __u32 kind, __u32 control, __u32 slots, __u64 pidns, __u32 vpid)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	d->ts = bpf_ktime_get_boot_ns();
	d->pidns = pidns;
	d->cgid = bpf_get_current_cgroup_id();
	d->version = LSM_WIRE_VERSION;
	d->kind = kind;
	d->control = control;
	d->slots = slots;
	d->pid = id >> 32;
	d->tid = (__u32)id;
	d->ppid = BPF_CORE_READ(t, real_parent, tgid);
	d->vpid = vpid;
	d->uid = (__u32)ug;
	d->gid = ug >> 32;
	bpf_get_current_comm(d->comm, sizeof(d->comm));
}

static __always_inline int deny(struct denial *d)
{
	count(0);
	if (bpf_ringbuf_output(&denials, d, sizeof(*d), 0))
		count(1);
	return -EPERM_VAL;
}

// ---- exec sessions ------------------------------------------------------------------------

SEC("lsm/task_alloc")
int BPF_PROG(lsm_task_alloc, struct task_struct *task, unsigned long clone_flags)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	if (is_tainted(cur))
		taint(task);
	return 0;
}

SEC("lsm/task_free")
int BPF_PROG(lsm_task_free, struct task_struct *task)
{
	__u64 k = (__u64)task;
	bpf_map_delete_elem(&session, &k);
	return 0;
}

// ---- exec ---------------------------------------------------------------------------------

SEC("lsm/bprm_check_security")
int BPF_PROG(lsm_bprm_check, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return ret;
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 pidns = 0;
	__u32 vpid = 0;
	struct container_policy *pol = policy_of_current(&pidns, &vpid);
	// Seed the session taint even before the container has a policy (it may get one later).
	if (vpid != 1 && !is_tainted(t)) {
		__u32 pv = 0;
		struct pid_namespace *pns = task_pidns(BPF_CORE_READ(t, real_parent), &pv);
		if (BPF_CORE_READ(pns, ns.inum) != pidns)
			taint(t);
	}
	if (!pol)
		return 0;
	count(3);
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct denial *d = &s->d;
	__u32 flags = 0;
	if (is_tainted(t))
		flags |= F_TAINT;
	struct file *f = bprm->file;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	if (BPF_CORE_READ(ino, i_sb, s_magic) == OVERLAYFS_SUPER_MAGIC) {
		flags |= F_OVERLAY;
		if (ovl_upper(ino))
			flags |= F_UPPER;
	}
	if (is_memfd_file(f))
		flags |= F_MEMFD;
	if (BPF_CORE_READ(ino, __i_nlink) == 0)
		flags |= F_DELETED;
	if (is_sock_file(task_fd(t, 0)) || is_sock_file(task_fd(t, 1)))
		flags |= F_STDIO_SOCK;

	// The name the exec asked for (policies match it, as the fanotify decider does); a relative
	// name is replaced by the resolved file's path.
	long n = bpf_probe_read_kernel_str(d->path, PATH_K, BPF_CORE_READ(bprm, filename));
	if (n <= 0 || d->path[0] != '/') {
		n = bpf_d_path((struct path *)&f->f_path, d->path, PATH_K);
		if (n <= 0) {
			count(2);
			flags |= F_PATH_UNKNOWN;
			d->path[0] = 0;
			n = 1;
		}
	}
	d->path_len = n > 0 ? n - 1 : 0;
	d->path2_len = 0;
	d->op = 0;

	struct match_ctx mc;
	match_path(&mc, d->path, pol->set);
	__u32 need;
	__u32 hit = 0, ctl = 0;
	// In the order of the policy engine's controls.
	need = pol->need[C_SESSION];
	if (!hit && need && (flags & F_TAINT) && (mc.mask[C_SESSION] & need) != need) {
		hit = need & ~mc.mask[C_SESSION];
		ctl = C_SESSION;
	}
	need = pol->need[C_DRIFT];
	if (!hit && need && (flags & F_UPPER) && (mc.mask[C_DRIFT] & need) != need) {
		hit = need & ~mc.mask[C_DRIFT];
		ctl = C_DRIFT;
	}
	need = pol->need[C_BLOCKED_EXE];
	if (!hit && (mc.mask[C_BLOCKED_EXE] & need)) {
		hit = mc.mask[C_BLOCKED_EXE] & need;
		ctl = C_BLOCKED_EXE;
	}
	need = pol->need[C_REVERSE_SHELL];
	if (!hit && need && (flags & F_STDIO_SOCK) && mc.mask[C_SHELL] &&
	    (mc.mask[C_REVERSE_SHELL] & need) != need) {
		hit = need & ~mc.mask[C_REVERSE_SHELL];
		ctl = C_REVERSE_SHELL;
	}
	need = pol->need[C_FILELESS];
	if (!hit && need && (flags & (F_MEMFD | F_DELETED))) {
		hit = need;
		ctl = C_FILELESS;
	}
	if (!hit)
		return 0;
	d->flags = flags;
	fill(d, K_EXEC, ctl, hit, pidns, vpid);
	return deny(d);
}

// ---- files --------------------------------------------------------------------------------

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file, int ret)
{
	if (ret)
		return ret;
	__u64 pidns = 0;
	__u32 vpid = 0;
	struct container_policy *pol = policy_of_current(&pidns, &vpid);
	if (!pol || !(pol->need[C_BLOCKED_FILES] | pol->need[C_READ_ONLY]))
		return 0;
	count(3);
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct denial *d = &s->d;
	long n = bpf_d_path((struct path *)&file->f_path, d->path, PATH_K);
	if (n <= 0) {
		count(2);
		return 0;
	}
	d->path_len = n - 1;
	d->path2_len = 0;
	d->op = 0;
	__u32 flags = 0;
	if ((file->f_mode & FMODE_WRITE_VAL) || (file->f_flags & (O_CREAT_VAL | O_TRUNC_VAL)))
		flags |= F_WRITE;
	if (is_tainted(bpf_get_current_task_btf()))
		flags |= F_TAINT;
	struct match_ctx mc;
	match_path(&mc, d->path, pol->set);
	__u32 hit = mc.mask[C_BLOCKED_FILES] & pol->need[C_BLOCKED_FILES];
	__u32 ctl = C_BLOCKED_FILES;
	if (!hit && (flags & F_WRITE)) {
		hit = mc.mask[C_READ_ONLY] & pol->need[C_READ_ONLY];
		ctl = C_READ_ONLY;
	}
	if (!hit)
		return 0;
	d->flags = flags;
	fill(d, K_OPEN, ctl, hit, pidns, vpid);
	return deny(d);
}

// The path of `dentry` under `dir` (or of `dir`'s own dentry when `dentry` is NULL), as the
// process sees it: components are walked up to the process's root, crossing mount points, at
// most DEPTH_K of them. Both walks run under bpf_loop so the verifier checks one step each.
// aya 0.14 does not apply CO-RE relocations inside bpf_loop callbacks, so the field offsets are
// taken (relocated) in the caller and the callbacks read through them.
struct offsets {
	__u32 mnt_root;       // vfsmount.mnt_root
	__u32 mnt_parent;     // mount.mnt_parent
	__u32 mnt_mountpoint; // mount.mnt_mountpoint
	__u32 mnt;            // mount.mnt
	__u32 d_parent;       // dentry.d_parent
	__u32 d_name;         // dentry.d_name.name
};

static __always_inline void *rd_ptr(void *base, __u32 off)
{
	void *p = NULL;
	bpf_probe_read_kernel(&p, sizeof(p), (char *)base + off);
	return p;
}

struct walk_ctx {
	struct dentry *de;
	struct vfsmount *vm;
	struct mount *mnt;
	struct dentry *root_d;
	struct vfsmount *root_m;
	__u64 *comps;
	struct offsets o;
	__u32 depth;
	__u32 fail;
};

static long walk_step(__u32 i, void *ctx)
{
	struct walk_ctx *w = ctx;
	if (w->de == w->root_d && w->vm == w->root_m)
		return 1;
	struct dentry *mroot = rd_ptr(w->vm, w->o.mnt_root);
	if (w->de == mroot) {
		struct mount *parent = rd_ptr(w->mnt, w->o.mnt_parent);
		if (parent == w->mnt)
			return 1; // the mount tree's top, outside the process's root
		w->de = rd_ptr(w->mnt, w->o.mnt_mountpoint);
		w->mnt = parent;
		w->vm = (struct vfsmount *)((char *)parent + w->o.mnt);
		return 0;
	}
	if (w->depth >= DEPTH_K) {
		w->fail = 1;
		return 1;
	}
	w->comps[w->depth & (DEPTH_K - 1)] = (__u64)w->de;
	w->depth++;
	struct dentry *up = rd_ptr(w->de, w->o.d_parent);
	if (up == w->de)
		return 1;
	w->de = up;
	return 0;
}

struct emit_ctx {
	char *out;
	__u64 *comps;
	__u32 d_name;
	__u32 depth;
	__u32 off;
	__u32 fail;
};

static long emit_step(__u32 i, void *ctx)
{
	struct emit_ctx *e = ctx;
	if (i >= e->depth)
		return 1;
	// Root-first: the last component collected is the top one.
	__u32 k = e->depth - 1 - i;
	struct dentry *c = (struct dentry *)e->comps[k & (DEPTH_K - 1)];
	if (e->off >= PATH_K - NAME_K - 1) {
		e->fail = 1;
		return 1;
	}
	e->out[bounded(e->off)] = '/';
	e->off++;
	long n = bpf_probe_read_kernel_str(&e->out[bounded(e->off)], NAME_K, rd_ptr(c, e->d_name));
	if (n <= 1) {
		e->fail = 1;
		return 1;
	}
	e->off += n - 1;
	return 0;
}

// Writes a NUL-terminated path to `out` (PATH_K bytes) and returns its length, or -1.
static __always_inline int path_of(struct scratch *s, const struct path *dir, struct dentry *dentry, char *out)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct walk_ctx w = {};
	w.root_d = BPF_CORE_READ(t, fs, root.dentry);
	w.root_m = BPF_CORE_READ(t, fs, root.mnt);
	w.vm = BPF_CORE_READ(dir, mnt);
	w.mnt = container_of(w.vm, struct mount, mnt);
	w.de = dentry ? dentry : BPF_CORE_READ(dir, dentry);
	w.comps = s->comps;
	w.o.mnt_root = bpf_core_field_offset(struct vfsmount, mnt_root);
	w.o.mnt_parent = bpf_core_field_offset(struct mount, mnt_parent);
	w.o.mnt_mountpoint = bpf_core_field_offset(struct mount, mnt_mountpoint);
	w.o.mnt = bpf_core_field_offset(struct mount, mnt);
	w.o.d_parent = bpf_core_field_offset(struct dentry, d_parent);
	w.o.d_name = bpf_core_field_offset(struct dentry, d_name.name);
	bpf_loop(DEPTH_K + 8, walk_step, &w, 0);
	if (w.fail)
		return -1;
	struct emit_ctx e = {};
	e.out = out;
	e.comps = s->comps;
	e.d_name = w.o.d_name;
	e.depth = w.depth;
	bpf_loop(DEPTH_K, emit_step, &e, 0);
	if (e.fail)
		return -1;
	if (e.off == 0) {
		out[0] = '/';
		e.off = 1;
	}
	if (e.off >= PATH_K)
		return -1;
	out[bounded(e.off)] = 0;
	return e.off;
}

// Read-only paths and blocked files also refuse changes that open() never sees.
static __always_inline int check_modify(const struct path *dir, struct dentry *dentry, __u32 op,
					const struct path *dir2, struct dentry *dentry2)
{
	__u64 pidns = 0;
	__u32 vpid = 0;
	struct container_policy *pol = policy_of_current(&pidns, &vpid);
	if (!pol || !(pol->need[C_BLOCKED_FILES] | pol->need[C_READ_ONLY]))
		return 0;
	count(3);
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct denial *d = &s->d;
	int n = path_of(s, dir, dentry, d->path);
	if (n < 0) {
		count(2);
		return 0;
	}
	d->path_len = n;
	d->path2_len = 0;
	struct match_ctx mc;
	match_path(&mc, d->path, pol->set);
	__u32 mask_bf = mc.mask[C_BLOCKED_FILES];
	__u32 mask_ro = mc.mask[C_READ_ONLY];
	if (dir2) {
		int n2 = path_of(s, dir2, dentry2, d->path2);
		if (n2 >= 0) {
			d->path2_len = n2;
			match_path(&mc, d->path2, pol->set);
			mask_bf |= mc.mask[C_BLOCKED_FILES];
			mask_ro |= mc.mask[C_READ_ONLY];
		}
	}
	__u32 hit = mask_bf & pol->need[C_BLOCKED_FILES];
	__u32 ctl = C_BLOCKED_FILES;
	if (!hit) {
		hit = mask_ro & pol->need[C_READ_ONLY];
		ctl = C_READ_ONLY;
	}
	if (!hit)
		return 0;
	d->op = op;
	d->flags = F_WRITE | (is_tainted(bpf_get_current_task_btf()) ? F_TAINT : 0);
	fill(d, K_MODIFY, ctl, hit, pidns, vpid);
	return deny(d);
}

SEC("lsm/path_unlink")
int BPF_PROG(lsm_path_unlink, const struct path *dir, struct dentry *dentry)
{
	return check_modify(dir, dentry, OP_UNLINK, NULL, NULL);
}

SEC("lsm/path_rmdir")
int BPF_PROG(lsm_path_rmdir, const struct path *dir, struct dentry *dentry)
{
	return check_modify(dir, dentry, OP_RMDIR, NULL, NULL);
}

SEC("lsm/path_mkdir")
int BPF_PROG(lsm_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode)
{
	return check_modify(dir, dentry, OP_MKDIR, NULL, NULL);
}

SEC("lsm/path_mknod")
int BPF_PROG(lsm_path_mknod, const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev)
{
	return check_modify(dir, dentry, OP_CREATE, NULL, NULL);
}

SEC("lsm/path_symlink")
int BPF_PROG(lsm_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name)
{
	return check_modify(dir, dentry, OP_SYMLINK, NULL, NULL);
}

SEC("lsm/path_link")
int BPF_PROG(lsm_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry)
{
	return check_modify(new_dir, new_dentry, OP_LINK, NULL, NULL);
}

SEC("lsm/path_rename")
int BPF_PROG(lsm_path_rename, const struct path *old_dir, struct dentry *old_dentry,
	     const struct path *new_dir, struct dentry *new_dentry)
{
	return check_modify(old_dir, old_dentry, OP_RENAME, new_dir, new_dentry);
}

SEC("lsm/path_chmod")
int BPF_PROG(lsm_path_chmod, const struct path *path, umode_t mode)
{
	return check_modify(path, NULL, OP_CHMOD, NULL, NULL);
}

SEC("lsm/path_truncate")
int BPF_PROG(lsm_path_truncate, const struct path *path)
{
	return check_modify(path, NULL, OP_TRUNCATE, NULL, NULL);
}
