//! Noticing new containers the moment the runtime creates them.
//!
//! `runc create` writes `<root>/<id>/state.json` while the container's init waits, before
//! `runc start` lets the container's own program run (and before any `kubectl exec` can reach it).
//! An inotify watch on each runtime root and on each new container folder tells the agent to scan
//! right then, so enforcement marks are in place before the container runs anything; without it,
//! a container was only seen at its first exec or the next periodic scan.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys;

const ROOT_MASK: u32 = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_DELETE | libc::IN_ONLYDIR;
const DIR_MASK: u32 = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE;

/// Inotify watches on the runtime roots and the container folders inside them.
#[derive(Debug)]
pub struct StateWatch {
    fd: OwnedFd,
    roots: Vec<PathBuf>,
    /// Watch descriptor → (folder, is a root).
    watched: HashMap<i32, (PathBuf, bool)>,
    /// New container folders whose `state.json` has not been seen yet (the runtime may write
    /// it before our watch on the folder exists), with when they appeared.
    pending: Vec<(PathBuf, std::time::Instant)>,
    buf: Vec<u8>,
}

impl StateWatch {
    /// Watches every root that exists now (the others are retried by [`StateWatch::refresh`]).
    pub fn new(roots: &[PathBuf]) -> io::Result<StateWatch> {
        let mut w = StateWatch {
            fd: sys::inotify_init()?,
            roots: roots.to_vec(),
            watched: HashMap::new(),
            pending: Vec::new(),
            buf: vec![0u8; 8192],
        };
        w.refresh();
        Ok(w)
    }

    /// Adds watches for roots that did not exist before (containerd creates its namespace
    /// folders on first use).
    pub fn refresh(&mut self) {
        let missing: Vec<PathBuf> = self
            .roots
            .iter()
            .filter(|r| !self.watched.values().any(|(p, root)| *root && p == *r))
            .cloned()
            .collect();
        for r in missing {
            if r.is_dir() {
                self.add(&r, true);
            }
        }
    }

    fn add(&mut self, path: &Path, root: bool) {
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            return;
        };
        let mask = if root { ROOT_MASK } else { DIR_MASK };
        match sys::inotify_add_watch(self.fd.as_raw_fd(), &c, mask) {
            Ok(wd) => {
                self.watched.insert(wd, (path.to_path_buf(), root));
            }
            Err(error) => {
                tracing::debug!(%error, path = %path.display(), "Cannot watch a runtime state folder.");
            }
        }
    }

    /// Drains the queued notifications without blocking: whether anything changed in a root or
    /// a container folder since the last call.
    pub fn changed(&mut self) -> bool {
        let mut any = self.drain();
        // A state file that appeared without a notification we saw (written before the folder
        // was watched) still counts, once.
        let now = std::time::Instant::now();
        self.pending.retain(|(dir, since)| {
            if dir.join("state.json").is_file() {
                any = true;
                return false;
            }
            now.duration_since(*since) < std::time::Duration::from_secs(2)
        });
        any
    }

    fn drain(&mut self) -> bool {
        let mut any = false;
        loop {
            let n = match sys::read_nonblocking(self.fd.as_raw_fd(), &mut self.buf) {
                Ok(0) => return any,
                Ok(n) => n,
                Err(error) => {
                    tracing::debug!(%error, "Reading runtime state notifications failed.");
                    return any;
                }
            };
            any = true;
            let mut new_dirs = Vec::new();
            for ev in parse(&self.buf[..n]) {
                if ev.mask & libc::IN_IGNORED != 0 {
                    self.watched.remove(&ev.wd);
                    continue;
                }
                if let Some((dir, true)) = self.watched.get(&ev.wd) {
                    if ev.mask & libc::IN_ISDIR != 0
                        && ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0
                        && !ev.name.is_empty()
                    {
                        new_dirs.push(dir.join(&ev.name));
                    }
                }
            }
            for d in new_dirs {
                self.add(&d, false);
                self.pending.push((d, std::time::Instant::now()));
            }
        }
    }
}

/// One `struct inotify_event`.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    name: String,
}

/// Walks a buffer of `struct inotify_event` records (wd i32, mask u32, cookie u32, len u32,
/// name[len], NUL-padded). A truncated record ends the walk.
fn parse(buf: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut off = 0usize;
    let u32_at = |o: usize| -> Option<u32> {
        buf.get(o..o + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    while let (Some(wd), Some(mask), Some(len)) = (u32_at(off), u32_at(off + 4), u32_at(off + 12)) {
        let start = off + 16;
        let Some(end) = usize::try_from(len).ok().and_then(|l| start.checked_add(l)) else {
            break;
        };
        let Some(raw) = buf.get(start..end) else {
            break;
        };
        let name = raw.split(|&b| b == 0).next().unwrap_or_default();
        out.push(Event {
            wd: wd as i32,
            mask,
            name: String::from_utf8_lossy(name).into_owned(),
        });
        off = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(wd: i32, mask: u32, name: &str) -> Vec<u8> {
        let mut n = name.as_bytes().to_vec();
        if !n.is_empty() {
            n.push(0);
            while n.len() % 16 != 0 {
                n.push(0);
            }
        }
        let mut b = Vec::new();
        b.extend_from_slice(&wd.to_ne_bytes());
        b.extend_from_slice(&mask.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&(n.len() as u32).to_ne_bytes());
        b.extend_from_slice(&n);
        b
    }

    #[test]
    fn records_are_walked_and_truncation_stops_the_walk() {
        let mut buf = record(1, libc::IN_CREATE | libc::IN_ISDIR, "abc");
        buf.extend(record(2, libc::IN_MOVED_TO, "state.json"));
        let evs = parse(&buf);
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].name, "abc");
        assert_eq!(evs[1].wd, 2);
        assert_eq!(parse(&buf[..buf.len() - 3]).len(), 1);
        assert!(parse(&[1, 2, 3]).is_empty());
    }

    #[test]
    fn a_new_container_folder_and_its_state_file_are_noticed() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("later");
        let mut w = StateWatch::new(&[root.path().to_path_buf(), missing.clone()]).unwrap();
        assert!(!w.changed());
        std::fs::create_dir(root.path().join("c1")).unwrap();
        assert!(w.changed());
        // The new folder is watched too: the state file written into it is noticed.
        std::fs::write(root.path().join("c1/state.json.tmp"), b"{}").unwrap();
        std::fs::rename(
            root.path().join("c1/state.json.tmp"),
            root.path().join("c1/state.json"),
        )
        .unwrap();
        assert!(w.changed());
        assert!(!w.changed());
        // A root that appears later is picked up by refresh.
        std::fs::create_dir(&missing).unwrap();
        w.refresh();
        std::fs::create_dir(missing.join("c2")).unwrap();
        assert!(w.changed());
    }
}
