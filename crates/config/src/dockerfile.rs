//! Dockerfile parser (escape directive, line continuations, heredocs, flags, exec form) and the
//! Dockerfile checks.

mod checks;
mod labels;
mod run_rules;
pub mod shell;
mod stage_rules;

use mamori_core::Finding;

use crate::hadolint::DockerfileSettings;
use crate::node::Pos;
use crate::suppress::{parse_pragma, Suppression};
use crate::{Limits, ReadError};

/// A heredoc attached to an instruction (`RUN <<EOF … EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word.
    pub name: String,
    /// The body lines joined with `\n`.
    pub body: String,
}

/// One instruction with its continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-case keyword (`RUN`, `FROM`, …).
    pub keyword: String,
    /// 1-based line where the instruction starts.
    pub line: u32,
    /// Leading `--name=value` flags (`--from=build`, `--mount=type=cache,…`).
    pub flags: Vec<(String, String)>,
    /// The arguments after the flags, continuation lines joined.
    pub args: String,
    /// The exec-form (JSON array) arguments, when the arguments are one.
    pub exec: Option<Vec<String>>,
    /// Heredocs that follow the instruction.
    pub heredocs: Vec<Heredoc>,
}

impl Instruction {
    /// The value of flag `name`, if present.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The position of the instruction (column 1, as hadolint reports).
    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: 1,
        }
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dockerfile {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// Instructions in order.
    pub instructions: Vec<Instruction>,
    /// Inline suppressions (`# mamori:ignore=`, `# hadolint ignore=`) for the next instruction.
    pub suppressions: Vec<Suppression>,
    /// `# hadolint shell=powershell` (or `mamori:shell=powershell`) pragma present.
    pub powershell_pragma: bool,
    /// Lines of `# hadolint ignore=` pragmas (DL1001).
    pub hadolint_pragma_lines: Vec<u32>,
}

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn line_no(idx: usize) -> u32 {
    u32::try_from(idx + 1).unwrap_or(u32::MAX)
}

/// Heredoc delimiters opened in `args` (`<<EOF`, `<<-EOF`, `<<"EOF"`), with the strip-tabs flag.
fn heredoc_names(args: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = args;
    while let Some(i) = rest.find("<<") {
        rest = &rest[i + 2..];
        let (strip, r) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let r = r.trim_start_matches(['"', '\'']);
        let name: String = r
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && name.chars().next().is_some_and(|c| !c.is_ascii_digit()) {
            out.push((name, strip));
        }
    }
    out
}

fn split_flags(keyword: &str, args: &str) -> (Vec<(String, String)>, String) {
    let mut flags = Vec::new();
    if !matches!(keyword, "FROM" | "RUN" | "COPY" | "ADD" | "HEALTHCHECK") {
        return (flags, args.trim().to_string());
    }
    let mut rest = args.trim_start();
    while let Some(r) = rest.strip_prefix("--") {
        let end = r.find(char::is_whitespace).unwrap_or(r.len());
        let token = &r[..end];
        let (name, value) = token.split_once('=').unwrap_or((token, ""));
        flags.push((name.to_string(), value.to_string()));
        rest = r[end..].trim_start();
    }
    (flags, rest.trim_end().to_string())
}

fn exec_form(args: &str) -> Option<Vec<String>> {
    let t = args.trim();
    if !t.starts_with('[') {
        return None;
    }
    let node = crate::json::read_json(t, &Limits::default()).ok()?;
    node.items()
        .iter()
        .map(|n| n.as_str().map(String::from))
        .collect()
}

/// Parses a Dockerfile. Never fails on content: unknown instructions are kept as they are (the
/// checks ignore them); the only error is an unterminated heredoc.
pub fn parse(text: &str) -> Result<Dockerfile, ReadError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut df = Dockerfile {
        escape: '\\',
        ..Dockerfile::default()
    };
    let mut i = 0;
    // Parser directives: leading `# name=value` comments.
    while i < lines.len() {
        let t = lines[i].trim();
        let Some(body) = t.strip_prefix('#') else {
            break;
        };
        let Some((k, v)) = body.split_once('=') else {
            break;
        };
        let k = k.trim().to_ascii_lowercase();
        if k.contains(char::is_whitespace) {
            break;
        }
        if k == "escape" {
            if let Some(c) = v.trim().chars().next() {
                df.escape = c;
            }
        }
        i += 1;
    }
    let mut pending_ignores: Vec<(Vec<String>, bool)> = Vec::new();
    while i < lines.len() {
        let raw = lines[i];
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            i += 1;
            continue;
        }
        if trimmed.starts_with('#') {
            if let Some(p) = parse_pragma(trimmed) {
                // hadolint's DL1001 flags `ignore=` pragmas, not `global ignore=`.
                if p.hadolint && !p.global {
                    df.hadolint_pragma_lines.push(line_no(i));
                }
                if p.global {
                    df.suppressions.push(Suppression {
                        first: 1,
                        last: u32::MAX,
                        ids: p.ids,
                        hadolint: true,
                    });
                } else {
                    pending_ignores.push((p.ids, p.hadolint));
                }
            }
            if trimmed.contains("shell=powershell") {
                df.powershell_pragma = true;
            }
            i += 1;
            continue;
        }
        let start = i;
        let mut joined = String::new();
        let mut cur = raw.trim_end();
        loop {
            match cur.strip_suffix(df.escape) {
                Some(head) if i < lines.len() => {
                    joined.push_str(head);
                    joined.push(' ');
                    i += 1;
                    // Skip comment and empty lines inside a continuation, as the builder does.
                    while i < lines.len() {
                        let t = lines[i].trim();
                        if t.starts_with('#') || t.is_empty() {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    if i >= lines.len() {
                        break;
                    }
                    cur = lines[i].trim_end();
                }
                _ => {
                    joined.push_str(cur);
                    break;
                }
            }
        }
        i += 1;
        let joined = joined.trim_start();
        let (kw, rest) = match joined.find(char::is_whitespace) {
            Some(p) => (&joined[..p], &joined[p..]),
            None => (joined, ""),
        };
        let keyword = kw.to_ascii_uppercase();
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for (name, strip) in heredoc_names(rest) {
                let open_line = i;
                let mut body = Vec::new();
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(ReadError::new(
                            Pos {
                                line: line_no(open_line.saturating_sub(1)),
                                col: 1,
                            },
                            format!("unterminated heredoc <<{name}"),
                        ));
                    };
                    i += 1;
                    let cmp = if strip { l.trim_start_matches('\t') } else { l };
                    if cmp.trim_end() == name {
                        break;
                    }
                    body.push(cmp);
                }
                heredocs.push(Heredoc {
                    name,
                    body: body.join("\n"),
                });
            }
        }
        let (flags, args) = split_flags(&keyword, rest);
        let exec = exec_form(&args);
        let line = line_no(start);
        for (ids, hadolint) in pending_ignores.drain(..) {
            df.suppressions.push(Suppression {
                first: line,
                last: line,
                ids,
                hadolint,
            });
        }
        df.instructions.push(Instruction {
            keyword,
            line,
            flags,
            args,
            exec,
            heredocs,
        });
    }
    Ok(df)
}

/// Whether `kw` is a Dockerfile instruction keyword.
pub fn is_keyword(kw: &str) -> bool {
    KEYWORDS.contains(&kw)
}

/// Parses and checks one Dockerfile; returns the findings and its inline suppressions
/// (without hadolint's pragmas when `settings.disable_ignore_pragma` is set).
pub fn check(
    path: &str,
    text: &str,
    settings: &DockerfileSettings,
) -> (Vec<Finding>, Vec<Suppression>) {
    match parse(text) {
        Ok(mut df) => {
            let findings = checks::run(path, &df, settings);
            if settings.disable_ignore_pragma {
                df.suppressions.retain(|s| !s.hadolint);
            }
            (findings, df.suppressions)
        }
        Err(e) => (
            vec![crate::rules::finding("DL1000", path, e.pos, e.message)],
            Vec::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_comments_and_flags() {
        let df = parse(
            "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN apt-get update && \\\n# a comment\n    apt-get install -y curl\nCOPY --from=build /a /b\n",
        )
        .unwrap();
        assert_eq!(df.instructions.len(), 3);
        let from = &df.instructions[0];
        assert_eq!(from.flag("platform"), Some("$BUILDPLATFORM"));
        assert_eq!(from.args, "golang:1.22 AS build");
        let run = &df.instructions[1];
        assert_eq!(run.line, 3);
        assert!(run.args.contains("apt-get update &&") && run.args.contains("install -y curl"));
        assert_eq!(df.instructions[2].line, 6);
    }

    #[test]
    fn escape_directive_and_exec_form() {
        let df = parse("# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL [\"powershell\", \"-Command\"]\nRUN Write-Host a; `\n    Write-Host b\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(
            df.instructions[1].exec.as_deref().map(<[String]>::len),
            Some(2)
        );
        assert!(df.instructions[2].args.contains("Write-Host b"));
    }

    #[test]
    fn heredocs() {
        let df = parse("FROM alpine:3\nRUN <<EOF\napk add curl\necho hi | sh\nEOF\nUSER 1000\n")
            .unwrap();
        assert_eq!(df.instructions.len(), 3);
        assert_eq!(
            df.instructions[1].heredocs[0].body,
            "apk add curl\necho hi | sh"
        );
        assert_eq!(df.instructions[2].line, 6);
        let err = parse("FROM a\nRUN <<EOF\nx\n").unwrap_err();
        assert!(err.message.contains("heredoc"));
    }

    #[test]
    fn ignore_pragmas_cover_next_instruction() {
        let df = parse("FROM a:1\n# hadolint ignore=DL3008\nRUN apt-get install x\n").unwrap();
        assert!(df.suppressions[0].covers("DL3008", 3));
    }
}
