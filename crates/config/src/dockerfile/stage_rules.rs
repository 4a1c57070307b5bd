//! hadolint rules that follow stages or need the `.hadolint.yaml`: DL3010 (archives copied then
//! extracted), DL3026 (trusted registries), DL3049 (schema labels missing), DL3057 (HEALTHCHECK
//! missing), DL3063 (reserved stage names), DL3064 (sensitive ARG/ENV names), DL3065
//! (`--platform=$TARGETPLATFORM`), DL1001 (inline ignore pragmas).

use super::checks::{env_pairs, Ctx};
use super::labels::{label_pairs, StageTracker};
use super::shell::Script;
use super::Instruction;
use crate::hadolint::{registry_matches, DockerfileSettings};

/// hadolint's archive suffixes (DL3010), compared case-sensitively as hadolint does.
const ARCHIVES: &[&str] = &[
    ".tar", ".Z", ".bz2", ".gz", ".lz", ".lzma", ".tZ", ".tb2", ".tbz", ".tbz2", ".tgz", ".tlz",
    ".tpz", ".txz", ".xz",
];
const UNPACKERS: &[&str] = &[
    "unzip",
    "gunzip",
    "bunzip2",
    "unlzma",
    "unxz",
    "zgz",
    "uncompress",
    "zcat",
    "gzcat",
];
/// hadolint's DL3064 list of well-known secret variable names.
const SENSITIVE_NAMES: &[&str] = &[
    "ACCESS_TOKEN",
    "APPLICATION_KEY",
    "APP_SECRET",
    "AUTH_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "BITTREX_API_KEY",
    "BITTREX_API_SECRET",
    "CF_PASSWORD",
    "CF_USERNAME",
    "CIRCLE_TOKEN",
    "CI_DEPLOY_PASSWORD",
    "CI_DEPLOY_USER",
    "DOCKERHUB_PASSWORD",
    "DOCKER_EMAIL",
    "DOCKER_PASSWORD",
    "DOCKER_USERNAME",
    "FACEBOOK_ACCESS_TOKEN",
    "FACEBOOK_APP_ID",
    "FACEBOOK_APP_SECRET",
    "FIREBASE_API_TOKEN",
    "FIREBASE_TOKEN",
    "FOSSA_API_KEY",
    "GH_ENTERPRISE_TOKEN",
    "GH_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GITHUB_TOKEN",
    "HEROKU_API_KEY",
    "HEROKU_API_USER",
    "NPM_AUTH_TOKEN",
    "NPM_TOKEN",
    "OKTA_AUTHN_GROUPID",
    "OKTA_CLIENT_ORGURL",
    "OKTA_CLIENT_TOKEN",
    "OKTA_OAUTH2_CLIENTID",
    "OKTA_OAUTH2_CLIENTSECRET",
    "OPENAI_API_KEY",
    "OS_PASSWORD",
    "OS_USERNAME",
    "POSTGRES_PASSWORD",
    "SLACK_TOKEN",
    "STRIPE_API_KEY",
    "STRIPE_DEVICE_NAME",
    "TRAVIS_OS_NAME",
    "TRAVIS_SECURE_ENV_VARS",
    "TRAVIS_SUDO",
    "VAULT_CLIENT_KEY",
    "VAULT_TOKEN",
];
const SENSITIVE_PARTS: &[&str] = &[
    "api_key",
    "client_key",
    "password",
    "private",
    "secret",
    "token",
    "username",
];

/// An image reference without registry, tag and digest, as hadolint compares stage names.
fn image_name(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => n,
        _ => name,
    };
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) => rest,
        _ => name,
    }
}

fn is_archive(name: &str) -> bool {
    ARCHIVES.iter().any(|e| name.ends_with(e))
}

fn basename(p: &str) -> &str {
    let p = p.trim_matches(['"', '\'']);
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

/// State of the stage rules over one Dockerfile.
pub(super) struct StageRules<'s> {
    settings: &'s DockerfileSettings,
    /// One tracker per schema label (DL3049), in schema order.
    labels: Vec<(String, StageTracker)>,
    health: StageTracker,
    /// Archives copied into the current stage: (COPY line, basename, extracted).
    archives: Vec<(u32, String, bool)>,
    /// Aliases defined so far (DL3026 lets `FROM alias` through).
    aliases: Vec<String>,
    /// The current stage's name for DL3049 (alias, else image).
    current: String,
}

impl<'s> StageRules<'s> {
    pub(super) fn new(settings: &'s DockerfileSettings) -> Self {
        StageRules {
            settings,
            labels: settings
                .label_schema
                .keys()
                .map(|k| (k.clone(), StageTracker::default()))
                .collect(),
            health: StageTracker::default(),
            archives: Vec::new(),
            aliases: Vec::new(),
            current: String::new(),
        }
    }

    pub(super) fn from(
        &mut self,
        c: &mut Ctx<'_>,
        ins: &Instruction,
        image: &str,
        alias: Option<&str>,
    ) {
        let line = ins.line;
        if let Some(p) = ins.flag("platform") {
            if p == "$TARGETPLATFORM" || p == "${TARGETPLATFORM}" {
                c.add(
                    "DL3065",
                    line,
                    "setting FROM --platform to $TARGETPLATFORM is redundant: it is the default",
                );
            }
        }
        if let Some(a) = alias {
            if a == "scratch" || a == "context" {
                c.add(
                    "DL3063",
                    line,
                    format!("stage name {a:?} is a reserved word"),
                );
            }
        }
        self.trusted_registry(c, line, image);
        if let Some(a) = alias {
            self.aliases.push(a.to_string());
        }
        let name = image_name(image);
        for (_, t) in &mut self.labels {
            t.from(name, alias, line, true);
        }
        self.health.from(name, alias, line, false);
        self.current = alias.unwrap_or(name).to_string();
        // hadolint restarts DL3010 at every FROM, so only the last stage is reported.
        self.archives.clear();
    }

    fn trusted_registry(&mut self, c: &mut Ctx<'_>, line: u32, image: &str) {
        let trusted = &self.settings.trusted_registries;
        if trusted.is_empty() || image == "scratch" {
            return;
        }
        if self.aliases.iter().any(|a| a == image_name(image)) {
            return;
        }
        // As in hadolint's parser, the first path part is a registry when it has a dot or a port.
        let registry = image
            .split_once('/')
            .map(|(first, _)| first)
            .filter(|f| f.contains(['.', ':']));
        let allowed = match registry {
            Some(r) => trusted.iter().any(|p| registry_matches(p, r)),
            None => trusted
                .iter()
                .any(|p| p == "docker.io" || p == "hub.docker.com"),
        };
        if !allowed {
            c.add(
                "DL3026",
                line,
                format!(
                    "use only an allowed registry in the FROM image: {} is not in trustedRegistries",
                    registry.unwrap_or("docker.io")
                ),
            );
        }
    }

    pub(super) fn copy(&mut self, ins: &Instruction, words: &[String]) {
        match ins.flag("from") {
            Some(src) => {
                for (_, t) in &mut self.labels {
                    t.silence(src);
                }
            }
            None if ins.keyword == "COPY" => {
                let Some((dest, sources)) = words.split_last() else {
                    return;
                };
                if is_archive(dest.trim_matches(['"', '\''])) {
                    self.archives
                        .push((ins.line, basename(dest).to_string(), false));
                } else {
                    for s in sources {
                        let b = basename(s);
                        if is_archive(b) {
                            self.archives.push((ins.line, b.to_string(), false));
                        }
                    }
                }
            }
            None => {}
        }
    }

    pub(super) fn run(&mut self, script: &Script) {
        if self.archives.is_empty() {
            return;
        }
        for cmd in &script.commands {
            let n = cmd.name.as_str();
            let extracts = (n == "tar"
                && cmd.args.iter().any(|a| {
                    a == "--extract" || a == "--get" || (a.starts_with('-') && a.contains('x'))
                }))
                || UNPACKERS.contains(&n);
            if !extracts {
                continue;
            }
            let names: Vec<&str> = cmd
                .args
                .iter()
                .filter(|a| !a.starts_with('-'))
                .map(|a| basename(a))
                .collect();
            for a in &mut self.archives {
                if names.contains(&a.1.as_str()) {
                    a.2 = true;
                }
            }
        }
    }

    pub(super) fn label(&mut self, ins: &Instruction) {
        let pairs = label_pairs(ins);
        let current = self.current.clone();
        for (name, t) in &mut self.labels {
            if pairs.iter().any(|(k, _)| k == name) {
                t.silence(&current);
                t.good();
            }
        }
    }

    pub(super) fn healthcheck(&mut self) {
        self.health.good();
    }

    /// Reports what is known only at the end of the file.
    pub(super) fn finish(self, c: &mut Ctx<'_>, pragma_lines: &[u32]) {
        for (line, name, extracted) in &self.archives {
            if *extracted {
                c.add(
                    "DL3010",
                    *line,
                    format!("use ADD for extracting archives into an image: {name}"),
                );
            }
        }
        for (name, t) in &self.labels {
            for line in t.bad_lines() {
                c.add_each("DL3049", line, format!("label `{name}` is missing"));
            }
        }
        for line in self.health.bad_lines() {
            c.add("DL3057", line, "HEALTHCHECK instruction missing");
        }
        for line in pragma_lines {
            c.add(
                "DL1001",
                *line,
                "please refrain from using inline ignore pragmas # hadolint ignore=...",
            );
        }
    }
}

/// DL3064: hadolint's name-based check of `ARG`/`ENV` names.
pub(super) fn sensitive_names(c: &mut Ctx<'_>, ins: &Instruction) {
    let names: Vec<String> = if ins.keyword == "ARG" {
        let a = ins.args.trim();
        vec![a.split('=').next().unwrap_or(a).to_string()]
    } else {
        env_pairs(&ins.args).into_iter().map(|(k, _)| k).collect()
    };
    let hit = names.iter().find(|n| {
        SENSITIVE_NAMES.contains(&n.to_ascii_uppercase().as_str())
            || SENSITIVE_PARTS
                .iter()
                .any(|p| n.to_ascii_lowercase().contains(p))
    });
    if let Some(n) = hit {
        c.add(
            "DL3064",
            ins.line,
            format!("potentially sensitive data in {} {n}", ins.keyword),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::image_name;

    #[test]
    fn image_names_drop_registry_tag_and_digest() {
        assert_eq!(image_name("alpine:3.19"), "alpine");
        assert_eq!(image_name("docker.io/library/alpine:3"), "library/alpine");
        assert_eq!(image_name("localhost:5000/x:1"), "x");
        assert_eq!(image_name("ubuntu@sha256:abc"), "ubuntu");
        assert_eq!(image_name("base"), "base");
        assert_eq!(image_name("team/app"), "team/app");
    }
}
