//! The byte layouts shared with `bpf/lsm.bpf.c`: map keys and values, and the denial record.
//! Kept free of I/O and `unsafe` (native-endian byte arrays) so they are unit-tested here.

/// The record version (`LSM_WIRE_VERSION`).
pub const LSM_WIRE_VERSION: u32 = 1;

/// Control index: `blockContainerExec`.
pub const C_SESSION: u32 = 0;
/// Control index: `driftPrevention`.
pub const C_DRIFT: u32 = 1;
/// Control index: `blockedExecutables`.
pub const C_BLOCKED_EXE: u32 = 2;
/// Control index: `blockedFiles`.
pub const C_BLOCKED_FILES: u32 = 3;
/// Control index: `readOnlyPaths`.
pub const C_READ_ONLY: u32 = 4;
/// Control index: `reverseShell`.
pub const C_REVERSE_SHELL: u32 = 5;
/// Control index: `filelessExec`.
pub const C_FILELESS: u32 = 6;
/// Not a control: the names `reverseShell` counts as shells.
pub const C_SHELL: u32 = 7;
/// Entries of `need` and of a pattern's masks.
pub const NCTL: usize = 8;

/// Record flag: the task descends from an exec session.
pub const F_TAINT: u32 = 1 << 0;
/// Record flag: the executable is on the overlay upper layer.
pub const F_UPPER: u32 = 1 << 1;
/// Record flag: the executable is a memfd.
pub const F_MEMFD: u32 = 1 << 2;
/// Record flag: fd 0 or 1 is a socket.
pub const F_STDIO_SOCK: u32 = 1 << 3;
/// Record flag: the open writes, creates or truncates (always set for changes).
pub const F_WRITE: u32 = 1 << 4;
/// Record flag: the executable's path could not be read.
pub const F_PATH_UNKNOWN: u32 = 1 << 5;
/// Record flag: the executable has no links left (deleted while open, or `O_TMPFILE`).
pub const F_DELETED: u32 = 1 << 7;

/// `containers` value: the set id, then `need`.
pub fn container_value(set: u32, need: &[u32; NCTL]) -> [u8; 36] {
    let mut v = [0u8; 36];
    v[..4].copy_from_slice(&set.to_ne_bytes());
    for (i, n) in need.iter().enumerate() {
        v[4 + 4 * i..8 + 4 * i].copy_from_slice(&n.to_ne_bytes());
    }
    v
}

/// `patterns` key: hash, set, length, match kind, padding.
pub fn pattern_key(hash: u64, set: u32, len: u16, kind: u8) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&hash.to_ne_bytes());
    k[8..12].copy_from_slice(&set.to_ne_bytes());
    k[12..14].copy_from_slice(&len.to_ne_bytes());
    k[14] = kind;
    k
}

/// `patterns` value: per control, the slots.
pub fn pattern_value(mask: &[u32; NCTL]) -> [u8; 32] {
    let mut v = [0u8; 32];
    for (i, m) in mask.iter().enumerate() {
        v[4 * i..4 * i + 4].copy_from_slice(&m.to_ne_bytes());
    }
    v
}

/// `sets` value: one byte per length, 1 where a prefix pattern of that length exists.
pub fn set_value(has_prefix: &[bool; 256]) -> [u8; 256] {
    let mut v = [0u8; 256];
    for (b, on) in v.iter_mut().zip(has_prefix) {
        *b = u8::from(*on);
    }
    v
}

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// An exec (`bprm_check_security`).
    Exec,
    /// An open (`file_open`).
    Open,
    /// A change to a path (`path_*` hooks); the syscall family.
    Modify(&'static str),
}

/// One denial record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Boot-time nanoseconds.
    pub ts: u64,
    /// The task's pid namespace inode (the container's key).
    pub pidns: u64,
    /// cgroup v2 id.
    pub cgid: u64,
    /// What was refused.
    pub kind: DenialKind,
    /// The control index (`C_*`).
    pub control: u32,
    /// The policy slots that refused it.
    pub slots: u32,
    /// `F_*` flags.
    pub flags: u32,
    /// Host pid (thread group).
    pub pid: u32,
    /// Host tid.
    pub tid: u32,
    /// Parent's host pid.
    pub ppid: u32,
    /// Pid in the task's namespace.
    pub vpid: u32,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// The caller's comm (before the exec, for an exec).
    pub comm: String,
    /// The path: the name the exec asked for, the opened file, the changed path.
    pub path: String,
    /// A rename's destination.
    pub path2: Option<String>,
}

/// The record size (`sizeof(struct denial)`).
pub const DENIAL_SIZE: usize = 608;

/// Decoding a denial record failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DenialError {
    /// Shorter than the layout.
    #[error("lsm denial record of {0} bytes is shorter than {DENIAL_SIZE}")]
    Short(usize),
    /// Another version.
    #[error("lsm denial record version {0} (this sensor reads {LSM_WIRE_VERSION})")]
    Version(u32),
    /// Unknown kind or operation.
    #[error("lsm denial record has unknown kind {0} / op {1}")]
    Kind(u32, u32),
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

fn text(b: &[u8], len: usize) -> String {
    let b = &b[..len.min(b.len())];
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl Denial {
    /// Decodes one record.
    pub fn decode(b: &[u8]) -> Result<Denial, DenialError> {
        if b.len() < DENIAL_SIZE {
            return Err(DenialError::Short(b.len()));
        }
        let version = u32_at(b, 24);
        if version != LSM_WIRE_VERSION {
            return Err(DenialError::Version(version));
        }
        let kind = u32_at(b, 28);
        let op = u32_at(b, 40);
        let kind = match (kind, op) {
            (1, _) => DenialKind::Exec,
            (2, _) => DenialKind::Open,
            (3, op) => DenialKind::Modify(match op {
                1 => "unlink",
                2 => "mkdir",
                3 => "rmdir",
                4 => "rename",
                5 => "chmod",
                6 => "creat",
                7 => "truncate",
                8 => "symlink",
                9 => "link",
                _ => return Err(DenialError::Kind(kind, op)),
            }),
            _ => return Err(DenialError::Kind(kind, op)),
        };
        let path_len = usize::from(u16::from_ne_bytes([b[72], b[73]]));
        let path2_len = usize::from(u16::from_ne_bytes([b[74], b[75]]));
        Ok(Denial {
            ts: u64_at(b, 0),
            pidns: u64_at(b, 8),
            cgid: u64_at(b, 16),
            kind,
            control: u32_at(b, 32),
            slots: u32_at(b, 36),
            flags: u32_at(b, 44),
            pid: u32_at(b, 48),
            tid: u32_at(b, 52),
            ppid: u32_at(b, 56),
            vpid: u32_at(b, 60),
            uid: u32_at(b, 64),
            gid: u32_at(b, 68),
            comm: text(&b[80..96], 16),
            path: text(&b[96..352], path_len.min(255)),
            path2: (path2_len > 0).then(|| text(&b[352..608], path2_len.min(255))),
        })
    }

    /// Whether a flag is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_the_layout() {
        let mut b = vec![0u8; DENIAL_SIZE];
        b[8..16].copy_from_slice(&4026532000u64.to_ne_bytes());
        b[24..28].copy_from_slice(&LSM_WIRE_VERSION.to_ne_bytes());
        b[28..32].copy_from_slice(&3u32.to_ne_bytes());
        b[32..36].copy_from_slice(&C_READ_ONLY.to_ne_bytes());
        b[36..40].copy_from_slice(&2u32.to_ne_bytes());
        b[40..44].copy_from_slice(&4u32.to_ne_bytes());
        b[44..48].copy_from_slice(&(F_WRITE | F_TAINT).to_ne_bytes());
        b[48..52].copy_from_slice(&77u32.to_ne_bytes());
        b[72..74].copy_from_slice(&9u16.to_ne_bytes());
        b[74..76].copy_from_slice(&6u16.to_ne_bytes());
        b[80..82].copy_from_slice(b"mv");
        b[96..106].copy_from_slice(b"/etc/hosts");
        b[352..358].copy_from_slice(b"/tmp/x");
        let d = Denial::decode(&b).unwrap();
        assert_eq!(d.kind, DenialKind::Modify("rename"));
        assert_eq!(d.pidns, 4026532000);
        assert_eq!(d.control, C_READ_ONLY);
        assert_eq!(d.slots, 2);
        assert_eq!(d.pid, 77);
        assert_eq!(d.comm, "mv");
        assert_eq!(d.path, "/etc/host");
        assert_eq!(d.path2.as_deref(), Some("/tmp/x"));
        assert!(d.has(F_TAINT) && d.has(F_WRITE) && !d.has(F_UPPER));
    }

    #[test]
    fn bad_records_are_errors() {
        assert_eq!(Denial::decode(&[0u8; 10]), Err(DenialError::Short(10)));
        let b = vec![0u8; DENIAL_SIZE];
        assert_eq!(Denial::decode(&b), Err(DenialError::Version(0)));
        let mut b = vec![0u8; DENIAL_SIZE];
        b[24..28].copy_from_slice(&LSM_WIRE_VERSION.to_ne_bytes());
        b[28..32].copy_from_slice(&9u32.to_ne_bytes());
        assert_eq!(Denial::decode(&b), Err(DenialError::Kind(9, 0)));
    }

    #[test]
    fn map_layouts() {
        let v = container_value(7, &[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&v[..4], &7u32.to_ne_bytes());
        assert_eq!(&v[20..24], &2u32.to_ne_bytes());
        let k = pattern_key(0x0102030405060708, 3, 5, 1);
        assert_eq!(&k[8..12], &3u32.to_ne_bytes());
        assert_eq!(k[14], 1);
        assert_eq!(k[15], 0);
    }
}
