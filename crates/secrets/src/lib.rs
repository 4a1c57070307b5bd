//! Secret detectors of mamori, shared by the configuration scanner and the image scanner.
//!
//! Two entry points, both pure and allocation-light:
//!
//! - [`scan_text`] looks at a whole text (a file's contents) line by line and returns every
//!   [`SecretMatch`] with its 1-based line and column: AWS access key ids and secret keys,
//!   PEM/OpenSSH private keys, GitHub/GitLab/Slack tokens, JWTs and `NAME=value` / `name: value`
//!   assignments of passwords in `.env` and configuration files.
//! - [`check_assignment`] judges one name/value pair, such as a container environment variable,
//!   a Dockerfile `ENV`/`ARG` or a CloudFormation `Environment` entry.
//!
//! Output never carries the secret itself: [`redact`] keeps at most four leading characters.
//!
//! ```
//! use mamori_secrets::{check_assignment, scan_text, SecretKind};
//!
//! let found = scan_text("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n");
//! assert_eq!(found[0].kind, SecretKind::AwsAccessKeyId);
//! assert_eq!(found[0].line, 1);
//! assert!(!found[0].redacted.contains("IOSFODNN7"));
//!
//! assert_eq!(check_assignment("DB_PASSWORD", "Sup3rS3cret!"), Some(SecretKind::Password));
//! assert_eq!(check_assignment("DB_PASSWORD", "${DB_PASSWORD}"), None);
//! assert_eq!(check_assignment("PASSWORD_FILE", "/run/secrets/db"), None);
//! ```

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// What kind of secret a detector found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsAccessKeyId,
    /// An AWS secret access key (40 characters of base64 next to a secret-key name).
    AwsSecretAccessKey,
    /// A PEM or OpenSSH private key block.
    PrivateKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// A GitLab personal access token (`glpat-`).
    GitlabToken,
    /// A Slack token (`xoxb-`, `xoxp-`, …).
    SlackToken,
    /// A JSON Web Token.
    Jwt,
    /// A literal password, token or API key assigned to a secret-like name.
    Password,
}

impl SecretKind {
    /// A short human description.
    pub fn describe(self) -> &'static str {
        match self {
            SecretKind::AwsAccessKeyId => "AWS access key id",
            SecretKind::AwsSecretAccessKey => "AWS secret access key",
            SecretKind::PrivateKey => "private key",
            SecretKind::GithubToken => "GitHub token",
            SecretKind::GitlabToken => "GitLab token",
            SecretKind::SlackToken => "Slack token",
            SecretKind::Jwt => "JSON Web Token",
            SecretKind::Password => "literal password or secret",
        }
    }
}

/// One secret found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMatch {
    /// What was found.
    pub kind: SecretKind,
    /// 1-based line of the start of the secret.
    pub line: u32,
    /// 1-based column (in characters) of the start of the secret.
    pub column: u32,
    /// The secret with all but its first characters masked.
    pub redacted: String,
}

struct Pattern {
    kind: SecretKind,
    re: Regex,
}

static TOKEN_PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |kind, re: &str| Pattern {
        kind,
        re: Regex::new(re).expect("ok: constant pattern"), // ok: constant pattern, tested
    };
    vec![
        p(
            SecretKind::AwsAccessKeyId,
            r"\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z2-7]{16}\b",
        ),
        p(
            SecretKind::PrivateKey,
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
        ),
        p(
            SecretKind::GithubToken,
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
        ),
        p(SecretKind::GitlabToken, r"\bglpat-[A-Za-z0-9_\-]{20,}"),
        p(
            SecretKind::SlackToken,
            r"\bxox[baprs]-[0-9]{6,}-[0-9A-Za-z\-]{6,}",
        ),
        p(
            SecretKind::Jwt,
            r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}",
        ),
    ]
});

static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    // `NAME=value`, `export NAME=value`, `name: value`, `"name": "value"`.
    Regex::new(
        r#"^\s*(?:export\s+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*(?:=|:)\s*["']?([^"'\s#][^"'#]*?)["']?\s*,?\s*$"#,
    )
    .expect("ok: constant pattern") // ok: constant pattern, tested
});

static AWS_SECRET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9/+]{40}$").expect("ok: constant pattern") // ok: constant pattern
});

/// Words that make a variable name secret-like.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "accesskey",
    "access_key",
    "privatekey",
    "private_key",
    "credential",
    "auth_key",
    "client_secret",
];

/// Suffixes that say the variable holds a reference to a secret, not the secret.
const REFERENCE_SUFFIXES: &[&str] = &[
    "_file",
    "_path",
    "_dir",
    "_url",
    "_uri",
    "_name",
    "_id",
    "_arn",
    "_length",
    "_len",
    "_ref",
    "_env",
    "_key_id",
    "_version",
    "_endpoint",
    "_type",
    "_policy",
    "_enabled",
    "_field",
    "_location",
    "_header",
    "_ttl",
    "_expiry",
    "_mode",
    "_host",
    "_user",
    "_username",
    "_kms_key",
    "_key_arn",
    "_secret_name",
    "_prefix",
];

/// Whether a variable or key name looks like it holds a secret (`DB_PASSWORD`, `apiToken`).
pub fn is_secret_name(name: &str) -> bool {
    let lower = snake_case(name);
    if REFERENCE_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return false;
    }
    // `NoEcho`-style booleans and key ids are not secrets.
    if lower.ends_with("keyid") || lower.ends_with("secretname") || lower.ends_with("secretarn") {
        return false;
    }
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// `DBPasswordArn` → `db_password_arn`; `api-key.file` → `api_key_file`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == '.' {
            out.push('_');
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Whether a value is a placeholder or a reference rather than a literal secret.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    if v.len() < 4 {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    v.starts_with('$')
        || v.contains("${")
        || v.contains("{{")
        || v.starts_with('<')
        || v.starts_with('/')
        || v.starts_with("arn:")
        || lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("file:")
        || lower.starts_with("secret:")
        || matches!(
            lower.as_str(),
            "true" | "false" | "null" | "none" | "changeme" | "change_me" | "redacted"
        )
        || lower.chars().all(|c| c == '*' || c == 'x' || c == '.')
        || (lower.starts_with("your") && lower.contains("here"))
}

/// Judges one name/value pair (an environment variable, a Dockerfile `ENV`, a template key).
///
/// Returns the kind of secret when the value is a recognisable token, or when the name is
/// secret-like and the value is a literal rather than a placeholder or a reference.
pub fn check_assignment(name: &str, value: &str) -> Option<SecretKind> {
    let value = value.trim();
    if let Some(kind) = token_kind(value) {
        return Some(kind);
    }
    let lower = name.to_ascii_lowercase();
    if (lower.contains("secret_access_key") || lower.contains("secretaccesskey"))
        && AWS_SECRET_VALUE.is_match(value)
    {
        return Some(SecretKind::AwsSecretAccessKey);
    }
    // `GOOGLE_API_KEY: GOOGLE_API_KEY_VAL`: a template placeholder, not a value.
    let looks_like_identifier = value.contains('_')
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if is_secret_name(name) && !is_placeholder(value) && !looks_like_identifier {
        return Some(SecretKind::Password);
    }
    None
}

/// The kind of the first recognisable token in `value`, if any.
pub fn token_kind(value: &str) -> Option<SecretKind> {
    TOKEN_PATTERNS
        .iter()
        .find(|p| p.re.is_match(value))
        .map(|p| p.kind)
}

/// Masks a secret, keeping at most four leading characters (fewer for short values).
pub fn redact(secret: &str) -> String {
    let keep = match secret.chars().count() {
        0..=8 => 0,
        9..=16 => 2,
        _ => 4,
    };
    let head: String = secret.chars().take(keep).collect();
    format!("{head}****")
}

/// Scans a whole text, line by line, for tokens and secret assignments.
///
/// Two searches over the whole text pick the lines worth a closer look: one for any token
/// pattern, one for the words a secret-like name must contain ([`NAME_HINTS`]); only those
/// lines go through the per-line patterns. The result is the same as judging every line (a
/// test compares both), at a fraction of the cost on ordinary files.
pub fn scan_text(text: &str) -> Vec<SecretMatch> {
    let mut lines = candidate_lines(text, &ANY_TOKEN);
    lines.extend(candidate_lines(text, &NAME_HINT));
    if lines.is_empty() {
        return Vec::new();
    }
    lines.sort_unstable();
    lines.dedup();
    let mut out = Vec::new();
    let mut want = lines.into_iter().peekable();
    for (idx, line) in text.lines().enumerate() {
        let Some(&next) = want.peek() else {
            break;
        };
        if idx != next {
            continue;
        }
        want.next();
        let line_no = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        scan_line(line, line_no, &mut out);
    }
    out
}

/// 0-based numbers of the lines holding a match of `re` (ascending, maybe repeated).
fn candidate_lines(text: &str, re: &Regex) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut line, mut at) = (0usize, 0usize);
    for m in re.find_iter(text) {
        line += memchr::memchr_iter(b'\n', &text.as_bytes()[at..m.start()]).count();
        at = m.start();
        out.push(line);
    }
    out
}

/// Every word of [`SECRET_WORDS`] contains one of these (case-insensitively, before the
/// name is put in snake case), and so does every name `check_assignment` accepts without a
/// token in its value; a line with none of them holds no secret assignment.
pub const NAME_HINTS: &[&str] = &["pass", "pwd", "secret", "token", "key", "credential"];

/// Any token pattern (none of them matches across a line break).
static ANY_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    let alternation: Vec<String> = TOKEN_PATTERNS
        .iter()
        .map(|p| format!("(?:{})", p.re.as_str()))
        .collect();
    Regex::new(&alternation.join("|")).expect("ok: constant patterns") // ok: constant patterns
});

static NAME_HINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!("(?i){}", NAME_HINTS.join("|"))).expect("ok: constant pattern")
    // ok: constant pattern
});

fn column_of(line: &str, byte: usize) -> u32 {
    let chars = line.get(..byte).map_or(0, |s| s.chars().count());
    u32::try_from(chars + 1).unwrap_or(u32::MAX)
}

fn scan_line(line: &str, line_no: u32, out: &mut Vec<SecretMatch>) {
    let before = out.len();
    for pattern in TOKEN_PATTERNS.iter() {
        for m in pattern.re.find_iter(line) {
            out.push(SecretMatch {
                kind: pattern.kind,
                line: line_no,
                column: column_of(line, m.start()),
                redacted: redact(m.as_str()),
            });
        }
    }
    if out.len() > before {
        return;
    }
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with("//") {
        return;
    }
    if let Some(caps) = ASSIGNMENT.captures(line) {
        if let (Some(name), Some(value)) = (caps.get(1), caps.get(2)) {
            if let Some(kind) = check_assignment(name.as_str(), value.as_str()) {
                out.push(SecretMatch {
                    kind,
                    line: line_no,
                    column: column_of(line, value.start()),
                    redacted: redact(value.as_str()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_token_kind() {
        let text = "\
key: AKIAIOSFODNN7EXAMPLE
-----BEGIN OPENSSH PRIVATE KEY-----
gh = ghp_abcdefghijklmnopqrstuvwxyz0123456789
gl = glpat-abcdefghij0123456789
slack: xoxb-123456789012-abcdefABCDEF
t: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U
";
        let kinds: Vec<SecretKind> = scan_text(text).iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            vec![
                SecretKind::AwsAccessKeyId,
                SecretKind::PrivateKey,
                SecretKind::GithubToken,
                SecretKind::GitlabToken,
                SecretKind::SlackToken,
                SecretKind::Jwt
            ]
        );
    }

    #[test]
    fn positions_are_one_based() {
        let found = scan_text("\n  x = AKIAIOSFODNN7EXAMPLE\n");
        assert_eq!((found[0].line, found[0].column), (2, 7));
    }

    #[test]
    fn env_file_passwords() {
        let found =
            scan_text("DB_PASSWORD=hunter22\nDB_HOST=db\nAPI_TOKEN=${TOKEN}\n# PASSWORD=x1234\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, SecretKind::Password);
        assert_eq!(found[0].line, 1);
        assert_eq!(found[0].redacted, "****");
    }

    #[test]
    fn aws_secret_key_needs_name_context() {
        let v = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            check_assignment("AWS_SECRET_ACCESS_KEY", v),
            Some(SecretKind::AwsSecretAccessKey)
        );
        assert_eq!(check_assignment("CHECKSUM", v), None);
    }

    #[test]
    fn placeholders_and_references_are_not_secrets() {
        for v in [
            "",
            "$X",
            "${X}",
            "{{resolve:secretsmanager:db}}",
            "<password>",
            "/run/s",
        ] {
            assert_eq!(check_assignment("PASSWORD", v), None, "{v}");
        }
        assert_eq!(check_assignment("PASSWORD_FILE", "hunter22"), None);
        assert_eq!(
            check_assignment("GOOGLE_API_KEY", "GOOGLE_API_KEY_VAL"),
            None
        );
        assert!(!is_secret_name("EKSEncryptSecretsKmsKeyArn"));
        assert!(is_secret_name("DBPassword"));
        assert!(is_secret_name("RafaySysApiKey"));
        assert_eq!(
            check_assignment("GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D"),
            None
        );
    }

    #[test]
    fn redaction_never_leaks_the_tail() {
        let r = redact("AKIAIOSFODNN7EXAMPLE");
        assert_eq!(r, "AKIA****");
        assert_eq!(redact("short"), "****");
    }

    /// The line-by-line scan that [`scan_text`] must agree with.
    fn scan_every_line(text: &str) -> Vec<SecretMatch> {
        let mut out = Vec::new();
        for (idx, line) in text.lines().enumerate() {
            scan_line(line, u32::try_from(idx + 1).unwrap_or(u32::MAX), &mut out);
        }
        out
    }

    #[test]
    fn prefiltered_scan_equals_every_line_scan() {
        use proptest::prelude::*;
        let pieces = prop::sample::select(vec![
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "glpat-abcdefghij0123456789",
            "xoxb-123456789012-abcdefABCDEF",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
            "-----BEGIN RSA PRIVATE KEY-----",
            "DB_PASSWORD=",
            "apiKey: ",
            "api-key=",
            "PassWord = ",
            "aws_secret_access_key=",
            "Zq3Lw9Rt2Xk7Vb1Nm4Hs8Jd6Fg0Pa5Ye/Tu+Ci7O",
            "hunter22",
            "\"s3cr3t-value\"",
            "x",
            " ",
            "=",
            ":",
            "#",
            "\n",
            "\r\n",
            "é",
            "_",
            "export ",
            "TOKEN",
            "Credentials",
            "pwd",
            "key",
            "${VAR}",
            "\t",
        ]);
        let texts = prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat());
        proptest!(ProptestConfig::with_cases(3000), |(text in texts)| {
            prop_assert_eq!(scan_text(&text), scan_every_line(&text));
        });
    }
}
