//! Image configuration checks: from the image config, its history and the special files of the
//! squashed view to [`Finding`]s.
//!
//! | rule | what | severity |
//! |---|---|---|
//! | `MK-IMG-001` | runs as root (no `USER`, or `USER root`/`0`) | medium |
//! | `MK-IMG-002` | `ENV` holding a secret (`mamori_secrets::check_assignment`), or `ARG`/`ENV` secret in history | high |
//! | `MK-IMG-003` | `ADD` of a remote URL in the history | medium |
//! | `MK-IMG-004` | exposes port 22 (SSH) | medium |
//! | `MK-IMG-005` | no `HEALTHCHECK` | low |
//! | `MK-IMG-006` | setuid/setgid file written by a layer above the bottom (base) layer | medium |
//! | `MK-IMG-007` | world-writable file | medium |
//!
//! Values of secrets are never printed: messages name the variable and the value's length.

use mamori_core::{Area, Finding, Location, Reference, Severity, Target};

use crate::Inventory;

/// Most findings per file rule (the rest are summarised in one more finding).
pub const MAX_PER_RULE: usize = 50;

const SECRET_WORDS: [&str; 10] = [
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "AUTH_KEY",
];

/// Whether an environment variable name looks like it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    let pointer = ["_FILE", "_PATH", "_DIR", "_URL_FILE"]
        .iter()
        .any(|s| up.ends_with(s));
    !pointer && SECRET_WORDS.iter().any(|w| up.contains(w))
}

fn finding(rule: &str, title: &str, sev: Severity, target: &Target) -> Finding {
    Finding::new(rule, title, sev, Area::Image)
        .with_target(target.clone())
        .with_nist("3.1.2")
}

/// Runs every check on a scanned image.
pub fn check(inv: &Inventory) -> Vec<Finding> {
    let target = Target::image(inv.source.clone());
    let mut out = Vec::new();
    if let Some(cfg) = &inv.config {
        let user = cfg.config.user.as_deref().unwrap_or("").trim();
        let name = user.split(':').next().unwrap_or("");
        if name.is_empty() || name == "root" || name == "0" {
            out.push(
                finding(
                    "MK-IMG-001",
                    "Image runs as root",
                    Severity::Medium,
                    &target,
                )
                .with_message(if user.is_empty() {
                    "the image config sets no USER, so containers run as root by default"
                        .to_string()
                } else {
                    format!("the image config sets USER {user:?}")
                })
                .with_remediation("add a non-root USER (e.g. USER 10001) to the Dockerfile")
                .with_reference(Reference::Cis("CIS Docker 4.1".into()))
                .with_reference(Reference::Peer("DS002".into())),
            );
        }
        for kv in cfg.config.env.iter().flatten() {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if v.is_empty() {
                continue;
            }
            if let Some(kind) = mamori_secrets::check_assignment(k, v) {
                out.push(
                    finding("MK-IMG-002", "Secret in image environment", Severity::High, &target)
                        .with_nist("3.1.4")
                        .with_message(format!(
                            "ENV {k} in the image config holds a {} ({}, {} characters)",
                            kind.describe(),
                            mamori_secrets::redact(v),
                            v.chars().count()
                        ))
                        .with_location(Location {
                            pointer: Some("/config/Env".into()),
                            ..Location::default()
                        })
                        .with_remediation("pass secrets at run time (secret mounts, orchestrator secrets), not in ENV")
                        .with_reference(Reference::Cis("CIS Docker 4.10".into())),
                );
            }
        }
        for (i, h) in cfg.history.iter().enumerate() {
            let Some(cmd) = h.created_by.as_deref() else {
                continue;
            };
            if let Some(url) = remote_add(cmd) {
                out.push(
                    finding(
                        "MK-IMG-003",
                        "ADD of a remote URL",
                        Severity::Medium,
                        &target,
                    )
                    .with_nist("3.1.5")
                    .with_message(format!("history step {i} downloads {url} with ADD"))
                    .with_location(Location {
                        pointer: Some(format!("/history/{i}/created_by")),
                        ..Location::default()
                    })
                    .with_remediation(
                        "download with a checksum-verified RUN step, or ADD --checksum",
                    )
                    .with_reference(Reference::Cis("CIS Docker 4.9".into()))
                    .with_reference(Reference::Peer("DL3020".into())),
                );
            }
            for name in history_secrets(cmd) {
                out.push(
                    finding(
                        "MK-IMG-002",
                        "Secret in image build history",
                        Severity::High,
                        &target,
                    )
                    .with_nist("3.1.4")
                    .with_message(format!(
                        "history step {i} sets {name} with a value (redacted)"
                    ))
                    .with_location(Location {
                        pointer: Some(format!("/history/{i}/created_by")),
                        ..Location::default()
                    })
                    .with_remediation("use build secrets (RUN --mount=type=secret), never ARG/ENV"),
                );
            }
        }
        if cfg
            .config
            .exposed_ports
            .as_ref()
            .is_some_and(|p| p.keys().any(|k| k.split('/').next() == Some("22")))
        {
            out.push(
                finding("MK-IMG-004", "SSH port exposed", Severity::Medium, &target)
                    .with_message("the image exposes port 22")
                    .with_remediation(
                        "do not run sshd in containers; use kubectl exec or debug containers",
                    )
                    .with_reference(Reference::Peer("DS004".into())),
            );
        }
        let hc_test = cfg
            .config
            .healthcheck
            .as_ref()
            .and_then(|h| h.get("Test"))
            .and_then(|t| t.as_array());
        let has_hc = hc_test
            .is_some_and(|t| t.first().and_then(|v| v.as_str()) != Some("NONE") && !t.is_empty());
        if !has_hc {
            out.push(
                finding("MK-IMG-005", "No HEALTHCHECK", Severity::Low, &target)
                    .with_message("the image config defines no HEALTHCHECK")
                    .with_remediation(
                        "add a HEALTHCHECK, or rely on Kubernetes liveness/readiness probes",
                    )
                    .with_reference(Reference::Cis("CIS Docker 4.6".into()))
                    .with_reference(Reference::Peer("DS026".into())),
            );
        }
    }
    let layer_digest = |i: usize| inv.layers.get(i).map(|l| l.digest.clone());
    let mut suid = Vec::new();
    let mut ww = Vec::new();
    for f in &inv.special_files {
        if f.mode & 0o6000 != 0 && f.layer > 0 {
            suid.push(f);
        }
        if f.mode & 0o002 != 0 {
            ww.push(f);
        }
    }
    for (rule, title, files, what) in [
        (
            "MK-IMG-006",
            "setuid/setgid file added by the image",
            &suid,
            "has the setuid/setgid bit",
        ),
        (
            "MK-IMG-007",
            "World-writable file",
            &ww,
            "is world-writable",
        ),
    ] {
        for f in files.iter().take(MAX_PER_RULE) {
            out.push(
                finding(rule, title, Severity::Medium, &target)
                    .with_message(format!("/{} {what} (mode {:04o})", f.path, f.mode))
                    .with_location(Location {
                        path: Some(format!("/{}", f.path)),
                        layer: layer_digest(f.layer),
                        ..Location::default()
                    })
                    .with_remediation("remove the bit in the Dockerfile (chmod u-s,g-s,o-w) unless it is required"),
            );
        }
        if files.len() > MAX_PER_RULE {
            out.push(
                finding(rule, title, Severity::Medium, &target)
                    .with_message(format!("and {} more files", files.len() - MAX_PER_RULE)),
            );
        }
    }
    out
}

/// The URL of an `ADD http(s)://…` step, if any.
fn remote_add(cmd: &str) -> Option<&str> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let add = words.iter().position(|w| *w == "ADD")?;
    words[add + 1..]
        .iter()
        .filter(|w| !w.starts_with("--"))
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .copied()
}

/// Names of secret-looking `NAME=value` assignments in a history step (ARG/ENV).
fn history_secrets(cmd: &str) -> Vec<String> {
    if !(cmd.contains("ARG ") || cmd.contains("ENV ") || cmd.starts_with("|")) {
        return Vec::new();
    }
    cmd.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter(|(k, v)| {
            !v.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && is_secret_name(k)
        })
        .map(|(k, _)| k.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        assert!(is_secret_name("DB_PASSWORD"));
        assert!(is_secret_name("github_token"));
        assert!(!is_secret_name("DB_PASSWORD_FILE"));
        assert!(!is_secret_name("PATH"));
    }

    #[test]
    fn remote_add_and_history_secrets() {
        assert_eq!(
            remote_add("ADD https://example.com/x.tgz /opt/ # buildkit"),
            Some("https://example.com/x.tgz")
        );
        assert_eq!(remote_add("/bin/sh -c #(nop) ADD file:abc in / "), None);
        assert_eq!(history_secrets("ARG API_TOKEN=abc123"), ["API_TOKEN"]);
        assert!(history_secrets("RUN echo TOKEN=x").is_empty());
        assert!(history_secrets("ENV PASSWORD=").is_empty());
    }
}
