//! The shared third-party corpus (Kubernetes, Dockerfiles, CloudFormation) scans without a
//! failure; finding counts per rule id and every per-file diagnostic are pinned as golden files.

use std::collections::BTreeMap;
use std::fmt::Write;

use mamori_config::{scan_paths, DiagnosticLevel, Settings};

fn summary(sub: &str) -> Option<String> {
    let root = mamori_testkit::shared_data("corpus")?;
    let dir = root.join(sub);
    let report = scan_paths(std::slice::from_ref(&dir), &Settings::default()).expect("corpus scan");
    let prefix = format!("{}/", root.display());
    let mut out = String::new();
    let c = &report.files;
    writeln!(
        out,
        "files: kubernetes={} dockerfile={} cloudformation={} other={}",
        c.kubernetes, c.dockerfile, c.cloudformation, c.other
    )
    .ok()?;
    writeln!(out, "findings: {}", report.findings.len()).ok()?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        *counts.entry(f.rule_id.as_str()).or_default() += 1;
        assert!(f.location.line.is_some(), "finding without a line: {f:?}");
    }
    for (id, n) in counts {
        writeln!(out, "  {id} {n}").ok()?;
    }
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.level == DiagnosticLevel::Error)
        .count();
    writeln!(
        out,
        "diagnostics: {} ({} errors)",
        report.diagnostics.len(),
        errors
    )
    .ok()?;
    for d in &report.diagnostics {
        writeln!(out, "  {}", d.to_string().replace(&prefix, "")).ok()?;
    }
    Some(out)
}

#[test]
fn corpus_kubernetes() {
    if let Some(s) = summary("k8s") {
        insta::assert_snapshot!("corpus_k8s", s);
    }
}

#[test]
fn corpus_dockerfiles() {
    if let Some(s) = summary("dockerfiles") {
        insta::assert_snapshot!("corpus_dockerfiles", s);
    }
}

#[test]
fn corpus_cloudformation() {
    if let Some(s) = summary("cloudformation") {
        insta::assert_snapshot!("corpus_cloudformation", s);
    }
}
