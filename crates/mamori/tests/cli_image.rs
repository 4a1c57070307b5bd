//! `mamori image scan` and `mamori sbom` end to end on a root file system the test writes.

use std::process::Command;

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
    let (code, out, err) = mamori(&["image", "scan", &r, "--format", "json", "--list-all-pkgs"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["package_count"], 2);
    assert_eq!(v["vulnerabilities"]["status"], "not-wired");
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

    let (code, out, _) = mamori(&["image", "scan", &r]);
    assert_eq!(code, 0);
    assert!(out.contains("vulnerabilities: NOT CHECKED"), "{out}");
    assert!(out.contains("packages: 2"), "{out}");
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
