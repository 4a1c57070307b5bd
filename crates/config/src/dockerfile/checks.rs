//! Dockerfile checks: hadolint-compatible DL rules that need no ShellCheck, and mamori's extras.

use std::collections::HashMap;

use mamori_core::Finding;

use super::labels;
use super::run_rules;
use super::shell;
use super::stage_rules::{sensitive_names, StageRules};
use super::{Dockerfile, Instruction};
use crate::hadolint::DockerfileSettings;
use crate::node::Pos;
use crate::rules::finding;

#[derive(Default, Clone)]
pub(super) struct Stage {
    alias: Option<String>,
    from_line: u32,
    last_user: Option<(String, u32)>,
    workdir: bool,
    pub(super) pipefail: bool,
    non_posix: bool,
    healthchecks: u32,
    cmds: u32,
    entrypoints: u32,
    pub(super) pip_no_cache_env: bool,
}

pub(super) struct Ctx<'a> {
    path: &'a str,
    out: Vec<Finding>,
}

impl Ctx<'_> {
    /// Adds a finding; like hadolint, a rule reports at most once per instruction.
    pub(super) fn add(&mut self, id: &str, line: u32, message: impl Into<String>) {
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

    /// Adds a finding even when the rule already reported on this line (rules hadolint runs
    /// once per label, such as DL3049 and DL3051).
    pub(super) fn add_each(&mut self, id: &str, line: u32, message: impl Into<String>) {
        self.out
            .push(finding(id, self.path, Pos { line, col: 1 }, message.into()));
    }
}

#[derive(Default)]
pub(super) struct FileState {
    pub(super) curl: bool,
    pub(super) wget: bool,
    reported_4001: bool,
}

pub(super) fn env_pairs(args: &str) -> Vec<(String, String)> {
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
pub(super) fn run(path: &str, df: &Dockerfile, settings: &DockerfileSettings) -> Vec<Finding> {
    let mut c = Ctx {
        path,
        out: Vec::new(),
    };
    let mut sr = StageRules::new(settings);
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
            c.add(
                "DL3061",
                ins.line,
                "invalid instruction order: the Dockerfile must begin with FROM, ARG or a comment",
            );
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
                        c.add(
                            "DL3029",
                            ins.line,
                            format!("do not use --platform={p} with FROM"),
                        );
                    }
                }
                sr.from(&mut c, ins, image, alias.as_deref());
                let parent = aliases.get(image).copied();
                if parent.is_some() {
                    used_aliases.push(image.to_string());
                }
                if parent.is_none() && image != "scratch" && !image.starts_with('$') {
                    let last = image.rsplit('/').next().unwrap_or(image);
                    if !last.contains(':') && !image.contains('@') {
                        c.add(
                            "DL3006",
                            ins.line,
                            format!("always tag the version of an image explicitly: {image}"),
                        );
                    } else if last.split(':').nth(1) == Some("latest") {
                        c.add(
                            "DL3007",
                            ins.line,
                            format!("using latest is prone to errors: {image}"),
                        );
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
                    sensitive_names(&mut c, ins);
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
                let script = shell::parse(&run_rules::run_script(ins));
                sr.run(&script);
                let snapshot = st.clone();
                run_rules::check_run(&mut c, ins, &script, &snapshot, &mut file);
                if file.curl && file.wget && !file.reported_4001 {
                    file.reported_4001 = true;
                    c.add("DL4001", ins.line, "either use wget or curl but not both");
                }
                if script.sub("apt-get", "update").next().is_some()
                    && !script
                        .named("rm")
                        .any(|r| r.args.iter().any(|a| a.starts_with("/var/lib/apt/lists")))
                    && script.sub("apt-get", "dist-clean").next().is_none()
                {
                    apt_lists.push((ins.line, idx));
                }
                let n = script.commands.len();
                let flags = ins.flags.clone();
                if let Some((pflags, pn)) = &prev_run {
                    // hadolint 2.15.1 reports only when both RUNs hold a single command.
                    if *pflags == flags && *pn <= 1 && n <= 1 {
                        c.add(
                            "DL3059",
                            ins.line,
                            "multiple consecutive RUN instructions, consider consolidation",
                        );
                    }
                }
                prev_run = Some((flags, n));
            }
            "USER" => {
                let user = ins.args.trim().split(':').next().unwrap_or("").to_string();
                if !user.is_empty()
                    && !user.starts_with('$')
                    && !user.chars().all(|c| c.is_ascii_digit())
                {
                    c.add(
                        "DL3066",
                        ins.line,
                        format!("non-numeric user-id {user} may not be resolvable by the host"),
                    );
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
                let first = words
                    .first()
                    .map(|w| w.to_ascii_lowercase())
                    .unwrap_or_default();
                let base = first.rsplit(['/', '\\']).next().unwrap_or("").to_string();
                st.non_posix = base.starts_with("powershell")
                    || base.starts_with("pwsh")
                    || base.starts_with("cmd");
                st.pipefail = st.non_posix
                    || (["bash", "zsh", "ash"].contains(&base.as_str())
                        && words.iter().any(|w| {
                            w.starts_with('-') && !w.starts_with("--") && w.contains('o')
                        })
                        && words.iter().any(|w| w == "pipefail"));
            }
            "CMD" | "ENTRYPOINT" => {
                if ins.exec.is_none() && !ins.args.is_empty() {
                    c.add(
                        "DL3025",
                        ins.line,
                        format!("use arguments JSON notation for {kw} arguments"),
                    );
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
            "LABEL" => {
                labels::check_label(&mut c, ins, settings);
                sr.label(ins);
            }
            "HEALTHCHECK" => {
                sr.healthcheck();
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
                    c.add(
                        "DL3043",
                        ins.line,
                        "ONBUILD, FROM or MAINTAINER triggered from within ONBUILD",
                    );
                }
            }
            "ENV" => {
                let pairs = env_pairs(&ins.args);
                let mut defined: Vec<&str> = Vec::new();
                for (k, v) in &pairs {
                    if defined
                        .iter()
                        .any(|d| v.contains(&format!("${d}")) || v.contains(&format!("${{{d}}}")))
                    {
                        c.add(
                            "DL3044",
                            ins.line,
                            format!("{k} refers to a variable defined in the same ENV"),
                        );
                    }
                    defined.push(k);
                    if k == "PIP_NO_CACHE_DIR" {
                        st.pip_no_cache_env = true;
                    }
                }
                check_secrets(&mut c, ins);
                sensitive_names(&mut c, ins);
            }
            "ARG" => {
                check_secrets(&mut c, ins);
                sensitive_names(&mut c, ins);
            }
            "COPY" | "ADD" => {
                let words: Vec<String> = match &ins.exec {
                    Some(w) => w.clone(),
                    None => raw_words(&ins.args).into_iter().map(String::from).collect(),
                };
                sr.copy(ins, &words);
                let dest = words.last().cloned().unwrap_or_default();
                let sources = &words[..words.len().saturating_sub(1)];
                if kw == "COPY"
                    && words.len() > 2
                    && !dest.ends_with('/')
                    && !dest.ends_with('\\')
                    && ins.heredocs.is_empty()
                {
                    c.add(
                        "DL3021",
                        ins.line,
                        "COPY with more than 2 arguments requires the last argument to end with /",
                    );
                }
                if kw == "ADD" {
                    let remote = sources
                        .iter()
                        .any(|s| s.contains("://") || s.starts_with("git@"));
                    let archive = sources.iter().any(|s| {
                        [
                            ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
                            ".gz", ".bz2", ".xz", ".zip", ".tar.zst",
                        ]
                        .iter()
                        .any(|e| s.ends_with(e))
                    });
                    if remote && ins.flag("checksum").is_none() {
                        c.add(
                            "MK-DF-004",
                            ins.line,
                            "ADD of a remote URL without --checksum",
                        );
                    }
                    if !remote && !archive && ins.heredocs.is_empty() {
                        c.add(
                            "DL3020",
                            ins.line,
                            "use COPY instead of ADD for files and folders",
                        );
                    }
                }
                if let Some(from) = ins.flag("from") {
                    let lower = from.to_ascii_lowercase();
                    let is_index = from.parse::<usize>().is_ok_and(|i| i < idx);
                    let here = stages[idx].alias.as_deref().map(str::to_ascii_lowercase);
                    if here.as_deref() == Some(lower.as_str()) {
                        c.add(
                            "DL3023",
                            ins.line,
                            format!("COPY --from={from} references its own stage"),
                        );
                    } else if !aliases.contains_key(&lower)
                        && !is_index
                        && !from.contains([':', '/', '$'])
                    {
                        c.add(
                            "DL3022",
                            ins.line,
                            format!("COPY --from={from} does not reference a previous stage"),
                        );
                    }
                    if sources.len() == 1 && sources[0] == "/" {
                        c.add(
                            "DL3067",
                            ins.line,
                            "do not copy an entire filesystem from another stage",
                        );
                    }
                }
                let st = &stages[idx];
                let d = dest.trim_matches('"');
                let absolute = d.starts_with('/')
                    || d.starts_with('$')
                    || d.starts_with('\\')
                    || (d.len() >= 2 && d.as_bytes()[1] == b':');
                if kw == "COPY" && !absolute && !st.workdir && !d.is_empty() {
                    c.add(
                        "DL3045",
                        ins.line,
                        format!("COPY to relative destination {d} without WORKDIR set"),
                    );
                }
            }
            _ => {}
        }
    }
    sr.finish(&mut c, &df.hadolint_pragma_lines);
    let last = stages.len().saturating_sub(1);
    for (line, stage) in apt_lists {
        let used_later = stages
            .get(stage)
            .and_then(|s| s.alias.as_deref())
            .is_some_and(|a| used_aliases.iter().any(|u| u.eq_ignore_ascii_case(a)));
        if stage == last || used_later {
            c.add(
                "DL3009",
                line,
                "delete the apt-get lists after installing something",
            );
        }
    }
    if let Some(fin) = stages.last() {
        let is_windows = df.escape == '`' || fin.non_posix;
        match &fin.last_user {
            Some((u, line)) if u == "root" || u == "0" => {
                c.add("DL3002", *line, "last USER should not be root");
            }
            None if !is_windows => {
                c.add(
                    "MK-DF-001",
                    fin.from_line,
                    "the final stage sets no USER, so the container runs as root",
                );
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
                format!(
                    "{} {k}={} in {}",
                    kind.describe(),
                    mamori_secrets::redact(v),
                    ins.keyword
                ),
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
