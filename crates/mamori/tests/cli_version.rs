//! `mamori version compare` end to end.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(args)
        .output()
        .expect("run mamori"); // ok: test
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn compares_per_ecosystem() {
    let cases = [
        (["Debian", "1:1.0", "2.0"], ">"),
        (["dpkg", "1.0~rc1", "1.0"], "<"),
        (["Debian:12", "1.0", "1.0-0"], "="),
        (["rpm", "1.0^git1", "1.0.1"], "<"),
        (["AlmaLinux:9", "1:9.0.87-3.el9_6.3", "9.0.100-1.el9"], ">"),
        (["Red Hat", "1.0~rc1", "1.0"], "<"),
        (["apk", "1.0_rc1", "1.0"], "<"),
        (["Alpine:v3.19", "1.0", "1.0-r0"], "<"),
        (["PyPI", "1.0", "1.0.0"], "="),
        (["npm", "1.0.0-rc.1", "1.0.0"], "<"),
        (
            ["Go", "v1.2.3-0.20210101000000-abcdefabcdef", "v1.2.2"],
            ">",
        ),
        (["Maven", "1.0-SNAPSHOT", "1.0"], "<"),
        (["RubyGems", "1.0-1", "1.0"], "<"),
    ];
    for (args, want) in cases {
        let mut full = vec!["version", "compare"];
        full.extend(args);
        let (code, out, err) = run(&full);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(out.trim(), want, "{args:?}");
    }
}

#[test]
fn invalid_version_and_unknown_ecosystem_are_errors() {
    let (code, out, err) = run(&["version", "compare", "semver", "01.0.0", "1.0.0"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("leading zero"), "{err}");
    let (code, _, err) = run(&["version", "compare", "Nonesuch", "1", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("no version ordering"), "{err}");
}
