//! hadolint compatibility: with the same `.hadolint.yaml`, mamori reports the same DL rule ids on
//! the same lines as hadolint 2.15.1 did on `tests/data/hadolint/*.Dockerfile` (hadolint's
//! answers were recorded in `expected-hadolint-2.15.1.txt`; hadolint itself is not needed).

use std::collections::BTreeMap;
use std::path::Path;

use mamori_config::{read_hadolint_config, scan_sources, Settings};

fn data() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hadolint"))
}

type Counts = BTreeMap<(String, u32, String), usize>;

/// Where mamori deliberately differs from hadolint 2.15.1, and why.
const KNOWN: &[(&str, u32, &str, &str)] = &[(
    "registries.Dockerfile",
    12,
    "DL3024",
    "stage names are case-insensitive for the builder (`Scratch` duplicates `scratch`); \
     hadolint compares them case-sensitively",
)];

fn expected() -> Counts {
    let text = std::fs::read_to_string(data().join("expected-hadolint-2.15.1.txt")).unwrap();
    let mut out = Counts::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let w: Vec<&str> = line.split_whitespace().collect();
        out.insert(
            (w[0].to_string(), w[1].parse().unwrap(), w[2].to_string()),
            w[3].parse().unwrap(),
        );
    }
    out
}

fn fixtures() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(data())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn settings() -> Settings {
    let text = std::fs::read_to_string(data().join("hadolint.yaml")).unwrap();
    let (dockerfile, warnings) = read_hadolint_config(&text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    Settings {
        dockerfile,
        ..Settings::default()
    }
}

fn mamori(settings: &Settings) -> Counts {
    let files = fixtures();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let report = scan_sources(&refs, settings);
    let mut out = Counts::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.rule_id.starts_with("DL"))
    {
        let key = (
            f.location.path.clone().unwrap(),
            f.location.line.unwrap(),
            f.rule_id.clone(),
        );
        *out.entry(key).or_default() += 1;
    }
    out
}

#[test]
fn same_findings_as_hadolint_with_every_rule_configured() {
    let want = expected();
    let got = mamori(&settings());
    let mut diff = Vec::new();
    for (k, n) in &want {
        if got.get(k) != Some(n) {
            diff.push(format!(
                "hadolint {k:?} x{n}, mamori x{}",
                got.get(k).unwrap_or(&0)
            ));
        }
    }
    for (k, n) in &got {
        let known = KNOWN
            .iter()
            .any(|(f, l, id, _)| k.0 == *f && k.1 == *l && k.2 == *id);
        if !want.contains_key(k) && !known {
            diff.push(format!("mamori only {k:?} x{n}"));
        }
    }
    assert!(diff.is_empty(), "disagreements:\n{}", diff.join("\n"));
    // The fixtures exercise every rule this file is about.
    for id in [
        "DL1001", "DL3010", "DL3026", "DL3034", "DL3035", "DL3036", "DL3037", "DL3048", "DL3049",
        "DL3050", "DL3051", "DL3052", "DL3053", "DL3054", "DL3055", "DL3056", "DL3057", "DL3058",
        "DL3063", "DL3064", "DL3065",
    ] {
        assert!(want.keys().any(|k| k.2 == id), "{id} not exercised");
    }
}

#[test]
fn without_configuration_the_configurable_rules_stay_quiet() {
    let got = mamori(&Settings::default());
    for id in [
        "DL1001", "DL3026", "DL3049", "DL3050", "DL3051", "DL3052", "DL3053", "DL3054", "DL3055",
        "DL3056", "DL3057", "DL3058",
    ] {
        assert!(
            !got.keys().any(|k| k.2 == id),
            "{id} reported without a configuration"
        );
    }
    // The rules hadolint always runs still do.
    for id in ["DL3048", "DL3010", "DL3063", "DL3064", "DL3065", "DL3034"] {
        assert!(got.keys().any(|k| k.2 == id), "{id} missing");
    }
}

#[test]
fn ignored_override_and_pragmas() {
    let mut s = settings();
    s.dockerfile.ignored.insert("DL3049".into());
    s.dockerfile
        .severity_overrides
        .insert("DL3048".into(), mamori_core::Severity::High);
    let files = fixtures();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let report = scan_sources(&refs, &s);
    assert!(!report.findings.iter().any(|f| f.rule_id == "DL3049"));
    let dl3048 = report
        .findings
        .iter()
        .find(|f| f.rule_id == "DL3048")
        .unwrap();
    assert_eq!(dl3048.severity, mamori_core::Severity::High);
    // misc.Dockerfile: `# hadolint ignore=DL3008` hides DL3008 on the next RUN, and the global
    // pragma hides DL3003 everywhere; with disable-ignore-pragma both come back.
    let has = |r: &mamori_config::ScanReport, id: &str| {
        r.findings
            .iter()
            .any(|f| f.rule_id == id && f.location.path.as_deref() == Some("misc.Dockerfile"))
    };
    assert!(!has(&report, "DL3008") && !has(&report, "DL3003"));
    s.dockerfile.disable_ignore_pragma = true;
    let report = scan_sources(&refs, &s);
    assert!(has(&report, "DL3008") && has(&report, "DL3003"));
}

#[test]
fn failure_threshold_and_no_fail_count_only_dockerfile_findings() {
    let files = [
        ("Dockerfile", "FROM alpine:3.19\nRUN echo hi\nUSER 1000\nLABEL Bad=1\n"),
        (
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
        ),
    ];
    let mut s = Settings::default();
    let all = scan_sources(&files, &s);
    assert_eq!(all.failing, all.findings.len());
    let (d, _) = read_hadolint_config("failure-threshold: warning\n").unwrap();
    s.dockerfile = d;
    let r = scan_sources(&files, &s);
    let dockerfile_style = r
        .findings
        .iter()
        .filter(|f| f.location.path.as_deref() == Some("Dockerfile"))
        .count();
    assert!(dockerfile_style > 0);
    assert_eq!(r.failing, r.findings.len() - dockerfile_style);
    let (d, _) = read_hadolint_config("no-fail: true\n").unwrap();
    s.dockerfile = d;
    let r = scan_sources(&files, &s);
    assert_eq!(r.failing, r.findings.len() - dockerfile_style);
}
