//! Drift: whether an executed file comes from a container's overlay upper layer.
//!
//! A container image is the overlay's lower layers; anything the container writes lands in the
//! upper directory. An executable that exists in the upper directory was therefore created or
//! modified after the container started ("drift"). The check is path based, as measured on this
//! project's machines (`enforcement-on-this-machine.md` §3): inode numbers reported through the
//! overlay are not reliable, because a copied-up file keeps the lower inode number.
//!
//! 1. [`overlay_upperdir_of`] finds the upper directory of a container from the mount at `/` in
//!    `/proc/<init-pid>/mountinfo` ([`parse_mountinfo_upperdir`] is the pure parser);
//! 2. [`layer_of`] looks the container-relative path up in that directory without following any
//!    symbolic link, and says [`Layer::Lower`], [`Layer::UpperNew`] or [`Layer::UpperCopiedUp`]
//!    ([`UpperDir`] keeps the directory open for repeated lookups).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use mamori_sensor::drift::{layer_of, overlay_upperdir_of, Layer};
//! if let Some(upper) = overlay_upperdir_of(4242)? {
//!     let drifted = layer_of(&upper, "/tmp/x")? != Layer::Lower;
//!     println!("drift: {drifted}");
//! }
//! # Ok(())
//! # }
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// Where an executed file comes from, seen from the overlay's upper directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Not in the upper directory: the file is served by a lower (image) layer. A whiteout entry
    /// also reads as `Lower`: a deleted file cannot be executed by path, so the path can only name
    /// the lower file if it is being executed at all.
    Lower,
    /// In the upper directory without the `trusted.overlay.origin` xattr: a file the container
    /// created.
    UpperNew,
    /// In the upper directory with `trusted.overlay.origin`: an image file that was copied up
    /// (touched, chmod-ed or rewritten). Still drift; the label only says where it came from.
    UpperCopiedUp,
}

impl Layer {
    /// Whether the file lives in the upper layer (created or modified in the container).
    pub fn is_upper(self) -> bool {
        !matches!(self, Layer::Lower)
    }
}

/// The overlay upper directory of the root filesystem of the process `init_pid`, read from
/// `/proc/<init_pid>/mountinfo`. `Ok(None)` when its root is not an overlay, or an overlay
/// without an upper directory (read-only).
pub fn overlay_upperdir_of(init_pid: u32) -> io::Result<Option<PathBuf>> {
    let text = std::fs::read_to_string(format!("/proc/{init_pid}/mountinfo"))?;
    Ok(parse_mountinfo_upperdir(&text))
}

/// The `upperdir=` super option of the overlay mounted at `/` in a `mountinfo` text (the last
/// one if several are stacked there, as that is the one visible). `None` when there is none.
///
/// Line format (proc(5)): `id parent maj:min root mountpoint options [optional...] - fstype
/// source superoptions`. The kernel escapes space, tab, newline and backslash in paths as
/// `\ooo` octal, and overlay shows its directory options as given at mount time, with its own
/// backslash escapes (`\,` `\:` `\\`) still in them; both are decoded here.
pub fn parse_mountinfo_upperdir(mountinfo: &str) -> Option<PathBuf> {
    let mut found = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        // At least id, parent, dev, root, mountpoint, options before the separator, and fstype,
        // source, super options after it.
        if sep < 6 || fields.len() < sep + 4 {
            continue;
        }
        if fields[4] != "/" || fields[sep + 1] != "overlay" {
            continue;
        }
        // The super options never contain a raw space (the kernel escapes it), but join the rest
        // anyway so that a malformed line cannot cut the option list short.
        let superopts = fields[sep + 3..].join(" ");
        found = upperdir_option(&superopts);
    }
    found
}

/// The decoded value of `upperdir=` in an overlay super option list.
fn upperdir_option(superopts: &str) -> Option<PathBuf> {
    // The kernel escapes commas inside option values (`\054`), so a raw comma always separates
    // options, also inside a `lowerdir=` list.
    let raw = superopts
        .rsplit(',')
        .find_map(|opt| opt.strip_prefix("upperdir="))?;
    let octal = decode_octal_escapes(raw.as_bytes());
    let plain = remove_backslash_escapes(&octal);
    if plain.is_empty() {
        return None;
    }
    Some(bytes_to_path(plain))
}

/// Decodes the kernel's `\ooo` escapes (three octal digits); anything else is kept as is.
fn decode_octal_escapes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 3 < s.len() && is_octal_triplet(&s[i + 1..i + 4]) {
            let v = (s[i + 1] - b'0') as u16 * 64
                + (s[i + 2] - b'0') as u16 * 8
                + (s[i + 3] - b'0') as u16;
            if v <= 0xff {
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn is_octal_triplet(b: &[u8]) -> bool {
    b.len() == 3 && b.iter().all(|c| (b'0'..=b'7').contains(c))
}

/// Overlay unescapes its directory options before use: a backslash quotes the next byte.
fn remove_backslash_escapes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter();
    while let Some(&c) = it.next() {
        if c == b'\\' {
            if let Some(&next) = it.next() {
                out.push(next);
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(unix)]
fn bytes_to_path(b: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(b))
}

#[cfg(not(unix))]
fn bytes_to_path(b: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&b).into_owned())
}

/// The components of a container path, checked: absolute, no NUL, no `..`; `.` and empty
/// components are dropped. Errors are `InvalidInput` naming the problem.
fn checked_components(container_path: &str) -> io::Result<Vec<&str>> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("container path {container_path:?} {why}"),
        )
    };
    if container_path.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    if !container_path.starts_with('/') {
        return Err(invalid("is not absolute"));
    }
    let mut parts = Vec::new();
    for c in container_path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(invalid("has a `..` component")),
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err(invalid("names the root directory, not a file"));
    }
    Ok(parts)
}

/// Which layer serves `container_path` (an absolute path inside the container, as readlink of the
/// exec event's fd gives it) in an overlay whose upper directory is `upperdir`.
///
/// Opens `upperdir` for the one lookup; a sensor checking many execs of one container keeps an
/// [`UpperDir`] instead (saves one `open` per exec). See [`UpperDir::layer_of`] for the rules.
pub fn layer_of(upperdir: &Path, container_path: &str) -> io::Result<Layer> {
    let parts = checked_components(container_path)?;
    imp::UpperDir::open(upperdir)?.layer_of(&parts.join("/"))
}

/// An open handle (`O_PATH`) on a container's overlay upper directory, for repeated
/// [`UpperDir::layer_of`] lookups.
#[derive(Debug)]
pub struct UpperDir {
    inner: imp::UpperDir,
}

impl UpperDir {
    /// Opens the upper directory (`O_PATH | O_DIRECTORY`; the host path itself may contain
    /// symlinks, it is trusted).
    pub fn open(upperdir: &Path) -> io::Result<UpperDir> {
        Ok(UpperDir {
            inner: imp::UpperDir::open(upperdir)?,
        })
    }

    /// Which layer serves `container_path`.
    ///
    /// The lookup is one `openat2(2)` on the directory's descriptor, with
    /// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV` and
    /// `O_PATH | O_NOFOLLOW`: nothing is opened for reading, no symbolic link is followed (a
    /// symlink in the middle of the path is an error, `ELOOP`; one at the end is classified
    /// itself), and the walk cannot leave the upper directory. Paths that are not absolute,
    /// contain NUL or a `..` component are rejected with `InvalidInput` before any syscall.
    ///
    /// - entry absent (also a missing or non-directory parent) → [`Layer::Lower`];
    /// - whiteout (character device 0:0) → [`Layer::Lower`] (see its doc);
    /// - present with `trusted.overlay.origin` → [`Layer::UpperCopiedUp`], else
    ///   [`Layer::UpperNew`] (the xattr is only read on regular files and directories; other
    ///   types are `UpperNew`).
    pub fn layer_of(&self, container_path: &str) -> io::Result<Layer> {
        let parts = checked_components(container_path)?;
        self.inner.layer_of(&parts.join("/"))
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::Layer;
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    const ORIGIN_XATTR: &[u8] = b"trusted.overlay.origin\0";

    #[allow(unsafe_code)]
    fn open_dir_path(dir: &Path) -> io::Result<OwnedFd> {
        let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "upper directory path has a NUL byte",
            )
        })?;
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// `openat2(dir, rel, O_PATH|O_NOFOLLOW|O_CLOEXEC, beneath, no symlinks, no xdev)`.
    fn open_beneath(dir: &OwnedFd, rel: &str) -> io::Result<OwnedFd> {
        use crate::sys::resolve;
        let c = CString::new(rel)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path has a NUL byte"))?;
        crate::sys::openat2(
            dir.as_raw_fd(),
            &c,
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            resolve::BENEATH | resolve::NO_SYMLINKS | resolve::NO_MAGICLINKS | resolve::NO_XDEV,
        )
    }

    #[allow(unsafe_code)]
    fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstatat with AT_EMPTY_PATH on a valid fd and an empty NUL-terminated path writes
        // a full `struct stat` into `st` on success.
        let rc = unsafe {
            libc::fstatat(
                fd.as_raw_fd(),
                c"".as_ptr(),
                st.as_mut_ptr(),
                libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fstatat succeeded, so `st` is initialised.
        Ok(unsafe { st.assume_init() })
    }

    /// Whether the object behind an `O_PATH` fd has the overlay origin xattr. fgetxattr does not
    /// accept `O_PATH` fds, so this goes through the `/proc/self/fd/N` magic link, which only
    /// resolves to the object the fd already holds (callers never pass a symlink).
    #[allow(unsafe_code)]
    fn has_origin(fd: &OwnedFd) -> io::Result<bool> {
        let p = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|_| io::Error::other("fd path has a NUL byte"))?;
        // SAFETY: both strings are NUL-terminated and outlive the call; a NULL buffer with size 0
        // only asks for the value's size.
        let rc = unsafe {
            libc::getxattr(
                p.as_ptr(),
                ORIGIN_XATTR.as_ptr().cast(),
                std::ptr::null_mut(),
                0,
            )
        };
        if rc >= 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(false),
            _ => Err(e),
        }
    }

    #[derive(Debug)]
    pub(super) struct UpperDir {
        fd: OwnedFd,
        path: PathBuf,
    }

    impl UpperDir {
        pub(super) fn open(upperdir: &Path) -> io::Result<UpperDir> {
            let fd = open_dir_path(upperdir).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("opening the upper directory {}: {e}", upperdir.display()),
                )
            })?;
            Ok(UpperDir {
                fd,
                path: upperdir.to_path_buf(),
            })
        }

        pub(super) fn layer_of(&self, rel: &str) -> io::Result<Layer> {
            layer_at(&self.fd, &self.path, rel)
        }
    }

    fn layer_at(dir: &OwnedFd, upperdir: &Path, rel: &str) -> io::Result<Layer> {
        let fd = match open_beneath(dir, rel) {
            Ok(fd) => fd,
            // Absent, or a parent that is not a directory in upper (a whiteout or a file hides
            // everything below it): the merged view cannot be serving this path from upper.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                return Ok(Layer::Lower)
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("looking up {rel:?} under {}: {e}", upperdir.display()),
                ))
            }
        };
        let st = fstat(&fd)?;
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFCHR && st.st_rdev == 0 {
            return Ok(Layer::Lower);
        }
        if kind != libc::S_IFREG && kind != libc::S_IFDIR {
            return Ok(Layer::UpperNew);
        }
        Ok(if has_origin(&fd)? {
            Layer::UpperCopiedUp
        } else {
            Layer::UpperNew
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::Layer;
    use std::io;
    use std::path::Path;

    #[derive(Debug)]
    pub(super) struct UpperDir;

    impl UpperDir {
        pub(super) fn open(_upperdir: &Path) -> io::Result<UpperDir> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "overlay layer lookup needs Linux",
            ))
        }

        pub(super) fn layer_of(&self, _rel: &str) -> io::Result<Layer> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "overlay layer lookup needs Linux",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTAINERD: &str = "\
1040 985 0:92 / / rw,relatime master:312 - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/27/fs:/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/26/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/31/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/31/work,uuid=on
1041 1040 0:95 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1042 1040 0:96 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
1050 1040 254:0 /var/lib/kubelet/pods/0b1c/volumes/kubernetes.io~empty-dir/cache /cache rw,relatime - ext4 /dev/vda rw
";

    #[test]
    fn containerd_snapshot_upperdir() {
        assert_eq!(
            parse_mountinfo_upperdir(CONTAINERD),
            Some(PathBuf::from(
                "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/31/fs"
            ))
        );
    }

    #[test]
    fn escapes_as_this_kernel_prints_them() {
        // Measured on this machine: `mount -t overlay -o 'upperdir=/t/up per\,x,...'` shows as
        // below (octal for space, backslash and comma; overlay's own `\,` kept).
        let line = r"45 27 0:39 / / rw,relatime - overlay overlay rw,lowerdir=/t/lo\134\054w\0401\134:x:/t/lo2,upperdir=/t/up\040per\134\054x,workdir=/t/wo\040rk,uuid=on";
        assert_eq!(
            parse_mountinfo_upperdir(line),
            Some(PathBuf::from("/t/up per,x"))
        );
    }

    #[test]
    fn only_the_root_mount_counts_and_the_last_stacked_wins() {
        let text = "\
10 1 0:30 / /other rw - overlay overlay rw,lowerdir=/a,upperdir=/wrong,workdir=/w
11 1 0:31 / / rw - overlay overlay rw,lowerdir=/a,upperdir=/first,workdir=/w
12 11 0:32 / / rw - overlay overlay rw,lowerdir=/a,upperdir=/second,workdir=/w
";
        assert_eq!(
            parse_mountinfo_upperdir(text),
            Some(PathBuf::from("/second"))
        );
    }

    #[test]
    fn optional_fields_before_the_separator_are_skipped() {
        let line = "7 1 0:40 / / rw shared:1 master:2 propagate_from:3 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w";
        assert_eq!(parse_mountinfo_upperdir(line), Some(PathBuf::from("/u")));
    }

    #[test]
    fn no_overlay_root_or_read_only_overlay_gives_none() {
        let ext4 = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw";
        assert_eq!(parse_mountinfo_upperdir(ext4), None);
        let ro = "23 1 0:50 / / ro - overlay overlay ro,lowerdir=/a:/b";
        assert_eq!(parse_mountinfo_upperdir(ro), None);
    }

    #[test]
    fn malformed_lines_do_not_panic() {
        for text in [
            "",
            "-",
            "1 2 3 4 / - overlay",
            "1 2 3 4 / 6 - overlay x",
            "1 2 3 4 / 6 - overlay x upperdir=",
            "1 2 3 4 / 6 - overlay x upperdir=\\",
            "1 2 3 4 / 6 - overlay x upperdir=/a\\77",
            "1 2 3 4 / 6 - overlay x upperdir=/a\\777",
            "\\\\\\ - - - - - - -",
        ] {
            let _ = parse_mountinfo_upperdir(text);
        }
        assert_eq!(
            parse_mountinfo_upperdir("1 2 3 4 / 6 - overlay x upperdir=/a\\77"),
            Some(PathBuf::from("/a77"))
        );
        // \777 is above 0xff: not an octal escape, so overlay's backslash rule applies.
        assert_eq!(
            parse_mountinfo_upperdir("1 2 3 4 / 6 - overlay x upperdir=/a\\777"),
            Some(PathBuf::from("/a777"))
        );
    }

    /// Escapes a directory the way it reaches mountinfo: overlay keeps the user's backslash
    /// escapes for `,` `:` `\\`, then the kernel prints space, tab, newline, backslash and comma as
    /// `\ooo`.
    fn as_mountinfo(dir: &str) -> String {
        let mut user = String::new();
        for c in dir.chars() {
            if matches!(c, ',' | ':' | '\\') {
                user.push('\\');
            }
            user.push(c);
        }
        let mut bytes = Vec::new();
        for b in user.bytes() {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\\' | b',') {
                bytes.extend_from_slice(format!("\\{b:03o}").as_bytes());
            } else {
                bytes.push(b);
            }
        }
        String::from_utf8(bytes).expect("escaping keeps UTF-8")
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_without_panicking(text in "(?s).{0,300}") {
            let _ = parse_mountinfo_upperdir(&text);
        }

        #[test]
        fn any_upperdir_round_trips(dir in "/([a-z]|[ ,:=\\\\\t\n-]|[^\\x00]){0,40}") {
            let line = format!(
                "40 1 0:39 / / rw,relatime - overlay overlay rw,lowerdir={l},upperdir={u},workdir={w},uuid=on",
                l = as_mountinfo("/lower,1:x"),
                u = as_mountinfo(&dir),
                w = as_mountinfo("/work dir"),
            );
            proptest::prop_assert_eq!(parse_mountinfo_upperdir(&line), Some(PathBuf::from(&dir)));
        }
    }

    #[test]
    fn hostile_container_paths_are_rejected_before_any_lookup() {
        let up = Path::new("/nonexistent-upper");
        for bad in [
            "/../etc/passwd",
            "relative",
            "/a/../../b",
            "/a\0b",
            "/",
            "//.//",
        ] {
            let err = layer_of(up, bad).expect_err(bad);
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
