//! `mamori rules validate` and `mamori runtime --source replay:...` end to end.

use std::process::Command;

fn mamori() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
}

fn example() -> std::path::PathBuf {
    mamori_testkit::workspace_root().join("examples/runtime/events.jsonl")
}

#[test]
fn validate_builtin_rules_succeeds() {
    let out = mamori().args(["rules", "validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rules (") && text.starts_with("ok:"),
        "{text}"
    );
}

#[test]
fn validate_reports_errors_with_position_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(
        &p,
        "- rule: r\n  desc: d\n  condition: proc.pid = abc\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let out = mamori()
        .args(["rules", "validate"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.yaml:3:14: error LOAD_ERR_COMPILE_CONDITION (rule 'r')"),
        "{text}"
    );
    assert!(text.contains("failed: 1 file(s): 1 error(s)"), "{text}");
}

#[test]
fn validate_falco_files() {
    let Some(dir) = mamori_testkit::shared_data("falco-rules") else {
        return;
    };
    let out = mamori()
        .args(["rules", "validate"])
        .arg(dir.join("falco_rules.yaml"))
        .arg(dir.join("falco-incubating_rules.yaml"))
        .arg(dir.join("falco-sandbox_rules.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("93 rules (81 enabled), 315 macros, 118 lists"),
        "{text}"
    );
}

#[test]
fn runtime_replay_writes_falco_json_and_counts_bad_lines() {
    let out = mamori()
        .args(["runtime", "--hostname", "node-1", "--source"])
        .arg(format!("replay:{}", example().display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let alerts: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(alerts.len() >= 5, "{stdout}");
    for a in &alerts {
        for k in [
            "time",
            "rule",
            "priority",
            "output",
            "output_fields",
            "hostname",
            "source",
            "tags",
        ] {
            assert!(a.get(k).is_some(), "missing {k} in {a}");
        }
        assert_eq!(a["hostname"], "node-1");
    }
    assert_eq!(alerts[0]["rule"], "Sensitive file read");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 6:"), "{stderr}");
    assert!(stderr.contains("1 malformed line(s) skipped"), "{stderr}");
}

#[test]
fn runtime_file_output_and_bad_source() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("alerts.jsonl");
    let out = mamori()
        .args(["runtime", "--rule-matching", "all", "--source"])
        .arg(format!("replay:{}", example().display()))
        .arg("--output")
        .arg(format!("file:{}", f.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(std::fs::read_to_string(&f).unwrap().lines().count() >= 6);
    let out = mamori()
        .args(["runtime", "--source", "kafka:alerts"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use ebpf"));
    // Runtime policies act on live processes: not with a replay.
    let out = mamori()
        .args(["runtime", "--policy", "p.yaml", "--source"])
        .arg(format!("replay:{}", example().display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
