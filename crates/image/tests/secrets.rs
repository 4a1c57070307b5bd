//! Secrets in the files of an image the test builds: text files only, bounded size, files
//! deleted by a later layer still reported (marked hidden), redacted output with path, line, layer.

#[path = "support/image_builder.rs"]
mod support;

use mamori_core::Severity;
use mamori_image::findings::secret_findings;
use mamori_image::{scan, ScanOptions, SourceRef, SECRET_MAX_FILE_BYTES};
use serde_json::json;
use support::*;

const KEY: &str = "AKIAQ7EXAMPLEKEYABCD";

#[test]
fn secrets_in_text_files_of_every_layer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env_line = format!("AWS_ACCESS_KEY_ID={KEY}\n");
    let mut big = vec![b'x'; usize::try_from(SECRET_MAX_FILE_BYTES).expect("usize")];
    big.extend_from_slice(env_line.as_bytes());
    let binary = format!("\0ELF\0{KEY}\0");
    let script =
        "#!/bin/sh\n# start\nexport GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n";
    let l0 = gz(tar(&[
        E::File("etc/app/old.env", 0o644, env_line.as_bytes()),
        E::File("data/blob", 0o644, binary.as_bytes()),
        E::File("data/big.txt", 0o644, &big),
        E::File("usr/local/bin/start.sh", 0o755, script.as_bytes()),
        // Source code: `password = ...` is code, not a secret; only tokens count there.
        E::File(
            "app/db.py",
            0o644,
            b"def connect(password):\n    password = self._password_from_vault\n",
        ),
    ]));
    let l1 = plain(tar(&[
        E::File("etc/app/.wh.old.env", 0, b""),
        E::File(
            "etc/app/new.env",
            0o644,
            b"# db\nLOG=debug\nDB_PASSWORD=S3cr3tValue!\n",
        ),
    ]));
    oci_layout(dir.path(), "v1", &[l0, l1], json!({}));
    let src: SourceRef = format!("oci:{}:v1", dir.path().display())
        .parse()
        .expect("ref");

    let off = scan(&src, &ScanOptions::default()).expect("scan");
    assert!(off.secrets.is_empty());
    assert_eq!(off.secret_files_scanned, 0);

    let opts = ScanOptions {
        secrets: true,
        ..ScanOptions::default()
    };
    let inv = scan(&src, &opts).expect("scan");
    let got: Vec<(&str, u32, &str, bool)> = inv
        .secrets
        .iter()
        .map(|s| {
            (
                s.path.as_str(),
                s.secret.line,
                s.secret.redacted.as_str(),
                s.hidden,
            )
        })
        .collect();
    // data/blob is binary, data/big.txt is over the cap; old.env is deleted by a whiteout in
    // layer 1 but its bytes are still in layer 0, so it is reported as hidden.
    assert_eq!(
        got,
        [
            ("etc/app/old.env", 1, "AKIA****", true),
            ("usr/local/bin/start.sh", 3, "ghp_****", false),
            ("etc/app/new.env", 3, "S3****", false),
        ]
    );
    let layer_of = |i: usize| inv.secrets[i].layer.as_deref();
    assert_eq!(layer_of(0), Some(inv.layers[0].digest.as_str()));
    assert_eq!(layer_of(1), Some(inv.layers[0].digest.as_str()));
    assert_eq!(layer_of(2), Some(inv.layers[1].digest.as_str()));
    // old.env, start.sh, db.py, new.env were read as text; the binary and the big file were not.
    assert_eq!(inv.secret_files_scanned, 4);

    let findings = secret_findings(&inv);
    let ids: Vec<(&str, Severity)> = findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.severity))
        .collect();
    assert_eq!(
        ids,
        [
            ("MK-SEC-AWS-ACCESS-KEY-ID", Severity::Critical),
            ("MK-SEC-GITHUB-TOKEN", Severity::Critical),
            ("MK-SEC-PASSWORD", Severity::High),
        ]
    );
    assert_eq!(findings[2].nist, ["3.1.4"]);
    assert_eq!(findings[1].location.line, Some(3));
    assert!(
        findings[0]
            .message
            .contains("a later layer deletes or replaces the file"),
        "{}",
        findings[0].message
    );
    assert!(!findings[1].message.contains("later layer"));
    let text = serde_json::to_string(&findings).expect("json");
    assert!(
        !text.contains("S3cr3tValue") && !text.contains("abcdefghijklmnop") && !text.contains(KEY)
    );
}

#[test]
fn config_like_names() {
    use mamori_image::is_config_like;
    for p in [
        "app/.env",
        "app/.env.production",
        "srv/prod.env",
        "etc/app/app.conf",
        "root/.netrc",
        "app/settings.yaml",
        "etc/shadow",
    ] {
        assert!(is_config_like(p), "{p}");
    }
    for p in [
        "app/db.py",
        "usr/lib/node_modules/x/index.js",
        "usr/bin/run",
    ] {
        assert!(!is_config_like(p), "{p}");
    }
}
