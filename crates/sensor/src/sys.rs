//! System calls std does not wrap, in one place: `openat2(2)`, which every path lookup inside a
//! container root or an overlay upper dir goes through so that symlinks cannot lead out of it.

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `openat2` resolve flags (linux/openat2.h).
pub(crate) mod resolve {
    /// Do not cross mount points.
    pub const NO_XDEV: u64 = 0x01;
    /// Do not follow /proc magic links.
    pub const NO_MAGICLINKS: u64 = 0x02;
    /// Do not follow any symlink.
    pub const NO_SYMLINKS: u64 = 0x04;
    /// Refuse to leave the directory.
    pub const BENEATH: u64 = 0x08;
    /// Resolve as if the directory were `/`.
    pub const IN_ROOT: u64 = 0x10;
}

/// `struct open_how`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dir, path, flags, resolve)`: a new descriptor, or the kernel's error (ENOSYS before
/// Linux 5.6, EXDEV/ELOOP when the resolve rules refuse the path).
#[allow(unsafe_code)]
pub(crate) fn openat2(
    dir: RawFd,
    path: &CStr,
    flags: libc::c_int,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: `path` is NUL-terminated and `how` is a valid open_how whose size is passed; both
    // outlive the call, and the kernel only reads them.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::other("descriptor out of range"))?;
    // SAFETY: openat2 just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`.
#[allow(unsafe_code)]
pub(crate) fn inotify_init() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer flags; the result is checked before use.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `inotify_add_watch(fd, path, mask)`: the watch descriptor.
#[allow(unsafe_code)]
pub(crate) fn inotify_add_watch(fd: RawFd, path: &CStr, mask: u32) -> io::Result<i32> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let wd = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), mask) };
    if wd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(wd)
}

/// A non-blocking `read` of an inotify descriptor into `buf` (0 when nothing is queued).
#[allow(unsafe_code)]
pub(crate) fn read_nonblocking(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            return Ok(0);
        }
        return Err(e);
    }
    usize::try_from(n).map_err(|_| io::Error::other("negative read"))
}
