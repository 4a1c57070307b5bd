//! Checks on the shell script of one `RUN` instruction (package managers, downloads, TLS).

use super::checks::{Ctx, FileState, Stage};
use super::shell::{Command, Script};
use super::Instruction;

const NONSENSE: &[&str] = &[
    "free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim",
];
const SHELLS: &[&str] = &[
    "sh", "bash", "ash", "dash", "zsh", "ksh", "python", "python3", "perl",
];

/// The script text of a RUN: the shell-form arguments or exec-form words, plus heredoc bodies.
pub(super) fn run_script(ins: &Instruction) -> String {
    let mut s = match &ins.exec {
        Some(words) => words.join(" "),
        None => ins.args.clone(),
    };
    for h in &ins.heredocs {
        s.push('\n');
        s.push_str(&h.body);
    }
    s
}

fn is_unpinned_apt(pkg: &str) -> bool {
    !(pkg.contains('=') || pkg.contains('/') || pkg.ends_with(".deb") || pkg.starts_with('$'))
}

/// Positional package arguments after `sub`, skipping the values of options in `with_value`.
fn packages<'a>(cmd: &'a Command, sub: &str, with_value: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut seen_sub = false;
    let mut skip = false;
    for a in &cmd.args {
        if skip {
            skip = false;
            continue;
        }
        if a.starts_with('-') {
            let bare = a.trim_start_matches('-');
            if with_value.contains(&bare) && !a.contains('=') {
                skip = true;
            }
            continue;
        }
        if !seen_sub {
            if a == sub {
                seen_sub = true;
            }
            continue;
        }
        out.push(a.as_str());
    }
    out
}

fn is_pip(cmd: &Command) -> bool {
    let n = cmd.name.as_str();
    (n.starts_with("pip")
        && n.trim_start_matches("pip")
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.'))
        || (n.starts_with("python")
            && cmd.args.len() >= 2
            && cmd.args[0] == "-m"
            && cmd.args[1] == "pip")
}

fn pip_pinned(pkg: &str) -> bool {
    ["==", ">=", "<=", "~=", "!=", "<", ">", "@"]
        .iter()
        .any(|op| pkg.contains(op))
        || pkg.starts_with('.')
        || pkg.starts_with('/')
        || pkg.starts_with('$')
        || pkg.contains("://")
        || [".whl", ".tar.gz", ".zip", ".tgz"]
            .iter()
            .any(|e| pkg.ends_with(e))
}

pub(super) fn check_run(
    c: &mut Ctx<'_>,
    ins: &Instruction,
    script: &Script,
    st: &Stage,
    state: &mut FileState,
) {
    let line = ins.line;
    for cmd in &script.commands {
        let n = cmd.name.as_str();
        if NONSENSE.contains(&n) {
            c.add(
                "DL3001",
                line,
                format!("`{n}` makes no sense in a container"),
            );
        }
        match n {
            "cd" => c.add("DL3003", line, "use WORKDIR to switch to a directory"),
            "sudo" => c.add("DL3004", line, "do not use sudo"),
            "apt" => c.add(
                "DL3027",
                line,
                "do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache",
            ),
            "ln" if cmd.positional().last() == Some("/bin/sh") => {
                c.add("DL4005", line, "use SHELL to change the default shell")
            }
            "useradd" => {
                let uid = cmd
                    .args
                    .iter()
                    .position(|a| a == "-u" || a == "--uid")
                    .and_then(|i| cmd.args.get(i + 1));
                if uid.is_some_and(|u| u.len() > 5 && u.chars().all(|c| c.is_ascii_digit()))
                    && !cmd.has_any_flag(&["l", "no-log-init"])
                {
                    c.add(
                        "DL3046",
                        line,
                        "useradd without -l and a high uid makes a large image",
                    );
                }
            }
            "wget" => {
                state.wget = true;
                if !cmd.has_any_flag(&[
                    "progress",
                    "q",
                    "quiet",
                    "o",
                    "output-file",
                    "a",
                    "append-output",
                    "no-verbose",
                ]) && !cmd.has_arg("-nv")
                {
                    c.add("DL3047", line, "avoid use of wget without progress bar");
                }
                if cmd.has_flag("no-check-certificate") {
                    c.add(
                        "MK-DF-003",
                        line,
                        "wget --no-check-certificate turns TLS verification off",
                    );
                }
            }
            "curl" => {
                state.curl = true;
                if cmd.has_any_flag(&["k", "insecure"]) {
                    c.add(
                        "MK-DF-003",
                        line,
                        "curl --insecure/-k turns TLS verification off",
                    );
                }
            }
            _ => {}
        }
        if (n == "npm" || n == "yarn")
            && cmd.positional().take(3).collect::<Vec<_>>() == ["config", "set", "strict-ssl"]
            && cmd.args.iter().any(|a| a == "false")
        {
            c.add(
                "MK-DF-003",
                line,
                format!("{n} config set strict-ssl false turns TLS verification off"),
            );
        }
        if n == "git"
            && cmd
                .args
                .iter()
                .any(|a| a.to_ascii_lowercase().contains("sslverify"))
            && cmd.args.iter().any(|a| a.ends_with("false"))
        {
            c.add(
                "MK-DF-003",
                line,
                "git http.sslVerify false turns TLS verification off",
            );
        }
        if n == "apt-get" || n == "apt" {
            let sub = cmd.positional().next();
            if sub == Some("install") {
                let unpinned: Vec<&str> =
                    packages(cmd, "install", &["o", "t", "target-release", "c"])
                        .into_iter()
                        .filter(|p| is_unpinned_apt(p))
                        .collect();
                if n == "apt-get" && !unpinned.is_empty() {
                    c.add(
                        "DL3008",
                        line,
                        format!("pin versions in apt-get install: {}", unpinned.join(" ")),
                    );
                }
                let yes = cmd.has_any_flag(&["y", "yes", "assume-yes"])
                    || cmd.args.iter().any(|a| a == "-qq" || a == "-q=2");
                if n == "apt-get" && !yes {
                    c.add("DL3014", line, "use the -y switch to avoid manual input");
                }
                let no_rec = cmd.has_flag("no-install-recommends")
                    || cmd.args.iter().any(|a| {
                        a.contains("Install-Recommends=false") || a.contains("Install-Recommends=0")
                    });
                if n == "apt-get" && !no_rec {
                    c.add(
                        "DL3015",
                        line,
                        "avoid additional packages by specifying --no-install-recommends",
                    );
                }
            }
            if cmd.has_any_flag(&[
                "allow-unauthenticated",
                "allow-insecure-repositories",
                "allow-downgrades",
            ]) || cmd.args.iter().any(|a| a.contains("AllowUnauthenticated"))
            {
                c.add("MK-DF-006", line, "apt-get without package authentication");
            }
        }
        if n == "apk" && cmd.positional().next() == Some("add") {
            let unpinned: Vec<&str> = packages(
                cmd,
                "add",
                &[
                    "t",
                    "virtual",
                    "X",
                    "repository",
                    "repositories-file",
                    "p",
                    "root",
                ],
            )
            .into_iter()
            .filter(|p| {
                !p.contains('=')
                    && !p.ends_with(".apk")
                    && !p.starts_with('$')
                    && !p.starts_with('.')
            })
            .collect();
            if !unpinned.is_empty() {
                c.add(
                    "DL3018",
                    line,
                    format!("pin versions in apk add: {}", unpinned.join(" ")),
                );
            }
            if !cmd.has_flag("no-cache") {
                c.add("DL3019", line, "use the --no-cache switch");
            }
            if cmd.has_flag("allow-untrusted") {
                c.add(
                    "MK-DF-006",
                    line,
                    "apk add --allow-untrusted skips signature checks",
                );
            }
        }
        if is_pip(cmd) && cmd.positional().any(|a| a == "install") {
            let with_value = [
                "r",
                "requirement",
                "c",
                "constraint",
                "e",
                "editable",
                "i",
                "index-url",
                "extra-index-url",
                "f",
                "find-links",
                "t",
                "target",
                "prefix",
                "root",
                "trusted-host",
                "src",
                "platform",
                "python-version",
                "only-binary",
                "no-binary",
                "progress-bar",
            ];
            let pkgs: Vec<&str> = packages(cmd, "install", &with_value)
                .into_iter()
                .filter(|p| !pip_pinned(p))
                .collect();
            if !pkgs.is_empty() {
                c.add(
                    "DL3013",
                    line,
                    format!("pin versions in pip: {}", pkgs.join(" ")),
                );
            }
            if !cmd.has_flag("no-cache-dir") && !st.pip_no_cache_env {
                c.add(
                    "DL3042",
                    line,
                    "avoid cache directory with pip install --no-cache-dir",
                );
            }
            if cmd.has_flag("trusted-host") {
                c.add(
                    "MK-DF-003",
                    line,
                    "pip --trusted-host turns TLS verification off for that host",
                );
            }
        }
        if n == "npm" && matches!(cmd.positional().next(), Some("install" | "i" | "add")) {
            let sub = cmd.positional().next().unwrap_or("install");
            let pkgs: Vec<&str> = packages(cmd, sub, &["prefix", "registry", "cache"])
                .into_iter()
                .filter(|p| {
                    let body = p.strip_prefix('@').unwrap_or(p);
                    !(body.contains('@')
                        || p.starts_with('.')
                        || p.starts_with('/')
                        || p.contains("://")
                        || p.starts_with("git")
                        || p.ends_with(".tgz")
                        || p.starts_with('$'))
                })
                .collect();
            if !pkgs.is_empty() {
                c.add(
                    "DL3016",
                    line,
                    format!("pin versions in npm: {}", pkgs.join(" ")),
                );
            }
        }
        if n == "gem"
            && cmd.positional().next() == Some("install")
            && !cmd.has_any_flag(&["v", "version"])
        {
            let pkgs: Vec<&str> = packages(
                cmd,
                "install",
                &["source", "i", "install-dir", "n", "bindir"],
            )
            .into_iter()
            .filter(|p| !p.contains(':') && !p.ends_with(".gem"))
            .collect();
            if !pkgs.is_empty() {
                c.add(
                    "DL3028",
                    line,
                    format!("pin versions in gem install: {}", pkgs.join(" ")),
                );
            }
        }
        if n == "go" && cmd.positional().next() == Some("install") {
            let pkgs: Vec<&str> = packages(cmd, "install", &["C", "ldflags", "tags", "o"])
                .into_iter()
                .filter(|p| {
                    !p.contains('@')
                        && !p.starts_with('.')
                        && !p.starts_with('/')
                        && !p.starts_with('$')
                })
                // Go meta-packages (`go install tool`, `std`, `all`) have no version.
                .filter(|p| !matches!(*p, "tool" | "std" | "all" | "cmd"))
                .collect();
            if !pkgs.is_empty() {
                c.add(
                    "DL3062",
                    line,
                    format!("pin versions in go install: {}", pkgs.join(" ")),
                );
            }
        }
        for (tool, yes_id, pin_id) in [
            ("yum", "DL3030", "DL3033"),
            ("dnf", "DL3038", "DL3041"),
            ("microdnf", "DL3038", "DL3041"),
        ] {
            if n == tool && cmd.positional().next() == Some("install") {
                if !cmd.has_any_flag(&["y", "assumeyes"]) {
                    c.add(
                        yes_id,
                        line,
                        format!("use the -y switch with {tool} install"),
                    );
                }
                let pkgs: Vec<&str> = packages(
                    cmd,
                    "install",
                    &[
                        "setopt",
                        "enablerepo",
                        "disablerepo",
                        "releasever",
                        "installroot",
                    ],
                )
                .into_iter()
                .filter(|p| !p.ends_with(".rpm") && !p.starts_with('$') && !has_rpm_version(p))
                .collect();
                if !pkgs.is_empty() {
                    c.add(
                        pin_id,
                        line,
                        format!("specify version with {tool} install: {}", pkgs.join(" ")),
                    );
                }
                if cmd.has_flag("nogpgcheck") {
                    c.add(
                        "MK-DF-006",
                        line,
                        format!("{tool} --nogpgcheck skips signature checks"),
                    );
                }
            }
        }
        if n == "zypper" {
            check_zypper(c, line, cmd);
        }
        if cmd.piped_to_next && (n == "curl" || n == "wget") {
            let idx = script
                .commands
                .iter()
                .position(|x| std::ptr::eq(x, cmd))
                .unwrap_or(0);
            if let Some(next) = script.commands.get(idx + 1) {
                if SHELLS.contains(&next.name.as_str()) {
                    c.add(
                        "MK-DF-002",
                        line,
                        format!("{n} output piped into {}", next.name),
                    );
                }
            }
        }
    }
    // Whole-RUN rules.
    let has = |name: &str, sub: &str| script.sub(name, sub).next().is_some();
    for (tool, id) in [("yum", "DL3032"), ("dnf", "DL3040"), ("microdnf", "DL3040")] {
        let used = script
            .named(tool)
            .any(|c| c.positional().next().is_some_and(|s| s != "clean"));
        let cleaned = script.named(tool).any(|c| {
            let p: Vec<&str> = c.positional().collect();
            p.len() >= 2 && p[0] == "clean" && p[1] == "all"
        }) || script.named("rm").any(|c| {
            c.args.iter().any(|a| {
                a.contains(&format!(
                    "/var/cache/{}",
                    if tool == "microdnf" { "dnf" } else { tool }
                ))
            })
        });
        if used && has(tool, "install") && !cleaned {
            c.add(
                id,
                line,
                format!("{tool} clean all missing after {tool} command"),
            );
        }
    }
    // DL3036: the first `zypper install` must come before the first `zypper clean`.
    let zypper_at = |subs: &[&str]| {
        script
            .commands
            .iter()
            .position(|c| c.name == "zypper" && c.args.iter().any(|a| subs.contains(&a.as_str())))
    };
    if let Some(i) = zypper_at(&["install", "in"]) {
        if zypper_at(&["clean", "cc"]).is_none_or(|j| j < i) {
            c.add("DL3036", line, "zypper clean missing after zypper use");
        }
    }
    if has("yarn", "install")
        && !script
            .named("yarn")
            .any(|c| c.positional().take(2).collect::<Vec<_>>() == ["cache", "clean"])
    {
        c.add(
            "DL3060",
            line,
            "yarn cache clean missing after yarn install",
        );
    }
    if script.has_pipe && !st.pipefail {
        c.add(
            "DL4006",
            line,
            "set the SHELL option -o pipefail before RUN with a pipe in it",
        );
    }
}

/// DL3034, DL3035, DL3037 on one `zypper` command (hadolint matches the sub-command anywhere
/// among the arguments).
fn check_zypper(c: &mut Ctx<'_>, line: u32, cmd: &Command) {
    let has_arg = |subs: &[&str]| cmd.args.iter().any(|a| subs.contains(&a.as_str()));
    if has_arg(&[
        "install",
        "in",
        "remove",
        "rm",
        "source-install",
        "si",
        "patch",
    ]) && !cmd.has_any_flag(&["no-confirm", "y", "n", "non-interactive"])
    {
        c.add(
            "DL3034",
            line,
            "non-interactive switch missing from zypper command: zypper install -y",
        );
    }
    if has_arg(&["dist-upgrade", "dup"]) {
        c.add("DL3035", line, "do not use zypper dist-upgrade");
    }
    if has_arg(&["install", "in"]) {
        let unpinned: Vec<&str> = cmd
            .args
            .iter()
            .map(String::as_str)
            .filter(|a| !a.starts_with('-') && *a != "install" && *a != "in")
            .filter(|p| !(p.contains(['=', '>', '<']) || p.ends_with(".rpm")))
            .collect();
        if !unpinned.is_empty() {
            c.add(
                "DL3037",
                line,
                format!(
                    "specify version with zypper install -y <package>=<version>: {}",
                    unpinned.join(" ")
                ),
            );
        }
    }
}

fn has_rpm_version(p: &str) -> bool {
    // name-version: a dash followed by a digit somewhere after the first character.
    p.char_indices()
        .any(|(i, ch)| ch == '-' && p[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
}
