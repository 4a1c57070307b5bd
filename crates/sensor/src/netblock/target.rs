//! Finding what the kernel side keys containers by: the cgroup v2 mount, a container's cgroup v2
//! id (the inode of its cgroup directory, what `bpf_get_current_cgroup_id()` returns) and its
//! network namespace cookie (what `bpf_get_netns_cookie()` returns).

use std::io;
use std::path::{Path, PathBuf};

/// The mount point of the cgroup v2 hierarchy in a `/proc/self/mountinfo` text: the first
/// `cgroup2` mount whose root is `/` (`/sys/fs/cgroup` on a pure v2 host,
/// `/sys/fs/cgroup/unified` on a hybrid one).
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // id parent maj:min root mountpoint options [optional fields] - fstype source super
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        let mut f = left.split(' ');
        let root = f.nth(3)?;
        let mount = f.next()?;
        (root == "/").then(|| PathBuf::from(unescape(mount)))
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 path in a `/proc/<pid>/cgroup` text (the `0::<path>` line).
pub fn cgroup2_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim_end)
}

/// Why a container's cgroup could not be used as its key.
#[derive(Debug, thiserror::Error)]
pub enum CgroupKeyError {
    /// `/proc/<pid>/cgroup` could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// No `0::` line: the process is in no cgroup v2 hierarchy.
    #[error("{path} has no cgroup v2 (\"0::\") line")]
    NoV2 {
        /// The file.
        path: PathBuf,
    },
    /// The container sits at the root (or outside our cgroup namespace), so the cgroup does not
    /// tell it apart from the host.
    #[error("the process's cgroup v2 path {0:?} is not a cgroup of its own")]
    NotOwn(String),
    /// The directory under the cgroup2 mount could not be read.
    #[error("cannot stat the cgroup directory {path}")]
    Stat {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// The cgroup v2 id of process `pid` (the inode of its cgroup directory under `mount`).
pub fn cgroup_id(mount: &Path, pid: u32) -> Result<u64, CgroupKeyError> {
    use std::os::unix::fs::MetadataExt;
    let file = PathBuf::from(format!("/proc/{pid}/cgroup"));
    let text = std::fs::read_to_string(&file).map_err(|source| CgroupKeyError::Read {
        path: file.clone(),
        source,
    })?;
    let rel = cgroup2_path(&text).ok_or(CgroupKeyError::NoV2 { path: file })?;
    if rel == "/" || !rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return Err(CgroupKeyError::NotOwn(rel.to_string()));
    }
    let dir = mount.join(rel.trim_start_matches('/'));
    std::fs::metadata(&dir)
        .map(|m| m.ino())
        .map_err(|source| CgroupKeyError::Stat { path: dir, source })
}

/// The cookie of process `pid`'s network namespace: a short-lived thread joins it with
/// `setns(2)`, creates a socket there and reads `SO_NETNS_COOKIE`, then exits (so no thread of
/// ours stays in the container's namespace).
pub fn netns_cookie(pid: u32) -> io::Result<u64> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    std::thread::Builder::new()
        .name("mamori-netns".into())
        .spawn(move || {
            join_netns(&ns)?;
            let sock = std::os::unix::net::UnixDatagram::unbound()?;
            socket_netns_cookie(&sock)
        })?
        .join()
        .map_err(|_| io::Error::other("the netns cookie thread panicked"))?
}

/// The netns cookie of the calling thread's network namespace.
pub fn own_netns_cookie() -> io::Result<u64> {
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    socket_netns_cookie(&sock)
}

#[allow(unsafe_code)]
fn join_netns(ns: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `ns` is an open namespace file that outlives the call; setns only changes the
    // calling thread's network namespace, and this thread exits right after its one socket.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `SO_NETNS_COOKIE` (Linux 5.14; not in every libc crate version).
const SO_NETNS_COOKIE: libc::c_int = 71;

#[allow(unsafe_code)]
fn socket_netns_cookie(sock: &impl std::os::fd::AsRawFd) -> io::Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: the socket is open for the duration of the call; the kernel writes at most `len`
    // (8) bytes into `cookie`, a live u64, and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<u64>() {
        return Err(io::Error::other(format!(
            "SO_NETNS_COOKIE returned {len} bytes"
        )));
    }
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_the_unified_mount_on_a_hybrid_host() {
        assert_eq!(
            cgroup2_mount(HYBRID),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn finds_a_pure_v2_mount_with_optional_fields() {
        let t = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup2_mount(t), Some(PathBuf::from("/sys/fs/cgroup")));
    }

    #[test]
    fn skips_bind_mounts_of_a_subtree_and_unescapes() {
        let t = "\
50 23 0:26 /kubepods /host/cg rw - cgroup2 cgroup2 rw
51 23 0:26 / /mnt/cg\\040v2 rw - cgroup2 cgroup2 rw
";
        assert_eq!(cgroup2_mount(t), Some(PathBuf::from("/mnt/cg v2")));
    }

    #[test]
    fn no_cgroup2_mount_is_none() {
        assert_eq!(cgroup2_mount("garbage\n\n1 2 3\n"), None);
        assert_eq!(cgroup2_mount(""), None);
    }

    #[test]
    fn reads_the_v2_line_of_proc_cgroup() {
        let t = "9:name=systemd:/probe1\n4:memory:/x/probe1\n0::/probe1\n";
        assert_eq!(cgroup2_path(t), Some("/probe1"));
        assert_eq!(cgroup2_path("1:cpu:/\n"), None);
        assert_eq!(cgroup2_path("0::/\n"), Some("/"));
    }

    #[test]
    fn own_cookie_is_stable() {
        let a = own_netns_cookie().unwrap();
        assert_eq!(a, own_netns_cookie().unwrap());
        assert_ne!(a, 0);
    }
}
