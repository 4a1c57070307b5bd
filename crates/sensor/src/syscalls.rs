//! x86-64 system calls the sensor reports: numbers, Falco event names, and Falco's rendering of
//! flag arguments (`O_RDONLY|O_CLOEXEC`, `S_IXUSR`, `PTRACE_ATTACH`).

/// One reported system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syscall {
    /// x86-64 number.
    pub nr: u32,
    /// Falco's event type name (`evt.type`).
    pub name: &'static str,
}

const fn sc(nr: u32, name: &'static str) -> Syscall {
    Syscall { nr, name }
}

/// Every syscall the BPF program knows how to decode (`sys_exit` handler), plus execve (reported
/// from `sched_process_exec`).
pub static SYSCALLS: &[Syscall] = &[
    sc(2, "open"),
    sc(257, "openat"),
    sc(437, "openat2"),
    sc(85, "creat"),
    sc(83, "mkdir"),
    sc(258, "mkdirat"),
    sc(84, "rmdir"),
    sc(87, "unlink"),
    sc(263, "unlinkat"),
    sc(82, "rename"),
    sc(264, "renameat"),
    sc(316, "renameat2"),
    sc(86, "link"),
    sc(265, "linkat"),
    sc(88, "symlink"),
    sc(266, "symlinkat"),
    sc(90, "chmod"),
    sc(91, "fchmod"),
    sc(268, "fchmodat"),
    sc(42, "connect"),
    sc(43, "accept"),
    sc(288, "accept4"),
    sc(49, "bind"),
    sc(50, "listen"),
    sc(32, "dup"),
    sc(33, "dup2"),
    sc(292, "dup3"),
    sc(105, "setuid"),
    sc(106, "setgid"),
    sc(113, "setreuid"),
    sc(114, "setregid"),
    sc(117, "setresuid"),
    sc(119, "setresgid"),
    sc(101, "ptrace"),
    sc(175, "init_module"),
    sc(313, "finit_module"),
    sc(319, "memfd_create"),
    sc(323, "userfaultfd"),
    sc(321, "bpf"),
    sc(41, "socket"),
    sc(272, "unshare"),
    sc(308, "setns"),
    sc(165, "mount"),
    sc(166, "umount2"),
    sc(59, "execve"),
    sc(322, "execveat"),
];

/// The Falco event name of a syscall number.
pub fn name_of(nr: u32) -> Option<&'static str> {
    SYSCALLS.iter().find(|s| s.nr == nr).map(|s| s.name)
}

/// The syscall number of a Falco event name, when the sensor reports it.
pub fn nr_of(name: &str) -> Option<u32> {
    SYSCALLS.iter().find(|s| s.name == name).map(|s| s.nr)
}

fn join_bits(v: u64, table: &[(u64, &str)]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for &(bit, name) in table {
        if bit != 0 && v & bit == bit {
            out.push(name);
        }
    }
    out.join("|")
}

/// `open` flags as Falco renders them (`O_WRONLY|O_CREAT|O_TRUNC`).
pub fn open_flags(flags: u64) -> String {
    let acc = match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = join_bits(
        flags,
        &[
            (0o100, "O_CREAT"),
            (0o200, "O_EXCL"),
            (0o400, "O_NOCTTY"),
            (0o1000, "O_TRUNC"),
            (0o2000, "O_APPEND"),
            (0o4000, "O_NONBLOCK"),
            (0o10000, "O_DSYNC"),
            (0o20000, "O_ASYNC"),
            (0o40000, "O_DIRECT"),
            (0o200000, "O_DIRECTORY"),
            (0o400000, "O_NOFOLLOW"),
            (0o1000000, "O_NOATIME"),
            (0o2000000, "O_CLOEXEC"),
            (0o10000000, "O_PATH"),
        ],
    );
    let tmpfile = if flags & 0o20200000 == 0o20200000 {
        "|O_TMPFILE"
    } else {
        ""
    };
    if rest.is_empty() {
        format!("{acc}{tmpfile}")
    } else {
        format!("{acc}|{rest}{tmpfile}")
    }
}

/// Whether open flags ask for writing (write access, create or truncate).
pub fn open_is_write(flags: u64) -> bool {
    flags & 3 != 0 || flags & 0o100 != 0 || flags & 0o1000 != 0
}

/// Whether open flags ask for reading.
pub fn open_is_read(flags: u64) -> bool {
    flags & 3 == 0 || flags & 3 == 2
}

/// A file mode as Falco renders it (`S_IRUSR|S_IWUSR|S_IXUSR|...`).
pub fn mode_bits(mode: u64) -> String {
    join_bits(
        mode,
        &[
            (0o4000, "S_ISUID"),
            (0o2000, "S_ISGID"),
            (0o1000, "S_ISVTX"),
            (0o400, "S_IRUSR"),
            (0o200, "S_IWUSR"),
            (0o100, "S_IXUSR"),
            (0o40, "S_IRGRP"),
            (0o20, "S_IWGRP"),
            (0o10, "S_IXGRP"),
            (0o4, "S_IROTH"),
            (0o2, "S_IWOTH"),
            (0o1, "S_IXOTH"),
        ],
    )
}

/// A ptrace request name.
pub fn ptrace_request(req: u64) -> String {
    let name = match req {
        0 => "PTRACE_TRACEME",
        1 => "PTRACE_PEEKTEXT",
        2 => "PTRACE_PEEKDATA",
        3 => "PTRACE_PEEKUSR",
        4 => "PTRACE_POKETEXT",
        5 => "PTRACE_POKEDATA",
        6 => "PTRACE_POKEUSR",
        7 => "PTRACE_CONT",
        8 => "PTRACE_KILL",
        9 => "PTRACE_SINGLESTEP",
        12 => "PTRACE_GETREGS",
        13 => "PTRACE_SETREGS",
        16 => "PTRACE_ATTACH",
        17 => "PTRACE_DETACH",
        0x4200 => "PTRACE_SETOPTIONS",
        0x4206 => "PTRACE_SEIZE",
        0x4207 => "PTRACE_INTERRUPT",
        _ => return req.to_string(),
    };
    name.to_string()
}

/// Capability names of a capability set, as Falco renders `thread.cap_*` (`CAP_CHOWN CAP_...`).
pub fn cap_names(set: u64) -> String {
    const NAMES: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| set & (1u64 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_render_like_falco() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert!(open_is_write(0o1101));
        assert!(!open_is_write(0o2000000));
        assert!(open_is_read(2));
    }

    #[test]
    fn names_and_numbers_round_trip() {
        for s in SYSCALLS {
            assert_eq!(nr_of(s.name), Some(s.nr));
            assert_eq!(name_of(s.nr), Some(s.name));
        }
        assert_eq!(
            mode_bits(0o4755),
            "S_ISUID|S_IRUSR|S_IWUSR|S_IXUSR|S_IRGRP|S_IXGRP|S_IROTH|S_IXOTH"
        );
        assert_eq!(ptrace_request(16), "PTRACE_ATTACH");
        assert_eq!(cap_names(1 << 21 | 1), "CAP_CHOWN CAP_SYS_ADMIN");
    }
}
