//! User and group names inside a container: `etc/passwd` and `etc/group` read from the
//! container's root (`/proc/<pid>/root`, or `/` for host processes), cached per root.
//!
//! The files are opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative to the
//! root, so a symlink inside the container (`/etc/passwd -> /some/where`) resolves inside the
//! container and can never reach a host file. Kernels without `openat2` (before 5.6) fall back
//! to opening each component with `O_NOFOLLOW`: there a symlinked `etc` or `passwd` is refused.
//!
//! Each root's files are re-checked at most once per second and re-read when their size,
//! mtime or inode changed. Lines that are not `name:x:uid:gid:gecos:home:shell` (comments,
//! blank, short, non-UTF-8, non-numeric ids, NIS `+`/`-` entries) are skipped.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a root's files are checked for changes at most.
const RECHECK: Duration = Duration::from_secs(1);
/// The largest passwd/group file read; the rest is ignored (a container controls these files).
const MAX_FILE_BYTES: u64 = 8 << 20;

/// One `passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// Login name.
    pub name: Arc<str>,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: Arc<str>,
    /// Login shell.
    pub shell: Arc<str>,
}

/// Size, mtime and inode of a file when it was read, to notice changes.
type Stamp = (u64, i64, i64, u64);

struct Table<T> {
    stamp: Option<Stamp>,
    by_id: HashMap<u32, T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            stamp: None,
            by_id: HashMap::new(),
        }
    }
}

struct RootEntry {
    checked: Instant,
    used: u64,
    users: Table<Arc<UserEntry>>,
    groups: Table<Arc<str>>,
}

/// A bounded cache of user and group names per container root.
pub struct UserDb {
    capacity: usize,
    roots: HashMap<PathBuf, RootEntry>,
    tick: u64,
}

impl UserDb {
    /// A cache holding the files of at most `capacity` roots (least recently used go first).
    pub fn new(capacity: usize) -> Self {
        UserDb {
            capacity: capacity.max(1),
            roots: HashMap::new(),
            tick: 0,
        }
    }

    /// The `passwd` entry of `uid` inside `root`.
    pub fn user(&mut self, root: &Path, uid: u32) -> Option<Arc<UserEntry>> {
        self.entry(root).users.by_id.get(&uid).cloned()
    }

    /// The user name of `uid` inside `root` (`root` is a path such as `/proc/<pid>/root`).
    pub fn user_name(&mut self, root: &Path, uid: u32) -> Option<Arc<str>> {
        self.user(root, uid).map(|u| Arc::clone(&u.name))
    }

    /// The home directory of `uid` inside `root`.
    pub fn home_dir(&mut self, root: &Path, uid: u32) -> Option<Arc<str>> {
        self.user(root, uid).map(|u| Arc::clone(&u.home))
    }

    /// The login shell of `uid` inside `root`.
    pub fn shell(&mut self, root: &Path, uid: u32) -> Option<Arc<str>> {
        self.user(root, uid).map(|u| Arc::clone(&u.shell))
    }

    /// The group name of `gid` inside `root`.
    pub fn group_name(&mut self, root: &Path, gid: u32) -> Option<Arc<str>> {
        self.entry(root).groups.by_id.get(&gid).cloned()
    }

    /// Forgets a root (its container ended).
    pub fn forget(&mut self, root: &Path) {
        self.roots.remove(root);
    }

    /// Number of roots cached.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether no root is cached.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    fn entry(&mut self, root: &Path) -> &mut RootEntry {
        self.tick += 1;
        let tick = self.tick;
        if !self.roots.contains_key(root) {
            if self.roots.len() >= self.capacity {
                let oldest = self
                    .roots
                    .iter()
                    .min_by_key(|(_, e)| e.used)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.roots.remove(&k);
                }
            }
            let mut e = RootEntry {
                checked: Instant::now(),
                used: tick,
                users: Table::default(),
                groups: Table::default(),
            };
            refresh(root, &mut e);
            self.roots.insert(root.to_path_buf(), e);
        }
        let e = self.roots.get_mut(root).expect("inserted above");
        e.used = tick;
        if e.checked.elapsed() >= RECHECK {
            e.checked = Instant::now();
            refresh(root, e);
        }
        e
    }
}

fn refresh(root: &Path, e: &mut RootEntry) {
    reload(root, "passwd", &mut e.users, parse_passwd);
    reload(root, "group", &mut e.groups, parse_group);
}

fn reload<T>(root: &Path, file: &str, table: &mut Table<T>, parse: fn(&[u8]) -> HashMap<u32, T>) {
    let Ok(mut f) = open_in_root(root, file) else {
        table.stamp = None;
        table.by_id.clear();
        return;
    };
    let stamp = f
        .metadata()
        .ok()
        .map(|m| (m.size(), m.mtime(), m.mtime_nsec(), m.ino()));
    if stamp.is_some() && stamp == table.stamp {
        return;
    }
    let mut bytes = Vec::new();
    if (&mut f)
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return;
    }
    table.by_id = parse(&bytes);
    table.stamp = stamp;
}

/// Parses `/etc/passwd` lines into uid → entry (the first line for a uid wins, as getpwuid).
pub fn parse_passwd(bytes: &[u8]) -> HashMap<u32, Arc<UserEntry>> {
    let mut out = HashMap::new();
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0].is_empty() {
            continue;
        }
        let (Ok(uid), Ok(gid)) = (f[2].parse::<u32>(), f[3].parse::<u32>()) else {
            continue;
        };
        out.entry(uid).or_insert_with(|| {
            Arc::new(UserEntry {
                name: Arc::from(f[0]),
                gid,
                home: Arc::from(f[5]),
                shell: Arc::from(f[6]),
            })
        });
    }
    out
}

/// Parses `/etc/group` lines into gid → name (the first line for a gid wins).
pub fn parse_group(bytes: &[u8]) -> HashMap<u32, Arc<str>> {
    let mut out = HashMap::new();
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 3 || f[0].is_empty() {
            continue;
        }
        let Ok(gid) = f[2].parse::<u32>() else {
            continue;
        };
        out.entry(gid).or_insert_with(|| Arc::from(f[0]));
    }
    out
}

/// Opens `etc/<name>` under `root` without leaving it.
#[cfg(target_os = "linux")]
fn open_in_root(root: &Path, name: &str) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)?;
    let rel = std::ffi::CString::new(format!("etc/{name}"))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    match openat2_in_root(dir.as_raw_fd(), &rel) {
        Ok(fd) => Ok(File::from(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => open_nofollow(&dir, name),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_in_root(_root: &Path, _name: &str) -> std::io::Result<File> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "container user lookup needs Linux",
    ))
}

/// `openat2(dirfd, path, O_RDONLY|O_CLOEXEC|O_NOCTTY, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`.
#[cfg(target_os = "linux")]
fn openat2_in_root(
    dirfd: libc::c_int,
    path: &std::ffi::CStr,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use crate::sys::resolve;
    crate::sys::openat2(
        dirfd,
        path,
        libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY,
        resolve::IN_ROOT | resolve::NO_MAGICLINKS,
    )
}

/// Fallback without openat2: `etc` and the file opened with `O_NOFOLLOW`, so a symlink at
/// either step is refused (ELOOP / ENOTDIR) instead of followed.
#[cfg(target_os = "linux")]
fn open_nofollow(root: &File, name: &str) -> std::io::Result<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let at = |dirfd: libc::c_int, p: &str, flags: libc::c_int| -> std::io::Result<File> {
        let c = std::ffi::CString::new(p)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `c` is NUL-terminated and lives across the call; dirfd is an open directory.
        #[allow(unsafe_code)]
        let fd = unsafe {
            libc::openat(
                dirfd,
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        #[allow(unsafe_code)]
        let file = unsafe { File::from_raw_fd(fd) };
        Ok(file)
    };
    let etc = at(root.as_raw_fd(), "etc", libc::O_RDONLY | libc::O_DIRECTORY)?;
    at(etc.as_raw_fd(), name, libc::O_RDONLY | libc::O_NOCTTY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_passwd_robustly() {
        let text = b"# comment\n\nroot:x:0:0:root:/root:/bin/bash\r\n\
app:x:1000:1000::/home/app:/bin/sh\n\
short:x:5\n\
bad:x:notanumber:1:::\n\
+nis::::::\n\
\xff\xfe:x:7:7::/:/bin/sh\n\
dup:x:0:0::/x:/bin/false\n\
:x:9:9::/:/bin/sh\n";
        let users = parse_passwd(text);
        assert_eq!(users.len(), 2, "{users:?}");
        assert_eq!(&*users[&0].name, "root");
        assert_eq!(&*users[&0].shell, "/bin/bash");
        assert_eq!(&*users[&1000].home, "/home/app");
        assert_eq!(users[&1000].gid, 1000);
    }

    #[test]
    fn parses_group_robustly() {
        let groups = parse_group(b"root:x:0:\nwheel:x:10:root,app\nbroken\n#x:x:1:\nnogid:x::\n");
        assert_eq!(groups.len(), 2);
        assert_eq!(&*groups[&10], "wheel");
    }

    fn write_root(dir: &Path, passwd: &str) {
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), passwd).unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
    }

    #[test]
    fn resolves_names_and_rereads_changed_files() {
        let tmp = tempfile::tempdir().unwrap();
        write_root(tmp.path(), "root:x:0:0::/root:/bin/sh\n");
        let mut db = UserDb::new(4);
        assert_eq!(db.user_name(tmp.path(), 0).as_deref(), Some("root"));
        assert_eq!(db.group_name(tmp.path(), 50).as_deref(), Some("staff"));
        assert_eq!(db.user_name(tmp.path(), 1000), None);
        // A change (different size) is picked up after the re-check interval, not before.
        write_root(
            tmp.path(),
            "root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/srv:/sbin/nologin\n",
        );
        assert_eq!(db.user_name(tmp.path(), 1000), None);
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        assert_eq!(db.user_name(tmp.path(), 1000).as_deref(), Some("web"));
        assert_eq!(db.shell(tmp.path(), 1000).as_deref(), Some("/sbin/nologin"));
        assert_eq!(db.home_dir(tmp.path(), 1000).as_deref(), Some("/srv"));
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        // The container's /etc/passwd points at an absolute path; from the host that path is
        // the host's file, inside the root it is the container's own copy.
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/passwd"), "inside:x:0:0::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("/data/passwd", root.join("etc/passwd")).unwrap();
        // The same absolute path on the "host" side holds something else; a `..` escape too.
        let mut db = UserDb::new(4);
        assert_eq!(db.user_name(&root, 0).as_deref(), Some("inside"));

        let root2 = outer.path().join("root2");
        std::fs::create_dir_all(&root2).unwrap();
        std::fs::create_dir_all(outer.path().join("etc")).unwrap();
        std::fs::write(
            outer.path().join("etc/passwd"),
            "hostonly:x:0:0::/:/bin/sh\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("../etc", root2.join("etc")).unwrap();
        assert_eq!(
            db.user_name(&root2, 0),
            None,
            "a `..` symlink must not reach outside the root"
        );
    }

    #[test]
    fn holds_at_most_capacity_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let mut db = UserDb::new(2);
        for i in 0..5 {
            let r = tmp.path().join(i.to_string());
            write_root(&r, &format!("u{i}:x:0:0::/:/bin/sh\n"));
            assert_eq!(
                db.user_name(&r, 0).as_deref(),
                Some(format!("u{i}").as_str())
            );
            assert!(db.len() <= 2);
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_passwd(&bytes);
            let _ = parse_group(&bytes);
        }
    }
}
