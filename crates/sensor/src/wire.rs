//! The kernel → userspace event layout of `bpf/sensor.bpf.c`, decoded without `unsafe`.
//!
//! Every record is a fixed header followed by up to three slots at fixed offsets: slot 0 (a
//! path or file name), slot 1 (a second path, the ancestors of an exec, or socket endpoints) and
//! slot 2 (the argv of an exec). The header's `len` gives each slot's used length. A record that
//! is shorter than its lengths say, or of another layout version, is an error, never a panic.

use std::net::IpAddr;

/// Must equal `WIRE_VERSION` in `bpf/sensor.bpf.c`.
pub const WIRE_VERSION: u32 = 2;

/// Size of the fixed header (`struct event_hdr`).
pub const HDR: usize = 176;
/// Size of slots 0 and 1.
pub const SLOT: usize = 256;
/// Offset of slot 0.
pub const OFF0: usize = HDR;
/// Offset of slot 1.
pub const OFF1: usize = HDR + SLOT;
/// Offset of slot 2 (argv).
pub const OFF2: usize = HDR + 2 * SLOT;
/// Number of ancestors an exec event carries at most.
pub const ANCESTORS: usize = 6;
const ANCESTOR_SIZE: usize = 20;
const SOCKINFO_SIZE: usize = 40;

/// Event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A successful execve/execveat (`sched_process_exec`).
    Exec,
    /// A process (thread group leader) exited.
    Exit,
    /// A system call returned (`sys_exit`).
    Syscall,
}

/// Flag bits of the header (see `F_*` in the C source).
pub mod flags {
    /// The task descends from an exec session (runc exec / CRI exec).
    pub const TAINT: u32 = 1 << 0;
    /// The executable is on an overlay upper layer.
    pub const UPPER: u32 = 1 << 1;
    /// The executable is a memfd.
    pub const MEMFD: u32 = 1 << 2;
    /// fd 0 is a socket.
    pub const STDIN_SOCK: u32 = 1 << 3;
    /// fd 1 is a socket.
    pub const STDOUT_SOCK: u32 = 1 << 4;
    /// The sensor killed the task after exec.
    pub const KILLED: u32 = 1 << 5;
    /// The executable is on overlayfs.
    pub const OVERLAY: u32 = 1 << 6;
    /// Slot 1 holds kernel socket endpoints.
    pub const SOCK: u32 = 1 << 7;
    /// Slot 1 holds a raw user `sockaddr` (AF_UNIX).
    pub const UADDR: u32 = 1 << 8;
    /// argv was truncated.
    pub const TRUNC_ARGV: u32 = 1 << 9;
    /// The task has a controlling terminal.
    pub const TTY: u32 = 1 << 10;
    /// The executable has no links left (deleted while open, or `O_TMPFILE`): fileless.
    pub const DELETED: u32 = 1 << 11;
}

/// A record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than the header.
    #[error("event record of {0} bytes is shorter than the {HDR}-byte header")]
    Short(usize),
    /// Another layout version (stale object).
    #[error("event record has layout version {0}, this sensor reads version {WIRE_VERSION}")]
    Version(u32),
    /// Unknown kind.
    #[error("event record has unknown kind {0}")]
    Kind(u32),
    /// A slot runs past the end of the record.
    #[error("event record slot {slot} of {len} bytes runs past the record's {size} bytes")]
    Slot {
        /// Slot index.
        slot: usize,
        /// Declared length.
        len: usize,
        /// Record size.
        size: usize,
    },
}

/// One ancestor of an exec'ing process, from the kernel's parent chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    /// Host pid.
    pub pid: u32,
    /// Task name (comm).
    pub comm: String,
}

/// Socket endpoints read from the kernel (`struct sockinfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockInfo {
    /// Address family (`AF_INET` 2, `AF_INET6` 10, `AF_UNIX` 1).
    pub family: u16,
    /// IP protocol (6 TCP, 17 UDP).
    pub proto: u16,
    /// Local address (None for non-IP families).
    pub local: Option<(IpAddr, u16)>,
    /// Remote address.
    pub remote: Option<(IpAddr, u16)>,
}

/// One decoded kernel event.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    /// Boot-time clock nanoseconds.
    pub ts_boot_ns: u64,
    /// Pid namespace inode.
    pub pidns: u64,
    /// Mount namespace inode.
    pub mntns: u64,
    /// cgroup v2 id.
    pub cgroup_id: u64,
    /// Effective capabilities.
    pub cap_effective: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Syscall return value (exit code for exits).
    pub res: i64,
    /// Syscall arguments; for exec: exe inode, exe device, exe nlink, exe ctime (s).
    pub args: [u64; 6],
    /// Kind.
    pub kind: Kind,
    /// Syscall number (59 for exec).
    pub syscall: u32,
    /// Thread id (host).
    pub tid: u32,
    /// Process id (host).
    pub pid: u32,
    /// Parent process id (host).
    pub ppid: u32,
    /// Process id in its own pid namespace.
    pub vpid: u32,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Login uid (`u32::MAX` = unset).
    pub loginuid: u32,
    /// Controlling terminal (`tty_nr` encoding, 0 = none).
    pub tty: u32,
    /// `flags::*` bits.
    pub flags: u32,
    /// Task name.
    pub comm: String,
    /// Slot 0 as text (path, file name).
    pub str0: String,
    /// Slot 1 as text (second path), when it holds text.
    pub str1: String,
    /// Ancestors (exec only).
    pub ancestors: Vec<Ancestor>,
    /// argv (exec only).
    pub argv: Vec<String>,
    /// Socket endpoints (connect/accept/bind/dup of a socket).
    pub sock: Option<SockInfo>,
    /// AF_UNIX path (connect/bind of a unix socket).
    pub unix_path: Option<String>,
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

/// Text up to the first NUL, lossily decoded.
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn ip(family: u16, b: &[u8]) -> Option<IpAddr> {
    match family {
        2 => Some(IpAddr::from([b[0], b[1], b[2], b[3]])),
        10 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            Some(IpAddr::from(a))
        }
        _ => None,
    }
}

fn sockinfo(b: &[u8]) -> SockInfo {
    let family = u16_at(b, 0);
    let proto = u16_at(b, 2);
    let lport = u16_at(b, 4);
    let rport = u16_at(b, 6);
    SockInfo {
        family,
        proto,
        local: ip(family, &b[8..24]).map(|a| (a, lport)),
        remote: ip(family, &b[24..40]).map(|a| (a, rport)),
    }
}

fn unix_path(b: &[u8]) -> Option<String> {
    // struct sockaddr_un: sa_family (2 bytes) then the path; abstract sockets start with NUL.
    if b.len() < 3 || u16_at(b, 0) != 1 {
        return None;
    }
    let p = &b[2..];
    if p[0] == 0 {
        let rest = cstr(&p[1..]);
        return Some(format!("@{rest}"));
    }
    Some(cstr(p))
}

impl RawEvent {
    /// Decodes one ring-buffer record.
    pub fn decode(b: &[u8]) -> Result<RawEvent, WireError> {
        if b.len() < HDR {
            return Err(WireError::Short(b.len()));
        }
        let version = u32_at(b, 104);
        if version != WIRE_VERSION {
            return Err(WireError::Version(version));
        }
        let kind = match u32_at(b, 108) {
            1 => Kind::Exec,
            2 => Kind::Exit,
            3 => Kind::Syscall,
            k => return Err(WireError::Kind(k)),
        };
        let mut args = [0u64; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = u64_at(b, 56 + 8 * i);
        }
        let flags = u32_at(b, 148);
        let lens = [
            usize::from(u16_at(b, 152)),
            usize::from(u16_at(b, 154)),
            usize::from(u16_at(b, 156)),
        ];
        let slot = |i: usize, off: usize| -> Result<&[u8], WireError> {
            let len = lens[i];
            if len == 0 {
                return Ok(&[]);
            }
            b.get(off..off + len).ok_or(WireError::Slot {
                slot: i,
                len,
                size: b.len(),
            })
        };
        let s0 = slot(0, OFF0)?;
        let s1 = slot(1, OFF1)?;
        let s2 = slot(2, OFF2)?;
        let mut ev = RawEvent {
            ts_boot_ns: u64_at(b, 0),
            pidns: u64_at(b, 8),
            mntns: u64_at(b, 16),
            cgroup_id: u64_at(b, 24),
            cap_effective: u64_at(b, 32),
            cap_permitted: u64_at(b, 40),
            res: u64_at(b, 48) as i64,
            args,
            kind,
            syscall: u32_at(b, 112),
            tid: u32_at(b, 116),
            pid: u32_at(b, 120),
            ppid: u32_at(b, 124),
            vpid: u32_at(b, 128),
            uid: u32_at(b, 132),
            gid: u32_at(b, 136),
            loginuid: u32_at(b, 140),
            tty: u32_at(b, 144),
            flags,
            comm: cstr(&b[160..176]),
            str0: cstr(s0),
            str1: String::new(),
            ancestors: Vec::new(),
            argv: Vec::new(),
            sock: None,
            unix_path: None,
        };
        if kind == Kind::Exec {
            ev.ancestors = s1
                .chunks_exact(ANCESTOR_SIZE)
                .take(ANCESTORS)
                .map(|c| Ancestor {
                    pid: u32_at(c, 0),
                    comm: cstr(&c[4..20]),
                })
                .collect();
            ev.argv = split_argv(s2);
        } else if flags & flags::SOCK != 0 {
            if s1.len() >= SOCKINFO_SIZE {
                ev.sock = Some(sockinfo(s1));
            }
        } else if flags & flags::UADDR != 0 {
            ev.unix_path = unix_path(s1);
        } else {
            ev.str1 = cstr(s1);
        }
        Ok(ev)
    }

    /// Whether a flag bit is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// argv as the kernel keeps it: NUL-terminated strings back to back.
fn split_argv(b: &[u8]) -> Vec<String> {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    if b.is_empty() {
        return Vec::new();
    }
    b.split(|&c| c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u32, flags: u32, s0: &[u8], s1: &[u8], s2: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; OFF2 + s2.len()];
        b[104..108].copy_from_slice(&WIRE_VERSION.to_ne_bytes());
        b[108..112].copy_from_slice(&kind.to_ne_bytes());
        b[120..124].copy_from_slice(&42u32.to_ne_bytes());
        b[148..152].copy_from_slice(&flags.to_ne_bytes());
        b[152..154].copy_from_slice(&(s0.len() as u16).to_ne_bytes());
        b[154..156].copy_from_slice(&(s1.len() as u16).to_ne_bytes());
        b[156..158].copy_from_slice(&(s2.len() as u16).to_ne_bytes());
        b[160..163].copy_from_slice(b"cat");
        b[OFF0..OFF0 + s0.len()].copy_from_slice(s0);
        b[OFF1..OFF1 + s1.len()].copy_from_slice(s1);
        b[OFF2..OFF2 + s2.len()].copy_from_slice(s2);
        b
    }

    #[test]
    fn exec_record_decodes_argv_and_ancestors() {
        let mut anc = vec![0u8; 40];
        anc[0..4].copy_from_slice(&7u32.to_ne_bytes());
        anc[4..6].copy_from_slice(b"sh");
        anc[20..24].copy_from_slice(&1u32.to_ne_bytes());
        anc[24..28].copy_from_slice(b"init");
        let b = record(1, flags::TAINT, b"/bin/cat\0", &anc, b"cat\0/etc/shadow\0");
        let e = RawEvent::decode(&b).unwrap();
        assert_eq!(e.kind, Kind::Exec);
        assert_eq!(e.pid, 42);
        assert_eq!(e.comm, "cat");
        assert_eq!(e.str0, "/bin/cat");
        assert_eq!(e.argv, vec!["cat", "/etc/shadow"]);
        assert_eq!(e.ancestors.len(), 2);
        assert_eq!(e.ancestors[0].comm, "sh");
        assert_eq!(e.ancestors[1].pid, 1);
        assert!(e.has(flags::TAINT));
    }

    #[test]
    fn socket_record_decodes_endpoints() {
        let mut si = vec![0u8; 40];
        si[0..2].copy_from_slice(&2u16.to_ne_bytes());
        si[2..4].copy_from_slice(&6u16.to_ne_bytes());
        si[4..6].copy_from_slice(&40000u16.to_ne_bytes());
        si[6..8].copy_from_slice(&4444u16.to_ne_bytes());
        si[8..12].copy_from_slice(&[10, 0, 0, 2]);
        si[24..28].copy_from_slice(&[1, 2, 3, 4]);
        let b = record(3, flags::SOCK, b"", &si, b"");
        let e = RawEvent::decode(&b[..OFF1 + 40]).unwrap();
        let s = e.sock.unwrap();
        assert_eq!(s.remote, Some(("1.2.3.4".parse().unwrap(), 4444)));
        assert_eq!(s.local, Some(("10.0.0.2".parse().unwrap(), 40000)));
    }

    #[test]
    fn truncated_and_foreign_records_are_errors() {
        assert_eq!(RawEvent::decode(&[0u8; 10]), Err(WireError::Short(10)));
        let mut b = record(1, 0, b"/bin/x\0", b"", b"x\0");
        b[104] = 9;
        assert!(matches!(RawEvent::decode(&b), Err(WireError::Version(_))));
        let b = record(1, 0, b"/bin/x\0", b"", b"abcdef\0");
        assert!(matches!(
            RawEvent::decode(&b[..OFF2 + 2]),
            Err(WireError::Slot { slot: 2, .. })
        ));
        let b = record(7, 0, b"", b"", b"");
        assert_eq!(RawEvent::decode(&b), Err(WireError::Kind(7)));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes() {
        // A cheap exhaustive-ish sweep: every prefix of a valid record and bit flips.
        let b = record(1, 0, b"/bin/cat\0", b"", b"cat\0x\0");
        for n in 0..b.len() {
            let _ = RawEvent::decode(&b[..n]);
        }
        for i in (0..HDR).step_by(3) {
            let mut c = b.clone();
            c[i] ^= 0xff;
            let _ = RawEvent::decode(&c);
        }
    }
}
