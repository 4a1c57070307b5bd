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
