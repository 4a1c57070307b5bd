//! The raw syscalls of the exec guard, each behind a safe function. Every `unsafe` block of the
//! fanotify module is here.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_NONBLOCK |
/// O_LARGEFILE | O_CLOEXEC)`. `O_NONBLOCK` matters for open events: the kernel opens each
/// event's file for us, and a FIFO opened for reading without it would wait for a writer.
#[allow(unsafe_code)]
pub(crate) fn fanotify_init() -> io::Result<OwnedFd> {
    let flags = libc::FAN_CLASS_CONTENT | libc::FAN_CLOEXEC | libc::FAN_NONBLOCK;
    let event_f_flags =
        (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_LARGEFILE | libc::O_CLOEXEC) as libc::c_uint;
    // SAFETY: plain syscall with integer arguments; the result is checked before use.
    let fd = unsafe { libc::fanotify_init(flags, event_f_flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fanotify_mark(group, flags, mask, AT_FDCWD, path)`.
#[allow(unsafe_code)]
pub(crate) fn fanotify_mark(
    group: BorrowedFd<'_>,
    flags: libc::c_uint,
    mask: u64,
    path: &Path,
) -> io::Result<()> {
    let c = cstring(path)?;
    // SAFETY: `group` is a live fanotify descriptor, `c` a NUL-terminated string that outlives
    // the call.
    let rc =
        unsafe { libc::fanotify_mark(group.as_raw_fd(), flags, mask, libc::AT_FDCWD, c.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`: wakes the reader thread at shutdown.
#[allow(unsafe_code)]
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; the result is checked before use.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds 1 to an eventfd counter.
pub(crate) fn eventfd_signal(fd: BorrowedFd<'_>) -> io::Result<()> {
    write_all_once(fd, &1u64.to_ne_bytes())
}

/// Waits until `a` or `b` is readable, or `timeout_ms` passes. Returns (a readable, b readable).
#[allow(unsafe_code)]
pub(crate) fn poll2(
    a: BorrowedFd<'_>,
    b: BorrowedFd<'_>,
    timeout_ms: i32,
) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: a.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: `fds` is a valid array of 2 pollfd that outlives the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0;
    Ok((ready(&fds[0]), ready(&fds[1])))
}

/// One `read(2)` into `buf`; `Ok(0)` also stands for `EAGAIN` (nothing to read).
#[allow(unsafe_code)]
pub(crate) fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// One `write(2)` of all of `bytes` (fanotify responses and eventfd counters are written whole
/// or not at all).
#[allow(unsafe_code)]
pub(crate) fn write_all_once(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes for the duration of the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != bytes.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

/// Takes ownership of a descriptor the kernel handed over in a fanotify event.
#[allow(unsafe_code)]
pub(crate) fn own_event_fd(fd: RawFd) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: the kernel installed `fd` in our table for this event only; the event parser hands
    // each fd out once, so there is exactly one owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// What `statx(2)` tells about a file: device, inode, link count and mount id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    /// The mount id (the unique 64-bit one where the kernel has it, 6.8+), if reported.
    pub mnt_id: Option<u64>,
}

const STATX_MNT_ID_UNIQUE: libc::c_uint = 0x4000;

/// `statx(fd, "", AT_EMPTY_PATH, ...)`: works on `O_PATH` descriptors too and opens nothing.
#[allow(unsafe_code)]
pub(crate) fn statx_fd(fd: BorrowedFd<'_>) -> io::Result<FileId> {
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    let mask = libc::STATX_INO | libc::STATX_NLINK | libc::STATX_MNT_ID | STATX_MNT_ID_UNIQUE;
    // SAFETY: `stx` is valid for writes of a full `struct statx`; the path is an empty
    // NUL-terminated string, used with AT_EMPTY_PATH on a live descriptor.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            mask,
            stx.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statx succeeded and the struct was zero-initialised before, so every field holds a
    // value.
    let stx = unsafe { stx.assume_init() };
    let has_mnt = stx.stx_mask & (libc::STATX_MNT_ID | STATX_MNT_ID_UNIQUE) != 0;
    Ok(FileId {
        dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
        ino: stx.stx_ino,
        nlink: u64::from(stx.stx_nlink),
        mnt_id: has_mnt.then_some(stx.stx_mnt_id),
    })
}

/// `open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)`: a handle on a mount point that opens nothing
/// for reading (and so never raises a permission event).
pub(crate) fn open_path_dir(path: &Path) -> io::Result<OwnedFd> {
    open_flags(path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
}

/// `open(path, O_PATH | O_CLOEXEC)`: any file or directory, opened for nothing.
pub(crate) fn open_path(path: &Path) -> io::Result<OwnedFd> {
    open_flags(path, libc::O_PATH | libc::O_CLOEXEC)
}

#[allow(unsafe_code)]
fn open_flags(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: `c` is NUL-terminated and outlives the call; the result is checked.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat2(root, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT)`: resolves `rel` as if
/// `root` were `/`, so a container's symlinks cannot point the lookup at the host.
pub(crate) fn open_path_dir_in_root(root: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    let c = cstring(rel)?;
    crate::sys::openat2(
        root.as_raw_fd(),
        &c,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        crate::sys::resolve::IN_ROOT,
    )
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path {} has a NUL byte", path.display()),
        )
    })
}
