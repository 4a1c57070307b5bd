//! `mamori config scan` end to end.

use std::process::Command;

fn mamori() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM debian:latest\nRUN apt-get install -y --no-install-recommends curl\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\nspec: {type: NodePort}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.yaml"), "a: [1\n").unwrap();
    dir
}

#[test]
fn table_output_exit_code_and_diagnostics() {
    let dir = fixture();
    let out = mamori()
        .args(["config", "scan", "--exit-code", "3"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("DL3007") && stdout.contains("MK-K8S-011"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yaml:2:1"), "{stderr}");
}

#[test]
fn filters_and_json() {
    let dir = fixture();
    let out = mamori()
        .args([
            "config",
            "scan",
            "--format",
            "json",
            "--check",
            "DL3008,MK-K8S-011",
            "--skip-check",
            "MK-K8S-011",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "mamori.report/v1");
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["DL3008"]);
    let high = mamori()
        .args([
            "config",
            "scan",
            "--format",
            "json",
            "--severity",
            "high",
            "--exit-code",
            "4",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        high.status.code(),
        Some(0),
        "no high finding in the fixture"
    );
}

#[test]
fn config_file_and_errors() {
    let dir = fixture();
    let cfg = dir.path().join("mamori.yml");
    std::fs::write(
        &cfg,
        "skip-check: [DL3007, DL3008, MK-DF-001, MK-K8S-011]\n",
    )
    .unwrap();
    let out = mamori()
        .args(["config", "scan", "--exit-code", "5", "--config"])
        .arg(&cfg)
        .arg(dir.path().join("Dockerfile"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::write(&cfg, "skip: [x]\n").unwrap();
    let bad = mamori()
        .args(["config", "scan", "--config"])
        .arg(&cfg)
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown key"));
    let missing = mamori()
        .args(["config", "scan", "/nonexistent/x"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let sarif = mamori()
        .args(["config", "scan", "--format", "sarif"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(sarif.status.code(), Some(0));
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(results
        .iter()
        .all(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64() >= Some(1)));
}

fn hadolint_fixture(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM quay.io/team/app:1.0\nLABEL Maintainer=me\nUSER 1000\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".hadolint.yaml"), config).unwrap();
    dir
}

fn ids(out: &std::process::Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn hadolint_yaml_in_the_current_directory_is_honoured() {
    let dir = hadolint_fixture("trustedRegistries: [docker.io]\noverride:\n  warning: [DL3057]\n");
    let run = |extra: &[&str]| {
        mamori()
            .current_dir(dir.path())
            .args(["config", "scan", ".", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let found = ids(&run(&[]));
    for id in ["DL3026", "DL3057", "DL3048"] {
        assert!(found.iter().any(|i| i == id), "{id} in {found:?}");
    }
    let found = ids(&run(&["--no-hadolint-config"]));
    assert!(
        !found.iter().any(|i| i == "DL3026" || i == "DL3057"),
        "{found:?}"
    );
    assert!(found.iter().any(|i| i == "DL3048"), "{found:?}");
    // An explicit file replaces the one in the current directory.
    std::fs::write(dir.path().join("other.yaml"), "ignored: [DL3048]\n").unwrap();
    let found = ids(&run(&["--hadolint-config", "other.yaml"]));
    assert!(
        !found.iter().any(|i| i == "DL3048" || i == "DL3026"),
        "{found:?}"
    );
}

#[test]
fn hadolint_failure_threshold_and_no_fail_set_the_exit_code() {
    // Only a style finding (DL3048) remains: below hadolint's `warning` threshold.
    let dir = hadolint_fixture("failure-threshold: warning\n");
    let code = |dir: &tempfile::TempDir| {
        mamori()
            .current_dir(dir.path())
            .args(["config", "scan", ".", "--exit-code", "3"])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code(&dir), Some(0));
    let dir = hadolint_fixture("failure-threshold: style\n");
    assert_eq!(code(&dir), Some(3));
    let dir = hadolint_fixture("failure-threshold: style\nno-fail: true\n");
    assert_eq!(code(&dir), Some(0));
}

#[test]
fn invalid_hadolint_yaml_is_an_error_with_its_position() {
    let dir = hadolint_fixture("trustedRegistries: docker.io\n");
    let out = mamori()
        .current_dir(dir.path())
        .args(["config", "scan", "."])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".hadolint.yaml") && stderr.contains("1:20"),
        "{stderr}"
    );
}

#[test]
fn cdk_synth_output() {
    let cdk = mamori_testkit::workspace_root().join("examples/cdk/cdk.out");
    let out = mamori()
        .args(["config", "scan", "--format", "json"])
        .arg(&cdk)
        .output()
        .unwrap();
    assert!(out.status.success());
    let found = ids(&out);
    for id in [
        "MK-CFN-001",
        "MK-CFN-002",
        "MK-CFN-003",
        "MK-CFN-004",
        "MK-CFN-005",
        "MK-CFN-006",
        "MK-CFN-007",
        "MK-CFN-008",
        "MK-CFN-009",
        "MK-CFN-010",
        "MK-CFN-011",
        "MK-CFN-012",
    ] {
        assert!(found.iter().any(|i| i == id), "{id} in {found:?}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 CloudFormation") && stderr.contains("0 diagnostics"),
        "{stderr}"
    );
}
