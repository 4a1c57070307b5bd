//! From an image source to a package inventory: open, walk every layer into the squashed view,
//! catalog, detect the OS, attribute packages to layers.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use mamori_catalog::{golang, CatalogPackage, FileKind, PkgKind};
use mamori_core::Package;
use mamori_secrets::SecretMatch;
use serde::Serialize;

use crate::blobs::{BlobStore, DirStore, TarStore};
use crate::error::{LayerError, OpenError, ScanError};
use crate::fsview::{FileData, FsView, Node};
use crate::glob::Glob;
use crate::layer::{walk_layer, Entry, EntryKind, Event, Limits};
use crate::oci::{self, ImageConfig, OpenedImage};
use crate::os::{self, OsInfo, OS_FILES};
use crate::progress::{ProgressReader, ProgressSink};
use crate::registry::{RegistryOptions, RegistryStore};
use crate::source::{Platform, SourceRef};

/// Options of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Platform to pick from a multi-platform index.
    pub platform: Platform,
    /// Bounds against hostile images.
    pub limits: Limits,
    /// Files not to catalog (glob patterns).
    pub skip_files: Vec<Glob>,
    /// Directories not to catalog (glob patterns).
    pub skip_dirs: Vec<Glob>,
    /// How to reach registries.
    pub registry: RegistryOptions,
    /// Look for secrets in regular text files of every layer, of at most
    /// [`SECRET_MAX_FILE_BYTES`] (and at most `limits.max_file_bytes`), except `skip_files` /
    /// `skip_dirs`; files with NUL bytes are taken as binary and skipped.
    pub secrets: bool,
    /// Where to report the progress of layer reads (nothing is reported when absent).
    pub progress: Option<ProgressSink>,
}

/// Largest file whose content is searched for secrets.
pub const SECRET_MAX_FILE_BYTES: u64 = 1 << 20;
/// Most secrets kept per image (the rest are counted in a warning).
pub const MAX_SECRETS: usize = 1000;

/// A secret in a file of one of the image's layers.
#[derive(Debug, Clone, Serialize)]
pub struct FoundSecret {
    /// Path in the image.
    pub path: String,
    /// Digest (or name) of the layer that wrote the file.
    pub layer: Option<String>,
    /// What was found, where in the file, redacted.
    #[serde(flatten)]
    pub secret: SecretMatch,
    /// The file was deleted or replaced by a later layer: it is not in the squashed view, but
    /// its content remains in `layer` and can be extracted from the image.
    pub hidden: bool,
}

/// One layer of the scanned image.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    /// Blob digest, else diff id, else a name.
    pub digest: String,
    /// Diff id (digest of the uncompressed tar), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// The build step that made the layer, from the config history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Tar entries.
    pub entries: u64,
    /// Uncompressed bytes.
    pub bytes: u64,
}

/// One package of the inventory.
#[derive(Debug, Clone, Serialize)]
pub struct FoundPackage {
    /// The shared package record (ecosystem, release, purl, layer, path).
    #[serde(flatten)]
    pub package: Package,
    /// The cataloger that found it.
    pub kind: PkgKind,
    /// Declared licenses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
}

/// A file with special permission bits in the final view.
#[derive(Debug, Clone, Serialize)]
pub struct SpecialFile {
    /// Path.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// Index of the layer that wrote it.
    pub layer: usize,
}

/// What a scan found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inventory {
    /// The source as given.
    pub source: String,
    /// Tags named by the source.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Manifest digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// Config digest (image id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The image configuration (absent for `dir:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ImageConfig>,
    /// The operating system, if detected.
    pub os: Option<OsInfo>,
    /// Layers, bottom first.
    pub layers: Vec<LayerInfo>,
    /// Packages, in path then name order.
    pub packages: Vec<FoundPackage>,
    /// Files with setuid, setgid or world-writable bits (not directories, not symlinks).
    pub special_files: Vec<SpecialFile>,
    /// Files in the squashed view.
    pub files: usize,
    /// Secrets in the image's files (only when [`ScanOptions::secrets`] is set), including files
    /// that a later layer deletes or replaces (marked `hidden`), in layer then path order.
    pub secrets: Vec<FoundSecret>,
    /// Files whose content was searched for secrets (in every layer, including files later
    /// replaced or deleted); 0 when secret scanning was off.
    pub secret_files_scanned: u64,
    /// Things the scanner saw but did not read (e.g. an rpm database).
    pub notices: Vec<String>,
    /// Suspicious input that was skipped or changed.
    pub warnings: Vec<String>,
}

/// Most warnings kept (the rest are counted).
const MAX_WARNINGS: usize = 200;
/// Largest OS release file kept.
const MAX_OS_FILE: u64 = 64 * 1024;

type PkgKey = (PkgKind, Option<String>, String, String);

fn key(p: &CatalogPackage) -> PkgKey {
    (
        p.kind,
        p.namespace.clone(),
        p.name.clone(),
        p.version.clone(),
    )
}

struct Collector<'a> {
    opts: &'a ScanOptions,
    view: FsView,
    layer: usize,
    layer_name: String,
    per_layer: Vec<HashSet<PkgKey>>,
    warnings: Vec<String>,
    dropped_warnings: usize,
    secret_files_scanned: u64,
    /// (path, layer index, match) of every secret read, in reading order.
    secrets: Vec<(String, usize, SecretMatch)>,
    dropped_secrets: usize,
    /// Reused buffer for executables read into memory.
    binary_buf: Vec<u8>,
}

/// Largest executable buffer kept for reuse between files.
const BINARY_BUF_KEEP: usize = 16 << 20;

impl<'a> Collector<'a> {
    fn new(opts: &'a ScanOptions) -> Self {
        Collector {
            opts,
            view: FsView::default(),
            layer: 0,
            layer_name: String::new(),
            per_layer: Vec::new(),
            warnings: Vec::new(),
            dropped_warnings: 0,
            secret_files_scanned: 0,
            secrets: Vec::new(),
            dropped_secrets: 0,
            binary_buf: Vec::new(),
        }
    }

    fn begin_layer(&mut self, index: usize, name: &str) {
        self.layer = index;
        self.layer_name = name.to_string();
        self.per_layer.push(HashSet::new());
    }

    fn warn(&mut self, w: String) {
        tracing::warn!("{w}");
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.dropped_warnings += 1;
        }
    }

    fn skipped(&self, path: &str) -> bool {
        self.opts.skip_files.iter().any(|g| g.matches(path))
            || self.opts.skip_dirs.iter().any(|g| g.matches_dir_of(path))
    }

    fn event(&mut self, ev: Event, content: &mut dyn Read) -> io::Result<()> {
        match ev {
            Event::Warning(w) => self.warn(w),
            Event::Whiteout(p) => self.view.whiteout(&p, self.layer),
            Event::Opaque(d) => self.view.opaque(&d, self.layer),
            Event::Entry(e) => self.entry(e, content)?,
        }
        Ok(())
    }

    fn entry(&mut self, e: Entry, content: &mut dyn Read) -> io::Result<()> {
        let mut data = None;
        let mut secrets = Vec::new();
        match &e.kind {
            EntryKind::File if !self.skipped(&e.path) => {
                (data, secrets) = self.read_file(&e, content)?;
            }
            EntryKind::Hardlink(target)
                if mamori_catalog::classify(&e.path, e.mode).is_some()
                    || OS_FILES.contains(&e.path.as_str()) =>
            {
                data = self.view.get(target).and_then(|n| n.data.clone());
                if let Some(FileData::Packages { packages, .. }) = data.as_deref() {
                    if let Some(set) = self.per_layer.last_mut() {
                        set.extend(packages.iter().map(key));
                    }
                }
            }
            _ => {}
        }
        let node = Node {
            layer: self.layer,
            kind: e.kind,
            mode: e.mode,
            size: e.size,
            data,
        };
        for m in secrets {
            if self.secrets.len() < MAX_SECRETS {
                self.secrets.push((e.path.clone(), self.layer, m));
            } else {
                self.dropped_secrets += 1;
            }
        }
        self.view.insert(e.path, node);
        Ok(())
    }

    /// The largest file searched for secrets, 0 when secret scanning is off.
    fn secret_cap(&self) -> u64 {
        if self.opts.secrets {
            SECRET_MAX_FILE_BYTES.min(self.opts.limits.max_file_bytes)
        } else {
            0
        }
    }

    /// Searches a text-like buffer for secrets (nothing for binaries). Literal-password
    /// assignments count only in configuration-like files (see [`is_config_like`]); in source
    /// code `password = self.password` is not a secret, tokens are.
    fn secrets_in(&mut self, path: &str, buf: &[u8]) -> Vec<SecretMatch> {
        if buf.contains(&0) {
            return Vec::new();
        }
        self.secret_files_scanned += 1;
        let mut found = mamori_secrets::scan_text(&String::from_utf8_lossy(buf));
        if !is_config_like(path) {
            found.retain(|m| m.kind != mamori_secrets::SecretKind::Password);
        }
        found
    }

    fn read_file(
        &mut self,
        e: &Entry,
        content: &mut dyn Read,
    ) -> io::Result<(Option<Rc<FileData>>, Vec<SecretMatch>)> {
        let none = || Ok((None, Vec::new()));
        let only = |d: FileData| Ok((Some(Rc::new(d)), Vec::new()));
        if OS_FILES.contains(&e.path.as_str()) {
            let mut buf = Vec::new();
            content.take(MAX_OS_FILE).read_to_end(&mut buf)?;
            return only(FileData::Text(buf));
        }
        let cap = self.secret_cap();
        let kind = mamori_catalog::classify(&e.path, e.mode);
        let want_secrets =
            e.size > 0 && e.size <= cap && matches!(kind, None | Some(FileKind::Executable));
        let mut head = Vec::new();
        if want_secrets {
            head.reserve(usize::try_from(e.size).unwrap_or(0));
            content.take(e.size).read_to_end(&mut head)?;
            let found = self.secrets_in(&e.path, &head);
            if kind.is_none() || !head.contains(&0) {
                // A text file (script) is not a Go binary.
                return Ok((None, found));
            }
        }
        let Some(kind) = kind else {
            return none();
        };
        let result = match kind {
            FileKind::RpmDb => return only(FileData::RpmDb),
            FileKind::Executable => {
                if e.size < 1024 {
                    return none();
                }
                if want_secrets {
                    mamori_catalog::binary::scan(&e.path, &head)
                } else if e.size <= self.opts.limits.max_binary_bytes {
                    // ELF section and program headers need random access: an ELF file is
                    // held in memory (one at a time); anything else is rejected after 4 bytes.
                    let mut magic = [0u8; 4];
                    if content.read_exact(&mut magic).is_err() || &magic != b"\x7fELF" {
                        return none();
                    }
                    let mut bin = std::mem::take(&mut self.binary_buf);
                    bin.clear();
                    bin.extend_from_slice(&magic);
                    content.take(e.size - 4).read_to_end(&mut bin)?;
                    let found = mamori_catalog::binary::scan(&e.path, &bin);
                    if bin.capacity() <= BINARY_BUF_KEEP {
                        self.binary_buf = bin;
                    }
                    found
                } else {
                    match golang::scan_reader(&e.path, content, self.opts.limits.max_file_bytes) {
                        Ok(golang::GoBinary::Info(info)) => Ok(info.packages()),
                        Ok(golang::GoBinary::LegacyFormat) => return only(FileData::GoLegacy),
                        Ok(golang::GoBinary::NotGo) => return only(FileData::LargeBinary),
                        Err(mamori_catalog::CatalogError::Io { source, .. }) => return Err(source),
                        Err(other) => Err(other),
                    }
                }
            }
            _ => {
                if e.size > self.opts.limits.max_file_bytes {
                    self.warn(format!(
                        "layer {}: {}: {} bytes, over the per-file limit of {}; not cataloged",
                        self.layer_name, e.path, e.size, self.opts.limits.max_file_bytes
                    ));
                    return none();
                }
                let mut buf =
                    Vec::with_capacity(usize::try_from(e.size).unwrap_or(0).min(16 << 20));
                content.take(e.size).read_to_end(&mut buf)?;
                mamori_catalog::catalog(kind, &e.path, &buf)
            }
        };
        match result {
            Ok(packages) if packages.is_empty() => none(),
            Ok(packages) => {
                if let Some(set) = self.per_layer.last_mut() {
                    set.extend(packages.iter().map(key));
                }
                only(FileData::Packages { kind, packages })
            }
            Err(err) => {
                self.warn(format!("layer {}: {err}", self.layer_name));
                none()
            }
        }
    }
}

/// Whether a file is configuration rather than code, by name: `.env` files, `*.conf`, `*.ini`,
/// `*.yaml`, `*.json`, `*.properties`, credential files (`.netrc`, `.pgpass`, `.npmrc`, …) and
/// extension-less files under `etc/`.
pub fn is_config_like(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        return true;
    }
    const NAMES: [&str; 8] = [
        ".netrc",
        ".pgpass",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        "credentials",
        ".dockercfg",
        ".my.cnf",
    ];
    if NAMES.contains(&name.as_str()) {
        return true;
    }
    match name.rsplit_once('.') {
        Some((_, ext)) => matches!(
            ext,
            "conf"
                | "cfg"
                | "cnf"
                | "ini"
                | "properties"
                | "yaml"
                | "yml"
                | "toml"
                | "json"
                | "xml"
                | "config"
                | "env"
        ),
        None => path.starts_with("etc/"),
    }
}

/// Scans an image: opens it, reads every layer, and returns its inventory.
pub fn scan(source: &SourceRef, opts: &ScanOptions) -> Result<Inventory, ScanError> {
    match source {
        SourceRef::OciDir { dir, tag } => {
            let store = DirStore { root: dir.clone() };
            let img = oci::open_layout(&store, tag.as_deref(), &opts.platform)?;
            scan_opened(source, &store, img, opts)
        }
        SourceRef::OciArchive { file, tag } => {
            let store = TarStore::index(file)?;
            let img = oci::open_layout(&store, tag.as_deref(), &opts.platform)?;
            scan_opened(source, &store, img, opts)
        }
        SourceRef::DockerArchive { file } => {
            let store = TarStore::index(file)?;
            if !store.contains("manifest.json") {
                return Err(OpenError::Archive {
                    path: file.clone(),
                    reason: "no manifest.json: not a docker-archive (for an OCI layout tar use oci-archive:)".into(),
                }
                .into());
            }
            let img = oci::open_docker_archive(&store)?;
            scan_opened(source, &store, img, opts)
        }
        SourceRef::Dir { root } => scan_dir(source, root, opts),
        SourceRef::Registry(r) => {
            let store = RegistryStore::new(r, &opts.registry);
            let reference = r
                .digest
                .clone()
                .or_else(|| r.effective_tag().map(str::to_string))
                .unwrap_or_else(|| "latest".to_string());
            let img = oci::open_registry(&store, &reference, &opts.platform, vec![r.to_string()])?;
            scan_opened(source, &store, img, opts)
        }
    }
}

fn scan_opened(
    source: &SourceRef,
    store: &dyn BlobStore,
    img: OpenedImage,
    opts: &ScanOptions,
) -> Result<Inventory, ScanError> {
    if img.layers.len() > opts.limits.max_layers {
        return Err(OpenError::Unsupported(format!(
            "{} layers, more than the limit of {}",
            img.layers.len(),
            opts.limits.max_layers
        ))
        .into());
    }
    let mut c = Collector::new(opts);
    let mut layers = Vec::new();
    let created_by: Vec<Option<String>> = img
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .map(|h| h.created_by.clone())
        .collect();
    for (i, l) in img.layers.iter().enumerate() {
        let name = l.id();
        tracing::info!("reading layer {}/{} {name}", i + 1, img.layers.len());
        c.begin_layer(i, &name);
        let raw = store.open(&l.member)?;
        let walked = match &opts.progress {
            Some(ProgressSink(p)) => {
                p.layer_started(i, img.layers.len(), &name, l.size);
                let raw = ProgressReader {
                    inner: raw,
                    progress: p.as_ref(),
                };
                let walked = walk_layer(
                    raw,
                    &name,
                    l.blob_digest.as_ref(),
                    l.diff_id.as_ref(),
                    &opts.limits,
                    |ev, r| c.event(ev, r),
                );
                p.layer_finished();
                walked
            }
            None => walk_layer(
                raw,
                &name,
                l.blob_digest.as_ref(),
                l.diff_id.as_ref(),
                &opts.limits,
                |ev, r| c.event(ev, r),
            ),
        };
        let stats = walked?;
        if l.blob_digest.is_some() && l.size > 0 && stats.stored_bytes != l.size {
            // The digest matched, so the content is the one named; the descriptor is wrong.
            c.warn(format!(
                "layer {name}: the manifest declares {} bytes, the blob has {}",
                l.size, stats.stored_bytes
            ));
        }
        layers.push(LayerInfo {
            digest: name,
            diff_id: img.config.rootfs.diff_ids.get(i).cloned(),
            created_by: created_by.get(i).cloned().flatten(),
            entries: stats.entries,
            bytes: stats.bytes,
        });
    }
    Ok(finish(c, source, layers, Some(img)))
}

fn finish(
    c: Collector<'_>,
    source: &SourceRef,
    layers: Vec<LayerInfo>,
    img: Option<OpenedImage>,
) -> Inventory {
    let os = os::detect(&c.view);
    let distro = os.as_ref().map(OsInfo::distro);
    let mut packages = Vec::new();
    let mut special_files = Vec::new();
    let mut notices = Vec::new();
    let mut read = c.secrets.clone();
    read.sort_by(|a, b| (a.1, &a.0, a.2.line, a.2.column).cmp(&(b.1, &b.0, b.2.line, b.2.column)));
    let secrets: Vec<FoundSecret> = read
        .into_iter()
        .map(|(path, layer, secret)| FoundSecret {
            hidden: c.view.get(&path).is_none_or(|n| n.layer != layer),
            layer: layers.get(layer).map(|l| l.digest.clone()),
            path,
            secret,
        })
        .collect();
    let dropped_secrets = c.dropped_secrets;
    let mut large_binaries = 0usize;
    for (path, node) in c.view.iter() {
        if node.kind == EntryKind::File && (node.mode & 0o6000 != 0 || node.mode & 0o002 != 0) {
            special_files.push(SpecialFile {
                path: path.clone(),
                mode: node.mode,
                layer: node.layer,
            });
        }
        match node.data.as_deref() {
            Some(FileData::Packages { packages: pkgs, .. }) => {
                for p in pkgs {
                    let k = key(p);
                    let first = c
                        .per_layer
                        .iter()
                        .position(|s| s.contains(&k))
                        .unwrap_or(node.layer);
                    let mut package = p.to_package(distro.as_ref());
                    package.layer = layers.get(first).map(|l| l.digest.clone());
                    package.path = Some(path.clone());
                    packages.push(FoundPackage {
                        package,
                        kind: p.kind,
                        licenses: p.licenses.clone(),
                    });
                }
            }
            Some(FileData::RpmDb) => notices.push(format!(
                "rpm database {path} (BerkeleyDB/NDB) found but not read: only rpmdb.sqlite is read"
            )),
            Some(FileData::GoLegacy) => notices.push(format!(
                "{path}: Go binary built before Go 1.18, over the in-memory limit for executables; \
its build information is not read"
            )),
            Some(FileData::LargeBinary) => large_binaries += 1,
            _ => {}
        }
    }
    if large_binaries > 0 {
        notices.push(format!(
            "{large_binaries} executable(s) over {} bytes were searched only for Go 1.18+ build \
information (not for older Go build information or cargo-auditable data)",
            c.opts.limits.max_binary_bytes
        ));
    }
    let mut warnings = c.warnings;
    if dropped_secrets > 0 {
        warnings.push(format!(
            "{dropped_secrets} more secrets not listed (limit {MAX_SECRETS})"
        ));
    }
    if c.dropped_warnings > 0 {
        warnings.push(format!("{} more warnings not shown", c.dropped_warnings));
    }
    let (tags, manifest_digest, image_id, config) = match img {
        Some(i) => (i.tags, i.manifest_digest, i.config_digest, Some(i.config)),
        None => (Vec::new(), None, None, None),
    };
    Inventory {
        source: source.to_string(),
        tags,
        manifest_digest,
        image_id,
        config,
        os,
        layers,
        packages,
        special_files,
        files: c.view.len(),
        secrets,
        secret_files_scanned: c.secret_files_scanned,
        notices,
        warnings,
    }
}

/// Scans a plain root file system as one layer. Symlinks are recorded, never followed.
fn scan_dir(source: &SourceRef, root: &Path, opts: &ScanOptions) -> Result<Inventory, ScanError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(root).map_err(|source| OpenError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(OpenError::Unsupported(format!("{}: not a directory", root.display())).into());
    }
    let name = format!("dir:{}", root.display());
    let mut c = Collector::new(opts);
    c.begin_layer(0, &name);
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut entries = 0u64;
    let mut bytes = 0u64;
    while let Some((dir, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                c.warn(format!("{}: cannot list: {e}", dir.display()));
                continue;
            }
        };
        for item in rd {
            let Ok(item) = item else { continue };
            entries += 1;
            if entries > opts.limits.max_layer_entries {
                return Err(LayerError::TooManyEntries {
                    layer: name,
                    limit: opts.limits.max_layer_entries,
                }
                .into());
            }
            let fname = item.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                fname
            } else {
                format!("{rel}/{fname}")
            };
            let Ok(md) = std::fs::symlink_metadata(item.path()) else {
                continue;
            };
            let ft = md.file_type();
            let mode = md.permissions().mode() & 0o7777;
            let kind = if ft.is_symlink() {
                let t = std::fs::read_link(item.path())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                EntryKind::Symlink(t)
            } else if ft.is_dir() {
                stack.push((item.path(), path.clone()));
                EntryKind::Dir
            } else if ft.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            let entry = Entry {
                path,
                kind,
                mode,
                size: md.len(),
            };
            if entry.kind == EntryKind::File && needs_content(&entry, &c) {
                bytes += md.len();
                match std::fs::File::open(item.path()) {
                    Ok(mut f) => {
                        c.event(Event::Entry(entry), &mut f)
                            .map_err(|source| OpenError::Io {
                                path: item.path(),
                                source,
                            })?
                    }
                    Err(e) => c.warn(format!("{}: cannot read: {e}", item.path().display())),
                }
            } else {
                c.event(Event::Entry(entry), &mut io::empty())
                    .map_err(|source| OpenError::Io {
                        path: item.path(),
                        source,
                    })?;
            }
        }
    }
    let layers = vec![LayerInfo {
        digest: name,
        diff_id: None,
        created_by: None,
        entries,
        bytes,
    }];
    Ok(finish(c, source, layers, None))
}

fn needs_content(e: &Entry, c: &Collector<'_>) -> bool {
    OS_FILES.contains(&e.path.as_str())
        || mamori_catalog::classify(&e.path, e.mode).is_some()
        || (e.size > 0 && e.size <= c.secret_cap())
}

/// Keeps only operating-system packages (for `--list-all-pkgs`-less summaries and tests).
pub fn os_packages(inv: &Inventory) -> impl Iterator<Item = &FoundPackage> {
    inv.packages.iter().filter(|p| p.kind.is_os())
}
