//! Golden tests for the report writers on a fixed set of findings, and a check of the SARIF output
//! against the structure the SARIF 2.1.0 specification requires.

use mamori_core::report::{sarif, Format, Report};
use mamori_core::{Area, Finding, Location, Reference, Severity, Target};

fn fixture() -> Report {
    let findings = vec![
        Finding::new(
            "MK-K8S-PRIV",
            "Privileged container",
            Severity::High,
            Area::Orchestrator,
        )
        .with_nist("3.4.3")
        .with_reference(Reference::Cis("CIS Kubernetes 5.2.2".into()))
        .with_reference(Reference::Peer("CKV_K8S_16".into()))
        .with_target(Target::Object {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        })
        .with_location(Location {
            pointer: Some("/spec/template/spec/containers/0/securityContext/privileged".into()),
            ..Location::at("deploy/web.yaml", 21, 13)
        })
        .with_message("container \"web\" sets securityContext.privileged=true")
        .with_remediation("Remove privileged: true or set it to false."),
        Finding::new(
            "DL3007",
            "Using latest is prone to errors",
            Severity::Medium,
            Area::Image,
        )
        .with_nist("3.1.1")
        .with_reference(Reference::Peer("DL3007".into()))
        .with_reference(Reference::Url(
            "https://example.invalid/rules/DL3007".into(),
        ))
        .with_target(Target::file("build/Dockerfile"))
        .with_location(Location::at("build/Dockerfile", 1, 1))
        .with_message("FROM debian:latest pins no version"),
        Finding::new(
            "CVE-2023-0001",
            "openssl: example advisory",
            Severity::Critical,
            Area::Image,
        )
        .with_nist("3.1.1")
        .with_reference(Reference::Advisory("GHSA-xxxx-yyyy-zzzz".into()))
        .with_target(Target::image("registry.local:5000/shop/web:1.4"))
        .with_location(Location {
            path: Some("var/lib/dpkg/status".into()),
            layer: Some(format!("sha256:{}", "ab".repeat(32))),
            ..Location::default()
        })
        .with_message("libssl3 3.0.11-1 is affected; fixed in 3.0.13-1"),
        Finding::new(
            "MK-SECRET-AWS",
            "AWS access key",
            Severity::Critical,
            Area::Image,
        )
        .with_nist("3.1.4")
        .with_target(Target::image("registry.local:5000/shop/web:1.4"))
        .with_location(Location {
            path: Some("app/config with space.env".into()),
            line: Some(3),
            ..Location::default()
        })
        .with_message("AWS access key id AKIA************MPLE"),
        Finding::new(
            "MK-K8S-LIMITS",
            "No resource limits",
            Severity::Low,
            Area::Container,
        )
        .with_target(Target::Object {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: None,
            name: "debug".into(),
        })
        .with_message("container \"sh\" has no memory limit"),
        Finding::new("MK-INFO", "Informational note", Severity::Info, Area::Host),
    ];
    Report::new("mamori", "0.1.0")
        .with_targets(vec![
            "deploy/".into(),
            "registry.local:5000/shop/web:1.4".into(),
        ])
        .with_findings(findings)
}

fn render(format: Format, color: bool) -> String {
    let mut out = Vec::new();
    fixture()
        .write(format, color, &mut out)
        .expect("writes to memory");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn table_golden() {
    insta::assert_snapshot!("table", render(Format::Table, false));
}

#[test]
fn table_colour_golden() {
    insta::assert_snapshot!(
        "table_colour",
        render(Format::Table, true).replace('\x1b', "<ESC>")
    );
}

#[test]
fn json_golden() {
    insta::assert_snapshot!("json", render(Format::Json, false));
}

#[test]
fn sarif_golden() {
    insta::assert_snapshot!("sarif", render(Format::Sarif, false));
}

#[test]
fn json_is_valid_json_with_schema_and_summary() {
    let v: serde_json::Value = serde_json::from_str(&render(Format::Json, false)).expect("json");
    assert_eq!(v["schema"], "mamori.report/v1");
    assert_eq!(v["summary"]["total"], 6);
    assert_eq!(v["summary"]["critical"], 2);
    assert_eq!(v["findings"][0]["severity"], "critical");
}

fn sarif_schema() -> jsonschema::Validator {
    let text = include_str!("data/sarif-2.1.0-required.schema.json");
    let schema: serde_json::Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

#[test]
fn sarif_satisfies_the_required_structure() {
    let log = sarif::to_value(&fixture());
    let validator = sarif_schema();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF violations: {errors:#?}");
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 6);
    for r in results {
        let idx = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"][idx]["id"],
            r["ruleId"]
        );
    }
}

#[test]
fn sarif_schema_rejects_broken_logs() {
    // The check must be able to fail: a log that breaks each constraint is rejected.
    let validator = sarif_schema();
    let mut bad = sarif::to_value(&fixture());
    bad["version"] = "2.0.0".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = sarif::to_value(&fixture());
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    assert!(!validator.is_valid(&bad));
    let mut bad = sarif::to_value(&fixture());
    bad["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = sarif::to_value(&fixture());
    bad["runs"][0]["results"][0]
        .as_object_mut()
        .expect("object")
        .remove("message");
    assert!(!validator.is_valid(&bad));
}
