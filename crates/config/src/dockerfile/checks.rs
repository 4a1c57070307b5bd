//! Dockerfile checks: hadolint-compatible DL rules that need no ShellCheck, and mamori's extras.

use std::collections::HashMap;

use mamori_core::Finding;

use super::shell::{self, Command, Script};
use super::{Dockerfile, Instruction};
use crate::node::Pos;
use crate::rules::finding;

#[derive(Default, Clone)]
struct Stage {
    alias: Option<String>,
    from_line: u32,
    last_user: Option<(String, u32)>,
    workdir: bool,
    pipefail: bool,
    non_posix: bool,
    healthchecks: u32,
    cmds: u32,
    entrypoints: u32,
    pip_no_cache_env: bool,
}

struct Ctx<'a> {
    path: &'a str,
    out: Vec<Finding>,
}

impl Ctx<'_> {
    /// Adds a finding; like hadolint, a rule reports at most once per instruction.
    fn add(&mut self, id: &str, line: u32, message: impl Into<String>) {
        let dup = self
            .out
            .iter()
            .rev()
            .take_while(|f| f.location.line == Some(line))
            .any(|f| f.rule_id == id);
        if !dup {
            self.out
                .push(finding(id, self.path, Pos { line, col: 1 }, message.into()));
        }
    }
}

const NONSENSE: &[&str] = &[
    "free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim",
];
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "python", "python3", "perl"];

/// The script text of a RUN: the shell-form arguments or exec-form words, plus heredoc bodies.
fn run_script(ins: &Instruction) -> String {
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
    (n.starts_with("pip") && n.trim_start_matches("pip").chars().all(|c| c.is_ascii_digit() || c == '.'))
        || (n.starts_with("python") && cmd.args.len() >= 2 && cmd.args[0] == "-m" && cmd.args[1] == "pip")
}

fn pip_pinned(pkg: &str) -> bool {
    ["==", ">=", "<=", "~=", "!=", "<", ">", "@"].iter().any(|op| pkg.contains(op))
        || pkg.starts_with('.')
        || pkg.starts_with('/')
        || pkg.starts_with('$')
        || pkg.contains("://")
        || [".whl", ".tar.gz", ".zip", ".tgz"].iter().any(|e| pkg.ends_with(e))
}

fn check_run(c: &mut Ctx<'_>, ins: &Instruction, script: &Script, st: &Stage, state: &mut FileState) {
    let line = ins.line;
    for cmd in &script.commands {
        let n = cmd.name.as_str();
        if NONSENSE.contains(&n) {
            c.add("DL3001", line, format!("`{n}` makes no sense in a container"));
        }
        match n {
            "cd" => c.add("DL3003", line, "use WORKDIR to switch to a directory"),
            "sudo" => c.add("DL3004", line, "do not use sudo"),
            "apt" => c.add("DL3027", line, "do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache"),
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
                    c.add("DL3046", line, "useradd without -l and a high uid makes a large image");
                }
            }
            "wget" => {
                state.wget = true;
                if !cmd.has_any_flag(&["progress", "q", "quiet", "o", "output-file", "a", "append-output", "no-verbose"])
                    && !cmd.has_arg("-nv")
                {
                    c.add("DL3047", line, "avoid use of wget without progress bar");
                }
                if cmd.has_flag("no-check-certificate") {
                    c.add("MK-DF-003", line, "wget --no-check-certificate turns TLS verification off");
                }
            }
            "curl" => {
                state.curl = true;
                if cmd.has_any_flag(&["k", "insecure"]) {
                    c.add("MK-DF-003", line, "curl --insecure/-k turns TLS verification off");
                }
            }
            _ => {}
        }
        if (n == "npm" || n == "yarn")
            && cmd.positional().take(3).collect::<Vec<_>>() == ["config", "set", "strict-ssl"]
            && cmd.args.iter().any(|a| a == "false")
        {
            c.add("MK-DF-003", line, format!("{n} config set strict-ssl false turns TLS verification off"));
        }
        if n == "git" && cmd.args.iter().any(|a| a.to_ascii_lowercase().contains("sslverify")) && cmd.args.iter().any(|a| a.ends_with("false")) {
            c.add("MK-DF-003", line, "git http.sslVerify false turns TLS verification off");
        }
        if n == "apt-get" || n == "apt" {
            let sub = cmd.positional().next();
            if sub == Some("install") {
                let unpinned: Vec<&str> = packages(cmd, "install", &["o", "t", "target-release", "c"])
                    .into_iter()
                    .filter(|p| is_unpinned_apt(p))
                    .collect();
                if n == "apt-get" && !unpinned.is_empty() {
                    c.add("DL3008", line, format!("pin versions in apt-get install: {}", unpinned.join(" ")));
                }
                let yes = cmd.has_any_flag(&["y", "yes", "assume-yes"])
                    || cmd.args.iter().any(|a| a == "-qq" || a == "-q=2");
                if n == "apt-get" && !yes {
                    c.add("DL3014", line, "use the -y switch to avoid manual input");
                }
                let no_rec = cmd.has_flag("no-install-recommends")
                    || cmd.args.iter().any(|a| a.contains("Install-Recommends=false") || a.contains("Install-Recommends=0"));
                if n == "apt-get" && !no_rec {
                    c.add("DL3015", line, "avoid additional packages by specifying --no-install-recommends");
                }
            }
            if cmd.has_any_flag(&["allow-unauthenticated", "allow-insecure-repositories", "allow-downgrades"]) || cmd.args.iter().any(|a| a.contains("AllowUnauthenticated")) {
                c.add("MK-DF-006", line, "apt-get without package authentication");
            }
        }
        if n == "apk" && cmd.positional().next() == Some("add") {
            let unpinned: Vec<&str> = packages(cmd, "add", &["t", "virtual", "X", "repository", "repositories-file", "p", "root"])
                .into_iter()
                .filter(|p| !p.contains('=') && !p.ends_with(".apk") && !p.starts_with('$') && !p.starts_with('.'))
                .collect();
            if !unpinned.is_empty() {
                c.add("DL3018", line, format!("pin versions in apk add: {}", unpinned.join(" ")));
            }
            if !cmd.has_flag("no-cache") {
                c.add("DL3019", line, "use the --no-cache switch");
            }
            if cmd.has_flag("allow-untrusted") {
                c.add("MK-DF-006", line, "apk add --allow-untrusted skips signature checks");
            }
        }
        if is_pip(cmd) && cmd.positional().any(|a| a == "install") {
            let with_value = ["r", "requirement", "c", "constraint", "e", "editable", "i", "index-url", "extra-index-url", "f", "find-links", "t", "target", "prefix", "root", "trusted-host", "src", "platform", "python-version", "only-binary", "no-binary", "progress-bar"];
            let pkgs: Vec<&str> = packages(cmd, "install", &with_value)
                .into_iter()
                .filter(|p| *p != "pip" || true)
                .filter(|p| !pip_pinned(p))
                .collect();
            if !pkgs.is_empty() {
                c.add("DL3013", line, format!("pin versions in pip: {}", pkgs.join(" ")));
            }
            if !cmd.has_flag("no-cache-dir") && !st.pip_no_cache_env {
                c.add("DL3042", line, "avoid cache directory with pip install --no-cache-dir");
            }
            if cmd.has_flag("trusted-host") {
                c.add("MK-DF-003", line, "pip --trusted-host turns TLS verification off for that host");
            }
        }
        if n == "npm" && matches!(cmd.positional().next(), Some("install" | "i" | "add")) {
            let sub = cmd.positional().next().unwrap_or("install");
            let pkgs: Vec<&str> = packages(cmd, sub, &["prefix", "registry", "cache"])
                .into_iter()
                .filter(|p| {
                    let body = p.strip_prefix('@').unwrap_or(p);
                    !(body.contains('@') || p.starts_with('.') || p.starts_with('/') || p.contains("://") || p.starts_with("git") || p.ends_with(".tgz") || p.starts_with('$'))
                })
                .collect();
            if !pkgs.is_empty() {
                c.add("DL3016", line, format!("pin versions in npm: {}", pkgs.join(" ")));
            }
        }
        if n == "gem" && cmd.positional().next() == Some("install") && !cmd.has_any_flag(&["v", "version"]) {
            let pkgs: Vec<&str> = packages(cmd, "install", &["source", "i", "install-dir", "n", "bindir"])
                .into_iter()
                .filter(|p| !p.contains(':') && !p.ends_with(".gem"))
                .collect();
            if !pkgs.is_empty() {
                c.add("DL3028", line, format!("pin versions in gem install: {}", pkgs.join(" ")));
            }
        }
        if n == "go" && cmd.positional().next() == Some("install") {
            let pkgs: Vec<&str> = packages(cmd, "install", &["C", "ldflags", "tags", "o"])
                .into_iter()
                .filter(|p| !p.contains('@') && !p.starts_with('.') && !p.starts_with('/') && !p.starts_with('$'))
                // Go meta-packages (`go install tool`, `std`, `all`) have no version.
                .filter(|p| !matches!(*p, "tool" | "std" | "all" | "cmd"))
                .collect();
            if !pkgs.is_empty() {
                c.add("DL3062", line, format!("pin versions in go install: {}", pkgs.join(" ")));
            }
        }
        for (tool, yes_id, pin_id) in [("yum", "DL3030", "DL3033"), ("dnf", "DL3038", "DL3041"), ("microdnf", "DL3038", "DL3041")] {
            if n == tool && cmd.positional().next() == Some("install") {
                if !cmd.has_any_flag(&["y", "assumeyes"]) {
                    c.add(yes_id, line, format!("use the -y switch with {tool} install"));
                }
                let pkgs: Vec<&str> = packages(cmd, "install", &["setopt", "enablerepo", "disablerepo", "releasever", "installroot"])
                    .into_iter()
                    .filter(|p| !p.ends_with(".rpm") && !p.starts_with('$') && !has_rpm_version(p))
                    .collect();
                if !pkgs.is_empty() {
                    c.add(pin_id, line, format!("specify version with {tool} install: {}", pkgs.join(" ")));
                }
                if cmd.has_flag("nogpgcheck") {
                    c.add("MK-DF-006", line, format!("{tool} --nogpgcheck skips signature checks"));
                }
            }
        }
        if cmd.piped_to_next && (n == "curl" || n == "wget") {
            let idx = script.commands.iter().position(|x| std::ptr::eq(x, cmd)).unwrap_or(0);
            if let Some(next) = script.commands.get(idx + 1) {
                if SHELLS.contains(&next.name.as_str()) {
                    c.add("MK-DF-002", line, format!("{n} output piped into {}", next.name));
                }
            }
        }
    }
    // Whole-RUN rules.
    let has = |name: &str, sub: &str| script.sub(name, sub).next().is_some();
    for (tool, id) in [("yum", "DL3032"), ("dnf", "DL3040"), ("microdnf", "DL3040")] {
        let used = script.named(tool).any(|c| c.positional().next().is_some_and(|s| s != "clean"));
        let cleaned = script.named(tool).any(|c| {
            let p: Vec<&str> = c.positional().collect();
            p.len() >= 2 && p[0] == "clean" && p[1] == "all"
        }) || script.named("rm").any(|c| c.args.iter().any(|a| a.contains(&format!("/var/cache/{}", if tool == "microdnf" { "dnf" } else { tool }))));
        if used && has(tool, "install") && !cleaned {
            c.add(id, line, format!("{tool} clean all missing after {tool} command"));
        }
    }
    if has("yarn", "install") && !script.named("yarn").any(|c| c.positional().take(2).collect::<Vec<_>>() == ["cache", "clean"]) {
        c.add("DL3060", line, "yarn cache clean missing after yarn install");
    }
    if script.has_pipe && !st.pipefail {
        c.add("DL4006", line, "set the SHELL option -o pipefail before RUN with a pipe in it");
    }
}

fn has_rpm_version(p: &str) -> bool {
    // name-version: a dash followed by a digit somewhere after the first character.
    p.char_indices()
        .any(|(i, ch)| ch == '-' && p[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
}

#[derive(Default)]
struct FileState {
    curl: bool,
    wget: bool,
    reported_4001: bool,
}

fn env_pairs(args: &str) -> Vec<(String, String)> {
    let words = shell_words(args);
    if words.len() >= 2 && !words[0].contains('=') {
        // Legacy `ENV NAME value words`.
        return vec![(words[0].clone(), words[1..].join(" "))];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w, String::new()),
        })
        .collect()
}

/// Splits `ENV`/`ARG`/`LABEL` arguments into words, honouring quotes and backslashes.
fn shell_words(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

fn raw_words(args: &str) -> Vec<&str> {
    args.split_whitespace().collect()
}

/// Runs every check on a parsed Dockerfile.
pub(super) fn run(path: &str, df: &Dockerfile) -> Vec<Finding> {
    let mut c = Ctx {
        path,
        out: Vec::new(),
    };
    let mut stages: Vec<Stage> = Vec::new();
    let mut aliases: HashMap<String, usize> = HashMap::new();
    let mut file = FileState::default();
    let mut apt_lists: Vec<(u32, usize)> = Vec::new();
    let mut used_aliases: Vec<String> = Vec::new();
    let mut prev_run: Option<(Vec<(String, String)>, usize)> = None;
    let mut seen_from = false;
    for ins in &df.instructions {
        let kw = ins.keyword.as_str();
        if !seen_from && kw != "FROM" && kw != "ARG" {
            c.add("DL3061", ins.line, "invalid instruction order: the Dockerfile must begin with FROM, ARG or a comment");
            seen_from = true;
        }
        if kw != "RUN" {
            prev_run = None;
        }
        match kw {
            "FROM" => {
                seen_from = true;
                let words = raw_words(&ins.args);
                let image = words.first().copied().unwrap_or("");
                let alias = match words.get(1) {
                    Some(a) if a.eq_ignore_ascii_case("as") => words.get(2).map(|s| s.to_string()),
                    _ => None,
                };
                if let Some(p) = ins.flag("platform") {
                    if !p.starts_with('$') {
                        c.add("DL3029", ins.line, format!("do not use --platform={p} with FROM"));
                    }
                }
                let parent = aliases.get(image).copied();
                if parent.is_some() {
                    used_aliases.push(image.to_string());
                }
                if parent.is_none() && image != "scratch" && !image.starts_with('$') {
                    let last = image.rsplit('/').next().unwrap_or(image);
                    if !last.contains(':') && !image.contains('@') {
                        c.add("DL3006", ins.line, format!("always tag the version of an image explicitly: {image}"));
                    } else if last.split(':').nth(1) == Some("latest") {
                        c.add("DL3007", ins.line, format!("using latest is prone to errors: {image}"));
                    }
                }
                if let Some(a) = &alias {
                    if aliases.contains_key(&a.to_ascii_lowercase()) {
                        c.add("DL3024", ins.line, format!("duplicate stage name {a}"));
                    }
                }
                let mut st = match parent {
                    Some(i) => stages[i].clone(),
                    None => Stage::default(),
                };
                st.alias = alias.clone();
                st.from_line = ins.line;
                st.healthchecks = 0;
                st.cmds = 0;
                st.entrypoints = 0;
                if parent.is_none() {
                    st.pipefail = false;
                    st.non_posix = false;
                }
                if let Some(a) = alias {
                    aliases.insert(a.to_ascii_lowercase(), stages.len());
                }
                stages.push(st);
            }
            _ if stages.is_empty() => {
                // ARG before FROM (global) or an invalid order already reported.
                if kw == "ARG" {
                    check_secrets(&mut c, ins);
                }
                continue;
            }
            _ => {}
        }
        let idx = stages.len() - 1;
        let st = &mut stages[idx];
        match kw {
            "RUN" => {
                let non_posix = st.non_posix || df.powershell_pragma;
                if non_posix {
                    prev_run = None;
                    continue;
                }
                let script = shell::parse(&run_script(ins));
                let snapshot = st.clone();
                check_run(&mut c, ins, &script, &snapshot, &mut file);
                if file.curl && file.wget && !file.reported_4001 {
                    file.reported_4001 = true;
                    c.add("DL4001", ins.line, "either use wget or curl but not both");
                }
                if script.sub("apt-get", "update").next().is_some()
                    && !script.named("rm").any(|r| r.args.iter().any(|a| a.starts_with("/var/lib/apt/lists")))
                    && script.sub("apt-get", "dist-clean").next().is_none()
                {
                    apt_lists.push((ins.line, idx));
                }
                let n = script.commands.len();
                let flags = ins.flags.clone();
                if let Some((pflags, pn)) = &prev_run {
                    // hadolint 2.15.1 reports only when both RUNs hold a single command.
                    if *pflags == flags && *pn <= 1 && n <= 1 {
                        c.add("DL3059", ins.line, "multiple consecutive RUN instructions, consider consolidation");
                    }
                }
                prev_run = Some((flags, n));
            }
            "USER" => {
                let user = ins.args.trim().split(':').next().unwrap_or("").to_string();
                if !user.is_empty() && !user.starts_with('$') && !user.chars().all(|c| c.is_ascii_digit()) {
                    c.add("DL3066", ins.line, format!("non-numeric user-id {user} may not be resolvable by the host"));
                }
                st.last_user = Some((user, ins.line));
            }
            "WORKDIR" => {
                let d = ins.args.trim().trim_matches('"').trim_matches('\'');
                let windows = d.len() >= 2 && d.as_bytes()[1] == b':';
                if !(d.starts_with('/') || d.starts_with('$') || windows || d.starts_with('\\')) {
                    c.add("DL3000", ins.line, format!("use absolute WORKDIR: {d}"));
                }
                st.workdir = true;
            }
            "SHELL" => {
                let words = ins.exec.clone().unwrap_or_default();
                let first = words.first().map(|w| w.to_ascii_lowercase()).unwrap_or_default();
                let base = first.rsplit(['/', '\\']).next().unwrap_or("").to_string();
                st.non_posix = base.starts_with("powershell") || base.starts_with("pwsh") || base.starts_with("cmd");
                st.pipefail = st.non_posix
                    || (["bash", "zsh", "ash"].contains(&base.as_str())
                        && words.iter().any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('o'))
                        && words.iter().any(|w| w == "pipefail"));
            }
            "CMD" | "ENTRYPOINT" => {
                if ins.exec.is_none() && !ins.args.is_empty() {
                    c.add("DL3025", ins.line, format!("use arguments JSON notation for {kw} arguments"));
                }
                if kw == "CMD" {
                    st.cmds += 1;
                    if st.cmds > 1 {
                        c.add("DL4003", ins.line, "multiple CMD instructions found");
                    }
                } else {
                    st.entrypoints += 1;
                    if st.entrypoints > 1 {
                        c.add("DL4004", ins.line, "multiple ENTRYPOINT instructions found");
                    }
                }
            }
            "HEALTHCHECK" => {
                st.healthchecks += 1;
                if st.healthchecks > 1 {
                    c.add("DL3012", ins.line, "multiple HEALTHCHECK instructions");
                }
            }
            "MAINTAINER" => c.add("DL4000", ins.line, "MAINTAINER is deprecated"),
            "EXPOSE" => {
                for w in raw_words(&ins.args) {
                    let port = w.split('/').next().unwrap_or("");
                    for part in port.split('-') {
                        if let Ok(p) = part.parse::<u64>() {
                            if p > 65535 {
                                c.add("DL3011", ins.line, format!("invalid port {p}"));
                            }
                        }
                    }
                }
            }
            "ONBUILD" => {
                let first = raw_words(&ins.args).first().map(|w| w.to_ascii_uppercase());
                if matches!(first.as_deref(), Some("ONBUILD" | "FROM" | "MAINTAINER")) {
                    c.add("DL3043", ins.line, "ONBUILD, FROM or MAINTAINER triggered from within ONBUILD");
                }
            }
            "ENV" => {
                let pairs = env_pairs(&ins.args);
                let mut defined: Vec<&str> = Vec::new();
                for (k, v) in &pairs {
                    if defined.iter().any(|d| v.contains(&format!("${d}")) || v.contains(&format!("${{{d}}}"))) {
                        c.add("DL3044", ins.line, format!("{k} refers to a variable defined in the same ENV"));
                    }
                    defined.push(k);
                    if k == "PIP_NO_CACHE_DIR" {
                        st.pip_no_cache_env = true;
                    }
                }
                check_secrets(&mut c, ins);
            }
            "ARG" => check_secrets(&mut c, ins),
            "COPY" | "ADD" => {
                let words: Vec<String> = match &ins.exec {
                    Some(w) => w.clone(),
                    None => raw_words(&ins.args).into_iter().map(String::from).collect(),
                };
                let dest = words.last().cloned().unwrap_or_default();
                let sources = &words[..words.len().saturating_sub(1)];
                if kw == "COPY" && words.len() > 2 && !dest.ends_with('/') && !dest.ends_with('\\') && ins.heredocs.is_empty() {
                    c.add("DL3021", ins.line, "COPY with more than 2 arguments requires the last argument to end with /");
                }
                if kw == "ADD" {
                    let remote = sources.iter().any(|s| s.contains("://") || s.starts_with("git@"));
                    let archive = sources.iter().any(|s| {
                        [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".gz", ".bz2", ".xz", ".zip", ".tar.zst"]
                            .iter()
                            .any(|e| s.ends_with(e))
                    });
                    if remote && ins.flag("checksum").is_none() {
                        c.add("MK-DF-004", ins.line, "ADD of a remote URL without --checksum");
                    }
                    if !remote && !archive && ins.heredocs.is_empty() {
                        c.add("DL3020", ins.line, "use COPY instead of ADD for files and folders");
                    }
                }
                if let Some(from) = ins.flag("from") {
                    let lower = from.to_ascii_lowercase();
                    let is_index = from.parse::<usize>().is_ok_and(|i| i < idx);
                    let here = stages[idx].alias.as_deref().map(str::to_ascii_lowercase);
                    if here.as_deref() == Some(lower.as_str()) {
                        c.add("DL3023", ins.line, format!("COPY --from={from} references its own stage"));
                    } else if !aliases.contains_key(&lower) && !is_index && !from.contains([':', '/', '$']) {
                        c.add("DL3022", ins.line, format!("COPY --from={from} does not reference a previous stage"));
                    }
                    if sources.len() == 1 && sources[0] == "/" {
                        c.add("DL3067", ins.line, "do not copy an entire filesystem from another stage");
                    }
                }
                let st = &stages[idx];
                let d = dest.trim_matches('"');
                let absolute = d.starts_with('/') || d.starts_with('$') || d.starts_with('\\') || (d.len() >= 2 && d.as_bytes()[1] == b':');
                if kw == "COPY" && !absolute && !st.workdir && !d.is_empty() {
                    c.add("DL3045", ins.line, format!("COPY to relative destination {d} without WORKDIR set"));
                }
            }
            _ => {}
        }
    }
    let last = stages.len().saturating_sub(1);
    for (line, stage) in apt_lists {
        let used_later = stages
            .get(stage)
            .and_then(|s| s.alias.as_deref())
            .is_some_and(|a| used_aliases.iter().any(|u| u.eq_ignore_ascii_case(a)));
        if stage == last || used_later {
            c.add("DL3009", line, "delete the apt-get lists after installing something");
        }
    }
    if let Some(fin) = stages.last() {
        let is_windows = df.escape == '`' || fin.non_posix;
        match &fin.last_user {
            Some((u, line)) if u == "root" || u == "0" => {
                c.add("DL3002", *line, "last USER should not be root");
            }
            None if !is_windows => {
                c.add("MK-DF-001", fin.from_line, "the final stage sets no USER, so the container runs as root");
            }
            _ => {}
        }
    }
    c.out
}

fn check_secrets(c: &mut Ctx<'_>, ins: &Instruction) {
    for (k, v) in env_pairs(&ins.args) {
        let v = v.trim_matches('"').trim_matches('\'');
        if let Some(kind) = mamori_secrets::check_assignment(&k, v) {
            c.add(
                "MK-DF-005",
                ins.line,
                format!("{} {k}={} in {}", kind.describe(), mamori_secrets::redact(v), ins.keyword),
            );
        } else if ins.keyword == "ARG" && v.is_empty() && mamori_secrets::is_secret_name(&k) {
            c.add(
                "MK-DF-005",
                ins.line,
                format!("build argument {k} looks like a secret: build arguments stay in the image history"),
            );
        }
    }
}
