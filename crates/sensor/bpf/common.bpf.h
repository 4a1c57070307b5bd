// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only)
// Kernel reads shared by sensor.bpf.c and lsm.bpf.c: the task's pid namespace, a task's open
// file by descriptor, socket and memfd tests on a file, and the overlayfs upper-layer test.
// Everything here is `static __always_inline`, so each program gets its own inlined copy and no
// BPF-to-BPF call; the objects' code is the same as when each file carried its own copy.
//
// build.sh compiles each .bpf.c with -I on this folder, so editing this header changes the
// objects that include it and `build.sh --check` sees it.

#ifndef MAMORI_COMMON_BPF_H
#define MAMORI_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define S_IFMT 00170000
#define S_IFSOCK 0140000

// The pid namespace `t` lives in (its active one, the innermost), and `t`'s pid there in `*vpid`.
static __always_inline struct pid_namespace *task_pidns(struct task_struct *t, __u32 *vpid)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid up;
	bpf_core_read(&up, sizeof(up), &p->numbers[level & 31]);
	*vpid = up.nr;
	return up.ns;
}

// The overlay inode's upper dentry (set when the file is on the upper layer). overlayfs is often
// a module (Debian), so `struct ovl_inode` is not in vmlinux's BTF and a CO-RE relocation against
// it fails to load: use its layout instead, which has been stable since 4.19 — `__upperdentry`
// directly follows the embedded `struct inode vfs_inode` (sized from vmlinux's BTF).
static __always_inline struct dentry *ovl_upper(struct inode *ino)
{
	struct dentry *upper = NULL;
	bpf_probe_read_kernel(&upper, sizeof(upper), (char *)ino + bpf_core_type_size(struct inode));
	return upper;
}

// Whether `f` (may be NULL) is a socket.
static __always_inline int is_sock_file(struct file *f)
{
	if (!f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFSOCK;
}

// The file open as descriptor `fd` in `t`, or NULL.
static __always_inline struct file *task_fd(struct task_struct *t, __u32 fd)
{
	struct files_struct *files = BPF_CORE_READ(t, files);
	if (!files)
		return NULL;
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return NULL;
	struct file **arr = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_core_read(&f, sizeof(f), &arr[fd]);
	return f;
}

// Whether `f` is a memfd: memfd_create names the file's dentry "memfd:<name>".
static __always_inline int is_memfd_file(struct file *f)
{
	char dname[8] = {};
	bpf_probe_read_kernel_str(dname, sizeof(dname), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	return dname[0] == 'm' && dname[1] == 'e' && dname[2] == 'm' && dname[3] == 'f' && dname[4] == 'd' &&
	       dname[5] == ':';
}

#endif // MAMORI_COMMON_BPF_H
