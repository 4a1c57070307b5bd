use super::*;
use crate::finding::Finding;
use crate::nist::Area;

fn f(id: &str, sev: Severity) -> Finding {
    Finding::new(id, id, sev, Area::Container)
}

#[test]
fn exit_code_counts_only_findings_at_or_above_the_threshold() {
    let policy = ExitPolicy {
        code: 3,
        threshold: Severity::High,
    };
    assert_eq!(policy.exit_code(&[f("a", Severity::Medium)]), 0);
    assert_eq!(
        policy.exit_code(&[f("a", Severity::Medium), f("b", Severity::High)]),
        3
    );
    assert_eq!(policy.exit_code(&[f("c", Severity::Critical)]), 3);
    assert_eq!(policy.exit_code(&[]), 0);
}

#[test]
fn default_policy_never_fails_on_findings() {
    assert_eq!(
        ExitPolicy::default().exit_code(&[f("a", Severity::Critical)]),
        0
    );
}

#[test]
fn formats_parse_and_reject() {
    for fmt in [Format::Table, Format::Json, Format::Sarif] {
        assert_eq!(fmt.to_string().parse::<Format>(), Ok(fmt));
    }
    assert!("xml"
        .parse::<Format>()
        .unwrap_err()
        .to_string()
        .contains("xml"));
}

#[test]
fn findings_sort_most_severe_first() {
    let r = Report::new("t", "0").with_findings(vec![
        f("low", Severity::Low),
        f("crit", Severity::Critical),
        f("med", Severity::Medium),
    ]);
    let ids: Vec<_> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(ids, ["crit", "med", "low"]);
}

#[test]
fn retain_drops_findings_below_the_minimum() {
    let mut r =
        Report::new("t", "0").with_findings(vec![f("a", Severity::Low), f("b", Severity::High)]);
    r.retain_at_least(Severity::Medium);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].rule_id, "b");
}

#[test]
fn table_colours_only_when_asked() {
    let r = Report::new("t", "0").with_findings(vec![f("a", Severity::High)]);
    let mut plain = Vec::new();
    r.write(Format::Table, false, &mut plain).expect("write");
    let mut colored = Vec::new();
    r.write(Format::Table, true, &mut colored).expect("write");
    assert!(!String::from_utf8_lossy(&plain).contains('\x1b'));
    assert!(String::from_utf8_lossy(&colored).contains("\x1b[31mHIGH\x1b[0m"));
}

#[test]
fn empty_table_says_so() {
    let mut out = Vec::new();
    Report::new("t", "0")
        .write(Format::Table, false, &mut out)
        .expect("write");
    assert_eq!(String::from_utf8_lossy(&out), "No findings.\n");
}
