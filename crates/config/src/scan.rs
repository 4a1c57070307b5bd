//! Walking paths, reading files within bounds, dispatching to the checks.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use mamori_core::Finding;

use crate::detect::{doc_kind, kind_by_name, DocKind, FileKind};
use crate::node::{Node, Pos};
use crate::suppress::{yaml_suppressions, Suppression};
use crate::{
    cfn, dockerfile, json, k8s, rules, yaml, Diagnostic, DiagnosticLevel, ScanError, ScanReport,
    Settings,
};

/// Directory names never descended into.
const SKIP_DIRS: &[&str] = &[".git", "node_modules", "target", ".terraform", "vendor"];

struct Scan<'s> {
    settings: &'s Settings,
    report: ScanReport,
    k8s: k8s::Facts,
    suppressions: HashMap<String, Vec<Suppression>>,
    raw: Vec<Finding>,
    /// Paths of the Dockerfiles scanned (the `.hadolint.yaml` settings apply to their findings).
    dockerfiles: HashSet<String>,
}

fn error(path: &str, pos: Option<Pos>, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        level: DiagnosticLevel::Error,
        path: path.to_string(),
        pos,
        message: message.into(),
    }
}

impl Scan<'_> {
    fn file(&mut self, path: &Path, explicit: bool) {
        let display = path.display().to_string();
        let mut kind = kind_by_name(path);
        if kind == FileKind::Unknown {
            if !explicit {
                return;
            }
            // A file named on the command line: YAML is the most forgiving guess.
            kind = FileKind::Yaml;
        }
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.report
                    .diagnostics
                    .push(error(&display, None, format!("cannot read: {e}")));
                return;
            }
        };
        if meta.len() > self.settings.limits.max_bytes {
            self.report.diagnostics.push(error(
                &display,
                None,
                format!(
                    "file too large: {} bytes, limit {}",
                    meta.len(),
                    self.settings.limits.max_bytes
                ),
            ));
            return;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.report
                    .diagnostics
                    .push(error(&display, None, format!("cannot read: {e}")));
                return;
            }
        };
        self.bytes(&display, kind, &bytes);
    }

    fn bytes(&mut self, path: &str, kind: FileKind, bytes: &[u8]) {
        if bytes.iter().take(8192).any(|b| *b == 0) {
            self.report
                .diagnostics
                .push(error(path, None, "binary file skipped"));
            return;
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                self.report.diagnostics.push(error(
                    path,
                    None,
                    format!("not valid utf-8 (byte {})", e.valid_up_to()),
                ));
                return;
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match kind {
            FileKind::Dockerfile => {
                self.report.files.dockerfile += 1;
                let (findings, sup) = dockerfile::check(path, text, &self.settings.dockerfile);
                self.dockerfiles.insert(path.to_string());
                self.raw.extend(findings);
                self.suppressions.insert(path.to_string(), sup);
            }
            FileKind::Env => {
                self.report.files.env += 1;
                self.env(path, text);
            }
            FileKind::Yaml | FileKind::Json | FileKind::Unknown => {
                self.structured(path, kind, text)
            }
        }
    }

    fn env(&mut self, path: &str, text: &str) {
        for m in mamori_secrets::scan_text(text) {
            self.raw.push(rules::finding(
                "MK-SEC-001",
                path,
                Pos {
                    line: m.line,
                    col: m.column,
                },
                format!("{} {}", m.kind.describe(), m.redacted),
            ));
        }
    }

    fn structured(&mut self, path: &str, kind: FileKind, text: &str) {
        let limits = &self.settings.limits;
        let mut seen_crd = false;
        let docs: Result<Vec<Node>, _> = if text.trim().is_empty() {
            Ok(Vec::new())
        } else if kind == FileKind::Json {
            json::read_json(text, limits).map(|d| vec![d])
        } else {
            let (text, crds) = yaml::blank_crds(text);
            if crds > 0 {
                seen_crd = true;
            }
            match yaml::read_yaml_lenient(&text, limits) {
                Ok((docs, relaxed)) => {
                    if !relaxed.is_empty() {
                        let lines: Vec<String> = relaxed.iter().map(u32::to_string).collect();
                        self.report.diagnostics.push(Diagnostic {
                            level: DiagnosticLevel::Warning,
                            path: path.to_string(),
                            pos: relaxed.first().map(|l| Pos { line: *l, col: 1 }),
                            message: format!(
                                "flow collection or quoted scalar indented less than YAML 1.2 requires on line(s) {}; read leniently (columns on those lines are off by one)",
                                lines.join(", ")
                            ),
                        });
                    }
                    Ok(docs)
                }
                Err(e) => Err(e),
            }
        };
        let docs = match docs {
            Ok(d) => d,
            Err(e) => {
                self.report
                    .diagnostics
                    .push(error(path, Some(e.pos), e.message));
                return;
            }
        };
        let mut seen = (seen_crd, false);
        for doc in &docs {
            match doc_kind(doc) {
                DocKind::Kubernetes => {
                    seen.0 = true;
                    k8s::check_document(path, doc, &mut self.k8s, &mut self.raw);
                }
                DocKind::CloudFormation => {
                    seen.1 = true;
                    cfn::check_template(path, doc, &mut self.raw, &mut self.report.diagnostics);
                }
                DocKind::Other => {}
            }
        }
        match seen {
            (true, _) => self.report.files.kubernetes += 1,
            (false, true) => self.report.files.cloudformation += 1,
            (false, false) => self.report.files.other += 1,
        }
        if kind != FileKind::Json {
            let sup = yaml_suppressions(text);
            if !sup.is_empty() {
                self.suppressions.insert(path.to_string(), sup);
            }
        }
    }

    fn walk(&mut self, dir: &Path) {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                self.report.diagnostics.push(error(
                    &dir.display().to_string(),
                    None,
                    format!("cannot list directory: {e}"),
                ));
                return;
            }
        };
        entries.sort();
        for p in entries {
            let Ok(ft) = std::fs::symlink_metadata(&p).map(|m| m.file_type()) else {
                continue;
            };
            if ft.is_symlink() {
                continue;
            }
            if ft.is_dir() {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !SKIP_DIRS.contains(&name) {
                    self.walk(&p);
                }
            } else if ft.is_file() {
                self.file(&p, false);
            }
        }
    }

    fn finish(mut self) -> ScanReport {
        self.k8s.finish(&mut self.raw);
        let mut suppressed = 0;
        let hadolint = &self.settings.dockerfile;
        for mut f in self.raw {
            let path = f.location.path.as_deref().unwrap_or("");
            let is_dockerfile = self.dockerfiles.contains(path);
            if is_dockerfile {
                if hadolint.ignored.contains(&f.rule_id) {
                    continue;
                }
                if let Some(s) = hadolint.severity_overrides.get(&f.rule_id) {
                    f.severity = *s;
                }
            }
            let line = f.location.line.unwrap_or(0);
            let hidden = self
                .suppressions
                .get(path)
                .is_some_and(|s| s.iter().any(|s| s.covers(&f.rule_id, line)));
            if hidden {
                suppressed += 1;
                continue;
            }
            if self.settings.keeps(&f) {
                if !is_dockerfile || hadolint.fails(f.severity) {
                    self.report.failing += 1;
                }
                self.report.findings.push(f);
            }
        }
        self.report.suppressed += suppressed;
        self.report.findings.sort_by(|a, b| {
            (
                &a.location.path,
                a.location.line,
                a.location.column,
                &a.rule_id,
            )
                .cmp(&(
                    &b.location.path,
                    b.location.line,
                    b.location.column,
                    &b.rule_id,
                ))
        });
        self.report
    }
}

fn new_scan(settings: &Settings) -> Scan<'_> {
    Scan {
        settings,
        report: ScanReport::default(),
        k8s: k8s::Facts::default(),
        suppressions: HashMap::new(),
        dockerfiles: HashSet::new(),
        raw: Vec::new(),
    }
}

/// Scans files and directories (recursively, skipping symlinks and `.git`/`node_modules`).
///
/// Fails only when a path given does not exist; problems inside files become diagnostics.
pub fn scan_paths(paths: &[PathBuf], settings: &Settings) -> Result<ScanReport, ScanError> {
    let mut scan = new_scan(settings);
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| ScanError::Path {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            scan.walk(p);
        } else {
            scan.file(p, true);
        }
    }
    Ok(scan.finish())
}

/// Scans one in-memory file; `path` decides its kind (unknown names are read as YAML).
pub fn scan_source(path: &str, text: &str, settings: &Settings) -> ScanReport {
    scan_sources(&[(path, text)], settings)
}

/// Scans several in-memory files as one scan (the cross-file checks see all of them).
pub fn scan_sources(files: &[(&str, &str)], settings: &Settings) -> ScanReport {
    let mut scan = new_scan(settings);
    for (path, text) in files {
        let kind = match kind_by_name(Path::new(path)) {
            FileKind::Unknown => FileKind::Yaml,
            k => k,
        };
        scan.bytes(path, kind, text.as_bytes());
    }
    scan.finish()
}
