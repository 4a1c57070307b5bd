//! The command line's contract: version, help, and exit codes for usage errors.

use std::process::{Command, Output};

fn mamori(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(args)
        .env_remove("MAMORI_LOG")
        .output()
        .expect("the mamori binary runs")
}

#[test]
fn version_prints_the_package_version() {
    let out = mamori(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), format!("mamori {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_names_the_global_options() {
    let out = mamori(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--log-level", "--verbose", "--color"] {
        assert!(text.contains(flag), "help lacks {flag}:\n{text}");
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = mamori(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn bad_colour_value_is_a_usage_error() {
    let out = mamori(&["--color", "sometimes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sometimes"));
}

#[test]
fn no_subcommand_prints_help_and_exits_2() {
    let out = mamori(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
}
