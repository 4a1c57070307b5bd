//! The guard's mount marks: adding and removing them, and telling which mark an event came
//! through.
//!
//! Each marked mount is remembered by its mount id (`statx` `STATX_MNT_ID`, the unique 64-bit id
//! on 6.8+ kernels), which is also what `statx` reports for the event fd, since the kernel opens
//! the event's file on the very mount that was marked. Kernels without mount ids in `statx`
//! (before 5.8) fall back to the device number. Several ids may mark the same mount (the kernel
//! keeps one mark per mount and group), so mounts are reference-counted and the kernel mark is
//! only removed with the last id.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::sys;
use super::{GuardError, MarkId};

/// What to mark, kept so that it can be found again for removal.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The mount a path in our own mount namespace is on.
    Path(PathBuf),
    /// A container's root (`dest: None`) or a mount point inside it.
    InContainer { pid: u32, dest: Option<PathBuf> },
}

impl Target {
    fn display(&self) -> PathBuf {
        match self {
            Target::Path(p) => p.clone(),
            Target::InContainer { pid, dest: None } => PathBuf::from(format!("/proc/{pid}/root")),
            Target::InContainer { pid, dest: Some(d) } => {
                Path::new(&format!("/proc/{pid}/root")).join(d.strip_prefix("/").unwrap_or(d))
            }
        }
    }

    /// An `O_PATH` handle on the target (opens nothing for reading).
    fn open(&self) -> Result<OwnedFd, GuardError> {
        let mark_err = |source: io::Error| GuardError::Mark {
            path: self.display(),
            source,
        };
        match self {
            Target::Path(p) => sys::open_path(p).map_err(mark_err),
            Target::InContainer { pid, dest } => {
                let root = sys::open_path_dir(Path::new(&format!("/proc/{pid}/root"))).map_err(
                    |e| match e.raw_os_error() {
                        Some(libc::ENOENT) | Some(libc::ESRCH) => {
                            GuardError::NoSuchProcess { pid: *pid }
                        }
                        _ => mark_err(e),
                    },
                )?;
                match dest {
                    None => Ok(root),
                    Some(d) => sys::open_path_dir_in_root(root.as_fd(), d).map_err(mark_err),
                }
            }
        }
    }
}

/// How a marked mount is recognised in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Mount(u64),
    Dev(u64),
}

fn key_of(id: &sys::FileId) -> Key {
    id.mnt_id.map_or(Key::Dev(id.dev), Key::Mount)
}

#[derive(Debug)]
struct Marked {
    target: Target,
    key: Key,
}

#[derive(Debug)]
struct MountRef {
    count: usize,
    /// The most recent id that marked this mount: the one events are attributed to.
    latest: MarkId,
    dev: u64,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    by_id: HashMap<MarkId, Vec<Marked>>,
    mounts: HashMap<Key, MountRef>,
}

/// The guard's marks.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    inner: Mutex<Inner>,
}

const ADD: libc::c_uint = libc::FAN_MARK_ADD | libc::FAN_MARK_MOUNT;
/// The mark mask for exec enforcement.
pub(crate) const EXEC: u64 = libc::FAN_OPEN_EXEC_PERM;
/// The mark mask for exec and open enforcement.
pub(crate) const EXEC_AND_OPEN: u64 = libc::FAN_OPEN_EXEC_PERM | libc::FAN_OPEN_PERM;
const REMOVE: libc::c_uint = libc::FAN_MARK_REMOVE | libc::FAN_MARK_MOUNT;

fn proc_fd_path(fd: &OwnedFd) -> PathBuf {
    // fanotify_mark refuses O_PATH descriptors as `dirfd` with a NULL path, but accepts the
    // magic link, which resolves to exactly the (mount, dentry) the fd holds.
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

impl Marks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks every target; on failure, the ones already marked by this call are removed again.
    pub(crate) fn add(
        &self,
        group: BorrowedFd<'_>,
        targets: Vec<Target>,
        mask: u64,
    ) -> Result<MarkId, GuardError> {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = MarkId(inner.next_id);
        let mut done: Vec<Marked> = Vec::new();
        for target in targets {
            match mark_one(group, &target, mask) {
                Ok(fid) => {
                    let key = key_of(&fid);
                    let m = inner.mounts.entry(key).or_insert(MountRef {
                        count: 0,
                        latest: id,
                        dev: fid.dev,
                    });
                    m.count += 1;
                    m.latest = id;
                    done.push(Marked { target, key });
                }
                Err(e) => {
                    for m in done {
                        if let Err(error) = release(&mut inner, group, &m, id) {
                            tracing::warn!(%error, "Could not undo a mark after a failed mark call.");
                        }
                    }
                    return Err(e);
                }
            }
        }
        inner.by_id.insert(id, done);
        Ok(id)
    }

    /// Removes the marks of `id`. Mounts that are gone are skipped silently.
    pub(crate) fn remove(&self, group: BorrowedFd<'_>, id: MarkId) -> Result<(), GuardError> {
        let mut inner = self.lock();
        let marked = inner.by_id.remove(&id).ok_or(GuardError::UnknownMark(id))?;
        let mut first_err = None;
        for m in &marked {
            if let Err(e) = release(&mut inner, group, m, id) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The mark an event with this mount id and device came through.
    pub(crate) fn lookup(&self, mnt_id: Option<u64>, dev: u64) -> MarkId {
        let inner = self.lock();
        if let Some(m) = mnt_id.and_then(|id| inner.mounts.get(&Key::Mount(id))) {
            return m.latest;
        }
        if let Some(m) = inner.mounts.get(&Key::Dev(dev)) {
            return m.latest;
        }
        // Marks keyed by mount id whose mount has this device (e.g. a statx on the event fd that
        // failed to report the mount id): unambiguous only if exactly one matches.
        let mut by_dev = inner.mounts.values().filter(|m| m.dev == dev);
        match (by_dev.next(), by_dev.next()) {
            (Some(m), None) => m.latest,
            _ => MarkId::UNKNOWN,
        }
    }
}

/// Opens, identifies and marks one target.
fn mark_one(group: BorrowedFd<'_>, target: &Target, mask: u64) -> Result<sys::FileId, GuardError> {
    let fd = target.open()?;
    let mark_err = |source: io::Error| GuardError::Mark {
        path: target.display(),
        source,
    };
    let fid = sys::statx_fd(fd.as_fd()).map_err(mark_err)?;
    if let Target::InContainer { pid, dest: None } = target {
        // A process that shares our root mount is not in a container (or shares the host's
        // root): marking it would make every exec on the host wait for the guard.
        let ours = sys::open_path_dir(Path::new("/proc/self/root"))
            .and_then(|own| sys::statx_fd(own.as_fd()))
            .map_err(mark_err)?;
        if key_of(&ours) == key_of(&fid) {
            return Err(GuardError::HostRoot { pid: *pid });
        }
    }
    sys::fanotify_mark(group, ADD, mask, &proc_fd_path(&fd)).map_err(|e| {
        match e.raw_os_error() {
            Some(libc::EPERM) => GuardError::NotPermitted,
            _ => mark_err(e),
        }
    })?;
    Ok(fid)
}

/// Drops one reference to a marked mount, removing the kernel mark with the last one.
fn release(
    inner: &mut Inner,
    group: BorrowedFd<'_>,
    m: &Marked,
    id: MarkId,
) -> Result<(), GuardError> {
    let Some(r) = inner.mounts.get_mut(&m.key) else {
        return Ok(());
    };
    r.count = r.count.saturating_sub(1);
    if r.count > 0 {
        return Ok(());
    }
    inner.mounts.remove(&m.key);
    let unmark_err = |source: io::Error| GuardError::Unmark { id, source };
    let fd = match m.target.open() {
        Ok(fd) => fd,
        // The process or the mount point is gone: so is the mount, and its mark with it.
        Err(GuardError::NoSuchProcess { .. }) => return Ok(()),
        Err(GuardError::Mark { source, .. })
            if matches!(
                source.raw_os_error(),
                Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ESRCH)
            ) =>
        {
            return Ok(())
        }
        Err(GuardError::Mark { source, .. }) => return Err(unmark_err(source)),
        Err(_) => return Ok(()),
    };
    // The path may now lead to another mount (the old one unmounted, the pid reused): only
    // remove the mark if it is still the mount that was marked.
    match sys::statx_fd(fd.as_fd()) {
        Ok(fid) if key_of(&fid) == m.key => {}
        Ok(_) => return Ok(()),
        Err(e) => return Err(unmark_err(e)),
    }
    // Every bit this guard ever sets: a mount shared by two ids keeps the union of their masks
    // until the last one goes.
    match sys::fanotify_mark(group, REMOVE, EXEC_AND_OPEN, &proc_fd_path(&fd)) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(unmark_err(e)),
    }
}
