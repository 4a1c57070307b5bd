//! The squashed file system of an image: layers applied in order, whiteouts and opaque
//! directories honoured, each path attributed to the layer that last wrote it, symlinks resolved
//! inside the image root only.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use mamori_catalog::{CatalogPackage, FileKind};

use crate::layer::EntryKind;

/// Most symlinks followed while resolving one path.
pub const MAX_SYMLINK_HOPS: usize = 40;

/// What the reader kept of a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileData {
    /// Packages a cataloger found in the file.
    Packages {
        /// The cataloger.
        kind: FileKind,
        /// Its packages.
        packages: Vec<CatalogPackage>,
    },
    /// The bytes of a small text file needed for OS detection.
    Text(Vec<u8>),
    /// An rpm database that is not read.
    RpmDb,
    /// A Go binary in the pre-1.18 build-info format, too large to be held in memory.
    GoLegacy,
    /// An executable over the in-memory limit, searched only for Go 1.18+ build information
    /// (cargo-auditable data and older Go build information need the whole file).
    LargeBinary,
}

/// One path of the squashed view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Index of the layer that wrote it (0 = bottom).
    pub layer: usize,
    /// Kind.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Size.
    pub size: u64,
    /// Kept content, if any.
    pub data: Option<Rc<FileData>>,
}

/// The squashed view.
#[derive(Debug, Default)]
pub struct FsView {
    nodes: BTreeMap<String, Node>,
}

/// Why a path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: more than {MAX_SYMLINK_HOPS} symlinks (a loop?)")]
pub struct SymlinkLoop {
    /// The path being resolved.
    pub path: String,
}

fn subtree_bounds(dir: &str) -> (String, String) {
    // Every key under `dir/` sorts between `dir/` and `dir0` ('0' follows '/').
    (format!("{dir}/"), format!("{dir}0"))
}

impl FsView {
    /// Number of paths.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All paths and nodes, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    /// The node at exactly `path` (no symlink resolution).
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    fn remove_subtree(&mut self, dir: &str, below_layer: usize) {
        let keys: Vec<String> = if dir.is_empty() {
            self.nodes.keys().cloned().collect()
        } else {
            let (lo, hi) = subtree_bounds(dir);
            self.nodes.range(lo..hi).map(|(k, _)| k.clone()).collect()
        };
        for k in keys {
            if self.nodes.get(&k).is_some_and(|n| n.layer < below_layer) {
                self.nodes.remove(&k);
            }
        }
    }

    /// Applies `.wh.NAME`: removes `path` and its subtree written by lower layers.
    pub fn whiteout(&mut self, path: &str, layer: usize) {
        if self.nodes.get(path).is_some_and(|n| n.layer < layer) {
            self.nodes.remove(path);
        }
        self.remove_subtree(path, layer);
    }

    /// Applies `.wh..wh..opq`: hides everything under `dir` from lower layers.
    pub fn opaque(&mut self, dir: &str, layer: usize) {
        self.remove_subtree(dir, layer);
    }

    /// Adds or replaces a path. A non-directory replacing a lower directory hides its subtree.
    pub fn insert(&mut self, path: String, node: Node) {
        if node.kind != EntryKind::Dir {
            self.remove_subtree(&path, node.layer);
        }
        self.nodes.insert(path, node);
    }

    /// Resolves symlinks in `path` (in every component) inside the image root: absolute
    /// targets start at the image root and `..` stops at it, so no link leaves the image.
    pub fn resolve(&self, path: &str) -> Result<String, SymlinkLoop> {
        let mut todo: VecDeque<String> = path.split('/').map(str::to_string).collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop_front() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => cur.push(c),
            }
            let joined = cur.join("/");
            if let Some(Node {
                kind: EntryKind::Symlink(target),
                ..
            }) = self.nodes.get(&joined)
            {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(SymlinkLoop {
                        path: path.to_string(),
                    });
                }
                cur.pop();
                if target.starts_with('/') {
                    cur.clear();
                }
                for part in target.split('/').rev() {
                    todo.push_front(part.to_string());
                }
            }
        }
        Ok(cur.join("/"))
    }

    /// The kept text of `path` after resolving symlinks and hard links.
    pub fn text(&self, path: &str) -> Option<&[u8]> {
        let real = self.resolve(path).ok()?;
        let mut node = self.nodes.get(&real)?;
        if let EntryKind::Hardlink(t) = &node.kind {
            node = self.nodes.get(t)?;
        }
        match node.data.as_deref() {
            Some(FileData::Text(b)) => Some(b),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(layer: usize, kind: EntryKind) -> Node {
        Node {
            layer,
            kind,
            mode: 0o644,
            size: 0,
            data: None,
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs_only_hide_lower_layers() {
        let mut v = FsView::default();
        for p in ["a", "a/x", "a/y", "b", "b/z", "ab"] {
            v.insert(
                p.into(),
                node(
                    0,
                    if p.contains('/') || p == "ab" {
                        EntryKind::File
                    } else {
                        EntryKind::Dir
                    },
                ),
            );
        }
        v.insert("b/new".into(), node(1, EntryKind::File));
        v.opaque("b", 1);
        v.whiteout("a", 1);
        let paths: Vec<_> = v.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(paths, ["ab", "b", "b/new"]);
    }

    #[test]
    fn file_replacing_directory_hides_subtree() {
        let mut v = FsView::default();
        v.insert("d".into(), node(0, EntryKind::Dir));
        v.insert("d/f".into(), node(0, EntryKind::File));
        v.insert("d".into(), node(1, EntryKind::File));
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let mut v = FsView::default();
        v.insert(
            "etc/os-release".into(),
            node(0, EntryKind::Symlink("../usr/lib/os-release".into())),
        );
        v.insert("lib".into(), node(0, EntryKind::Symlink("usr/lib".into())));
        v.insert(
            "escape".into(),
            node(0, EntryKind::Symlink("../../../../etc/shadow".into())),
        );
        v.insert(
            "abs".into(),
            node(0, EntryKind::Symlink("/etc/os-release".into())),
        );
        v.insert("loop1".into(), node(0, EntryKind::Symlink("loop2".into())));
        v.insert(
            "loop2".into(),
            node(0, EntryKind::Symlink("loop1/x".into())),
        );
        assert_eq!(
            v.resolve("etc/os-release").as_deref(),
            Ok("usr/lib/os-release")
        );
        assert_eq!(v.resolve("lib/apk/db").as_deref(), Ok("usr/lib/apk/db"));
        assert_eq!(v.resolve("escape").as_deref(), Ok("etc/shadow"));
        assert_eq!(v.resolve("abs").as_deref(), Ok("usr/lib/os-release"));
        assert!(v.resolve("loop1").is_err());
    }
}
