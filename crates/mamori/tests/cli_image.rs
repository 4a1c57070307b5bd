//! `mamori image scan` and `mamori sbom` end to end on a root file system and an OCI layout the
//! test writes, with a vulnerability database imported from OSV records the test writes.

use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};

fn rootfs() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let w = |rel: &str, data: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, data).expect("write");
    };
    w("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    w(
        "var/lib/dpkg/status",
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n\n",
    );
    w(
        "app/node_modules/lodash/package.json",
        r#"{"name":"lodash","version":"4.17.20"}"#,
    );
    d
}

fn mamori(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(args)
        .output()
        .expect("run mamori");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn image_scan_json_lists_packages_and_says_vulns_are_not_checked() {
    let d = rootfs();
    let r = format!("dir:{}", d.path().display());
    let nodb = d.path().join("no-db-here");
    let nodb = nodb.to_str().expect("utf-8");
    let (code, out, err) = mamori(&[
        "image",
        "scan",
        &r,
        "--format",
        "json",
        "--list-all-pkgs",
        "--db",
        nodb,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("no vulnerability database at") && err.contains("NOT checked"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["schema"], "mamori.report/v1");
    assert_eq!(v["package_count"], 2);
    assert_eq!(v["vulnerabilities"]["status"], "no-database");
    let purls: Vec<&str> = v["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["purl"].as_str())
        .collect();
    assert_eq!(
        purls,
        [
            "pkg:npm/lodash@4.17.20",
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
                .replace("%2B", "+")
                .as_str()
        ]
    );

    let (code, out, _) = mamori(&["image", "scan", &r, "--db", nodb]);
    assert_eq!(code, 0);
    assert!(out.contains("vulnerabilities: NOT CHECKED"), "{out}");
    assert!(out.contains("packages: 2"), "{out}");

    // --require-db turns the missing database into an operational error.
    let (code, _, err) = mamori(&["image", "scan", &r, "--db", nodb, "--require-db"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no vulnerability database at"), "{err}");
}

#[test]
fn sbom_and_errors() {
    let d = rootfs();
    let r = format!("dir:{}", d.path().display());
    let (code, out, err) = mamori(&["sbom", &r, "--format", "spdx-json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["spdxVersion"], "SPDX-2.3");
    let (code, out, _) = mamori(&["sbom", &r, "--format", "cyclonedx"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["specVersion"], "1.5");

    let (code, _, err) = mamori(&["image", "scan", "127.0.0.1:9/app:1", "--insecure"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("registry request http://127.0.0.1:9/v2/app/manifests/1"),
        "{err}"
    );
    let (code, _, err) = mamori(&["image", "scan", "oci:/nonexistent/layout"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: scanning oci:/nonexistent/layout: "),
        "{err}"
    );
    let (code, _, _) = mamori(&["image", "scan", &r, "--format", "xml"]);
    assert_eq!(code, 2);
}

// ---------------------------------------------------------------------------------------------
// OCI layout + OSV database: vulnerabilities, suppression, secrets, SARIF.

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn blob(dir: &Path, data: &[u8]) -> String {
    let d = sha(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).expect("mkdir");
    std::fs::write(p.join(&d[7..]), data).expect("blob");
    d
}

/// An uncompressed tar of regular files.
fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, *data).expect("append");
    }
    b.into_inner().expect("tar")
}

/// Writes an OCI layout with one image tagged `v1`; returns the layer digests.
fn oci_layout(dir: &Path, layers: &[Vec<u8>]) -> Vec<String> {
    let digests: Vec<String> = layers.iter().map(|l| blob(dir, l)).collect();
    let cfg = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "app", "Env": ["PATH=/usr/bin"], "Healthcheck": {"Test": ["CMD", "true"]}},
        "rootfs": {"type": "layers", "diff_ids": digests},
        "history": layers.iter().map(|_| serde_json::json!({"created_by": "COPY . /"})).collect::<Vec<_>>(),
    }))
    .expect("json");
    let cfg_d = blob(dir, &cfg);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d, "size": cfg.len()},
        "layers": layers.iter().zip(&digests).map(|(l, d)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()
        })).collect::<Vec<_>>(),
    }))
    .expect("json");
    let m_d = blob(dir, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_d, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "v1"}
    }]});
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    digests
}

fn metadata(name: &str, version: &str) -> Vec<u8> {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes()
}

const AWS_KEY_ID: &str = "AKIAQ7EXAMPLEKEYABCD";
const AWS_SECRET: &str = "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";

struct Fixture {
    _tmp: tempfile::TempDir,
    image: String,
    db: String,
    layers: Vec<String>,
    dir: std::path::PathBuf,
}

/// An image with a vulnerable `requests` 2.25.0 (layer 0), a fixed `requests` 2.31.0 in a venv
/// and an `unfixedlib` 1.0 without a fix (layer 1), and a `.env` file with fake AWS keys
/// (layer 1); and a database imported from two OSV records written here.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("layout");
    std::fs::create_dir_all(&img).expect("mkdir");
    let env_file = format!(
        "# app settings\nAWS_ACCESS_KEY_ID={AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\nLOG_LEVEL=info\n"
    );
    let l0 = layer(&[
        (
            "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA",
            &metadata("requests", "2.25.0"),
        ),
        ("usr/share/app/blob.bin", b"\0\x01AKIAQ7EXAMPLEKEYABCD\0"),
    ]);
    let l1 = layer(&[
        (
            "opt/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
            &metadata("requests", "2.31.0"),
        ),
        (
            "opt/venv/lib/python3.11/site-packages/unfixedlib-1.0.dist-info/METADATA",
            &metadata("unfixedlib", "1.0"),
        ),
        ("app/config/.env", env_file.as_bytes()),
    ]);
    let layers = oci_layout(&img, &[l0, l1]);

    let osv = tmp.path().join("osv");
    std::fs::create_dir_all(&osv).expect("mkdir");
    std::fs::write(
        osv.join("PYSEC-2099-1.json"),
        serde_json::json!({
            "schema_version": "1.6.0",
            "id": "PYSEC-2099-1",
            "modified": "2024-01-01T00:00:00Z",
            "aliases": ["CVE-2099-0001"],
            "summary": "requests leaks proxy credentials",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}]}]
            }]
        })
        .to_string(),
    )
    .expect("osv");
    std::fs::write(
        osv.join("PYSEC-2099-2.json"),
        serde_json::json!({
            "schema_version": "1.6.0",
            "id": "PYSEC-2099-2",
            "modified": "2024-01-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": "unfixedlib"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
            }]
        })
        .to_string(),
    )
    .expect("osv");
    let db = tmp.path().join("db");
    let (code, out, err) = mamori(&[
        "db",
        "import",
        osv.to_str().expect("utf-8"),
        "--db",
        db.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 2 advisories"), "{out}");
    Fixture {
        image: format!("oci:{}:v1", img.display()),
        db: db.display().to_string(),
        layers,
        dir: tmp.path().to_path_buf(),
        _tmp: tmp,
    }
}

fn scan_json(f: &Fixture, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["image", "scan", &f.image, "--db", &f.db, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = mamori(&args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn with_rule<'a>(v: &'a serde_json::Value, key: &str, rule: &str) -> Vec<&'a serde_json::Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array: {v}"))
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .collect()
}

#[test]
fn image_scan_matches_vulnerabilities_from_the_database() {
    let f = fixture();
    let v = scan_json(&f, &[]);
    assert_eq!(v["vulnerabilities"]["status"], "checked");
    assert_eq!(v["vulnerabilities"]["advisories"], 2);
    assert_eq!(v["vulnerabilities"]["packages_checked"], 3);
    // requests 2.25.0 matches; 2.31.0 (the fixed version, a near miss) does not.
    let hits = with_rule(&v, "findings", "PYSEC-2099-1");
    assert_eq!(hits.len(), 1, "{hits:#?}");
    let h = hits[0];
    assert_eq!(h["severity"], "critical");
    assert_eq!(h["area"], "image");
    assert_eq!(h["nist"], serde_json::json!(["3.1.1"]));
    assert_eq!(
        h["message"],
        "requests 2.25.0 is affected by PYSEC-2099-1; fixed in 2.31.0"
    );
    assert_eq!(h["remediation"], "upgrade requests to 2.31.0 or later");
    assert_eq!(
        h["location"]["path"],
        "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA"
    );
    assert_eq!(h["location"]["layer"], f.layers[0].as_str());
    assert_eq!(
        h["references"],
        serde_json::json!([{"kind": "advisory", "id": "CVE-2099-0001"}])
    );
    let unfixed = with_rule(&v, "findings", "PYSEC-2099-2");
    assert_eq!(unfixed.len(), 1);
    assert_eq!(unfixed[0]["severity"], "unknown");
    assert!(unfixed[0]["message"]
        .as_str()
        .is_some_and(|m| m.ends_with("; no fix yet")));

    // --ignore-unfixed drops the advisory without a fix and says how many.
    let v = scan_json(&f, &["--ignore-unfixed"]);
    assert!(with_rule(&v, "findings", "PYSEC-2099-2").is_empty());
    assert_eq!(with_rule(&v, "findings", "PYSEC-2099-1").len(), 1);
    assert_eq!(v["vulnerabilities"]["unfixed_ignored"], 1);

    // An ignore rule naming the CVE alias suppresses the match; it is reported as suppressed.
    let ignore = f.dir.join(".mamoriignore");
    std::fs::write(
        &ignore,
        "# accepted\nCVE-2099-0001 pkg:pypi/requests reason: proxy support is not used\n",
    )
    .expect("write");
    let v = scan_json(&f, &["--ignorefile", ignore.to_str().expect("utf-8")]);
    assert!(with_rule(&v, "findings", "PYSEC-2099-1").is_empty());
    let sup = with_rule(&v, "suppressed", "PYSEC-2099-1");
    assert_eq!(sup.len(), 1, "{v:#}");
    assert_eq!(sup[0]["suppression"]["kind"], "ignore");
    assert_eq!(sup[0]["suppression"]["reason"], "proxy support is not used");
    assert_eq!(v["vulnerabilities"]["suppressed"], 1);

    // An OpenVEX not_affected statement for the purl suppresses the other advisory.
    let vex = f.dir.join("app.vex.json");
    std::fs::write(
        &vex,
        serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.com/vex/1",
            "author": "test",
            "timestamp": "2024-01-01T00:00:00Z",
            "version": 1,
            "statements": [{
                "vulnerability": {"name": "PYSEC-2099-2"},
                "products": [{"@id": "pkg:pypi/unfixedlib@1.0"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path"
            }]
        })
        .to_string(),
    )
    .expect("write");
    let v = scan_json(&f, &["--vex", vex.to_str().expect("utf-8")]);
    assert!(with_rule(&v, "findings", "PYSEC-2099-2").is_empty());
    let sup = with_rule(&v, "suppressed", "PYSEC-2099-2");
    assert_eq!(sup.len(), 1, "{v:#}");
    assert_eq!(sup[0]["suppression"]["kind"], "vex");
    assert_eq!(sup[0]["suppression"]["status"], "not_affected");
    assert_eq!(with_rule(&v, "findings", "PYSEC-2099-1").len(), 1);

    // A broken ignore file is an error with file and line.
    std::fs::write(&ignore, "CVE-2099-0001\n").expect("write");
    let (code, _, err) = mamori(&[
        "image",
        "scan",
        &f.image,
        "--db",
        &f.db,
        "--ignorefile",
        ignore.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(".mamoriignore:1:"), "{err}");

    // Table output names the database and the finding.
    let (code, out, err) = mamori(&["image", "scan", &f.image, "--db", &f.db]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("vulnerabilities: 2 (0 suppressed) in 3 packages"),
        "{out}"
    );
    assert!(out.contains("PYSEC-2099-1"), "{out}");
}

#[test]
fn image_scan_finds_redacted_secrets_and_writes_sarif() {
    let f = fixture();
    let v = scan_json(&f, &[]);
    let ids = with_rule(&v, "findings", "MK-SEC-AWS-ACCESS-KEY-ID");
    assert_eq!(ids.len(), 1, "the binary file is skipped: {ids:#?}");
    let k = ids[0];
    assert_eq!(k["severity"], "critical");
    assert_eq!(k["nist"], serde_json::json!(["3.1.4"]));
    assert_eq!(k["location"]["path"], "app/config/.env");
    assert_eq!(k["location"]["line"], 2);
    assert_eq!(k["location"]["layer"], f.layers[1].as_str());
    let secret = with_rule(&v, "findings", "MK-SEC-AWS-SECRET-ACCESS-KEY");
    assert_eq!(secret.len(), 1, "{v:#}");
    assert_eq!(secret[0]["location"]["line"], 3);
    assert_eq!(v["secrets"]["status"], "checked");
    let text = v.to_string();
    assert!(
        !text.contains(AWS_KEY_ID) && !text.contains(AWS_SECRET),
        "secret leaked"
    );
    assert!(
        k["message"]
            .as_str()
            .is_some_and(|m| m.contains("AKIA****")),
        "{k}"
    );

    // --skip-dirs keeps the directory out of the secret search.
    let v = scan_json(&f, &["--skip-dirs", "app/**"]);
    assert!(with_rule(&v, "findings", "MK-SEC-AWS-ACCESS-KEY-ID").is_empty());

    // SARIF 2.1.0 carries the same findings.
    let (code, out, err) = mamori(&[
        "image", "scan", &f.image, "--db", &f.db, "--format", "sarif",
    ]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).expect("sarif json");
    assert_eq!(s["version"], "2.1.0");
    let rules: Vec<&str> = s["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    assert!(rules.contains(&"PYSEC-2099-1"), "{rules:?}");
    assert!(rules.contains(&"MK-SEC-AWS-ACCESS-KEY-ID"), "{rules:?}");
    assert!(!out.contains(AWS_KEY_ID));

    // --exit-code applies to findings at or above --severity.
    let (code, _, _) = mamori(&[
        "image",
        "scan",
        &f.image,
        "--db",
        &f.db,
        "--exit-code",
        "3",
        "--severity",
        "critical",
    ]);
    assert_eq!(code, 3);
    let (code, _, _) = mamori(&[
        "image",
        "scan",
        &f.image,
        "--db",
        &f.db,
        "--exit-code",
        "3",
        "--severity",
        "critical",
        "--ignore-unfixed",
        "--skip-dirs",
        "app/**",
        "--skip-dirs",
        "usr/lib/**",
    ]);
    assert_eq!(code, 0, "nothing critical is left");
}

/// Runs mamori under `script`, so that its stdin, stdout and stderr are a terminal; returns
/// what the terminal showed.
fn mamori_on_a_terminal(script: &Path, args: &[&str]) -> String {
    let mut cmd = format!("'{}'", env!("CARGO_BIN_EXE_mamori"));
    for a in args {
        cmd.push_str(&format!(" '{a}'"));
    }
    let out = Command::new(script)
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("run script");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_bars_only_on_a_terminal_and_never_with_quiet() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("layout");
    // A layer big enough to be read in several chunks.
    let big = vec![b'x'; 4 << 20];
    let l = layer(&[
        ("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
        ("opt/blob.dat", &big),
    ]);
    oci_layout(&dir, &[l]);
    let image = format!("oci:{}:v1", dir.display());
    let sbom = tmp.path().join("sbom.json");
    let sbom_arg = sbom.display().to_string();

    // Pipes: no bar, no escape sequences; stdout is the JSON document alone.
    let (code, out, err) = mamori(&["sbom", &image, "--format", "cyclonedx"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("layer 1/1") && !err.contains('\u{1b}'),
        "{err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect("stdout is only JSON");
    assert_eq!(doc["bomFormat"], "CycloneDX");

    let Some(script) = mamori_testkit::tool("script") else {
        return;
    };
    // A terminal: the layer's bar is drawn on stderr; the report written to a file stays JSON.
    let shown = mamori_on_a_terminal(&script, &["sbom", &image, "-o", &sbom_arg]);
    assert!(shown.contains("layer 1/1"), "{shown:?}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sbom).expect("written")).expect("JSON only");
    assert_eq!(doc["bomFormat"], "CycloneDX");
    let shown = mamori_on_a_terminal(
        &script,
        &["image", "scan", &image, "--format", "json", "-o", &sbom_arg],
    );
    assert!(shown.contains("layer 1/1"), "{shown:?}");
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&sbom).expect("written"))
        .expect("JSON only");
    // --quiet: nothing drawn.
    let shown = mamori_on_a_terminal(&script, &["sbom", &image, "--quiet", "-o", &sbom_arg]);
    assert!(!shown.contains("layer 1/1"), "{shown:?}");
}
