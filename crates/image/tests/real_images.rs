//! Real images built with umoci and skopeo (root): an OCI layout with a whiteout layer, an
//! opaque directory and a rewritten dpkg database, the same image as a docker-archive and an
//! oci-archive. Skipped with a reason when root or the tools are missing (required in CI).

use std::path::Path;
use std::process::Command;

use mamori_image::{scan, Inventory, ScanOptions};

fn run(cmd: &Path, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        cmd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, data).expect("write");
}

const STATUS: &str = "Package: adduser\nStatus: install ok installed\nArchitecture: all\nVersion: 3.134\n\n\
Package: bsdutils\nStatus: install ok installed\nArchitecture: amd64\nSource: util-linux (2.38.1-5+deb12u3)\nVersion: 1:2.38.1-5+deb12u3\n\n\
Package: busybox-static\nStatus: install ok installed\nArchitecture: amd64\nSource: busybox\nVersion: 1:1.35.0-4+b3\n\n";

fn summary(inv: &Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv
        .packages
        .iter()
        .map(|p| {
            let layer = p.package.layer.as_deref().unwrap_or("");
            let idx = inv
                .layers
                .iter()
                .position(|l| l.digest == layer)
                .map_or(-1, |i| i as i64);
            format!("{}@{} L{idx}", p.package.name, p.package.version)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn umoci_layout_skopeo_archives() {
    if !mamori_testkit::require_root("building images with umoci") {
        return;
    }
    let (Some(umoci), Some(skopeo), Some(busybox)) = (
        mamori_testkit::tool("umoci"),
        mamori_testkit::tool("skopeo"),
        mamori_testkit::tool("busybox"),
    ) else {
        return;
    };
    let w = tempfile::tempdir().expect("tempdir");
    let rootfs = w.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).expect("mkdir");
    std::fs::copy(&busybox, rootfs.join("bin/busybox")).expect("copy busybox");
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).expect("symlink");
    std::fs::create_dir_all(rootfs.join("etc")).expect("mkdir");
    std::os::unix::fs::symlink("../usr/lib/os-release", rootfs.join("etc/os-release"))
        .expect("symlink");
    write(
        &rootfs,
        "usr/lib/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    write(&rootfs, "etc/debian_version", "12.15\n");
    write(&rootfs, "var/lib/dpkg/status", STATUS);
    write(
        &rootfs,
        "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n",
    );
    write(
        &rootfs,
        "usr/share/doc/apt/gone-1.0.dist-info/METADATA",
        "Name: gone\nVersion: 1.0\n",
    );
    write(
        &rootfs,
        "opt/app/old-1.0.dist-info/METADATA",
        "Name: old\nVersion: 1.0\n",
    );
    write(
        &rootfs,
        "opt/app/node_modules/lodash/package.json",
        "{\"name\":\"lodash\",\"version\":\"4.17.20\"}",
    );
    let extra = w.path().join("extra");
    write(
        &extra,
        "new-2.0.dist-info/METADATA",
        "Name: new\nVersion: 2.0\n",
    );
    let l4 = w.path().join("status");
    std::fs::write(
        &l4,
        STATUS.replace("Version: 3.134\n", "Version: 3.134+mamori1\n"),
    )
    .expect("write");

    let layout = w.path().join("oci");
    let img = format!("{}:t", layout.display());
    let s = |p: &Path| p.display().to_string();
    run(&umoci, &["init", "--layout", &s(&layout)]);
    run(&umoci, &["new", "--image", &img]);
    run(&umoci, &["insert", "--image", &img, &s(&rootfs), "/"]);
    run(
        &umoci,
        &[
            "insert",
            "--image",
            &img,
            "--whiteout",
            "/usr/share/doc/apt",
        ],
    );
    run(
        &umoci,
        &[
            "insert",
            "--image",
            &img,
            "--opaque",
            &s(&extra),
            "/opt/app",
        ],
    );
    run(
        &umoci,
        &["insert", "--image", &img, &s(&l4), "/var/lib/dpkg/status"],
    );
    run(
        &umoci,
        &["config", "--image", &img, "--config.cmd", "/bin/sh"],
    );

    let expected = [
        "adduser@3.134+mamori1 L3",
        "bsdutils@1:2.38.1-5+deb12u3 L0",
        "busybox-static@1:1.35.0-4+b3 L0",
        "new@2.0 L2",
        "requests@2.25.0 L0",
    ];
    let inv = scan(
        &format!("oci:{img}").parse().expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan oci");
    assert_eq!(summary(&inv), expected, "{:#?}", inv.packages);
    assert_eq!(inv.os.as_ref().map(|o| o.version_id.as_str()), Some("12"));
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    let bsd = inv
        .packages
        .iter()
        .find(|p| p.package.name == "bsdutils")
        .expect("bsdutils");
    assert_eq!(bsd.package.source_name.as_deref(), Some("util-linux"));
    assert!(
        bsd.package
            .purl
            .as_deref()
            .is_some_and(|p| p.ends_with("&epoch=1")),
        "{:?}",
        bsd.package.purl
    );

    let docker = w.path().join("docker.tar");
    run(
        &skopeo,
        &[
            "copy",
            &format!("oci:{img}"),
            &format!("docker-archive:{}:mamori/test:t", docker.display()),
        ],
    );
    let inv_d = scan(
        &format!("docker-archive:{}", docker.display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan docker-archive");
    assert_eq!(summary(&inv_d), expected);
    assert_eq!(inv_d.tags.len(), 1);

    let ociar = w.path().join("oci.tar");
    run(
        &skopeo,
        &[
            "copy",
            &format!("oci:{img}"),
            &format!("oci-archive:{}:t", ociar.display()),
        ],
    );
    let inv_o = scan(
        &format!("oci-archive:{}:t", ociar.display())
            .parse()
            .expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan oci-archive");
    assert_eq!(summary(&inv_o), expected);

    // Through a real registry (Debian's docker-registry on the loopback), pushed by skopeo.
    if let Some(registry) = mamori_testkit::tool("docker-registry") {
        let inv_r = push_and_pull(&registry, &skopeo, w.path(), &img, None);
        assert_eq!(summary(&inv_r), expected);
        assert_eq!(
            inv_r.manifest_digest, inv.manifest_digest,
            "same manifest as the layout"
        );
        // The same registry with htpasswd (bcrypt) basic authentication; credentials from a
        // docker config file.
        if let Some(htpasswd) = mamori_testkit::tool("htpasswd") {
            let inv_b = push_and_pull(&registry, &skopeo, w.path(), &img, Some(&htpasswd));
            assert_eq!(summary(&inv_b), expected);
        }
    }

    // The rootfs itself, as a directory (one layer; the node_modules package is there too).
    let inv_r = scan(
        &format!("dir:{}", rootfs.display()).parse().expect("ref"),
        &ScanOptions::default(),
    )
    .expect("scan dir");
    let names: Vec<&str> = inv_r
        .packages
        .iter()
        .map(|p| p.package.name.as_str())
        .collect();
    assert!(
        names.contains(&"lodash") && names.contains(&"gone") && names.contains(&"old"),
        "{names:?}"
    );
}

/// Starts `docker-registry` on a free loopback port, pushes the layout with skopeo, scans it
/// through the registry, and stops the registry (by its pid). With `htpasswd`, the registry
/// asks for basic authentication (a bcrypt password file made by that tool): the scan without
/// credentials must fail, the scan with a docker config must succeed.
fn push_and_pull(
    registry: &Path,
    skopeo: &Path,
    w: &Path,
    img: &str,
    htpasswd: Option<&Path>,
) -> Inventory {
    const USER: &str = "mamori";
    const PASSWORD: &str = "s3cret-pass";
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let tag = if htpasswd.is_some() { "basic" } else { "plain" };
    let cfg = w.join(format!("registry-{tag}.yml"));
    let data = w.join(format!("registry-data-{tag}"));
    let auth = match htpasswd {
        Some(tool) => {
            let out = Command::new(tool)
                .args(["-Bbn", USER, PASSWORD])
                .output()
                .expect("runs htpasswd");
            assert!(out.status.success(), "htpasswd failed");
            let file = w.join("htpasswd");
            std::fs::write(&file, &out.stdout).expect("write htpasswd");
            format!(
                "auth: {{htpasswd: {{realm: mamori-test, path: {}}}}}\n",
                file.display()
            )
        }
        None => String::new(),
    };
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n{auth}",
            data.display()
        ),
    )
    .expect("write config");
    let docker_config = w.join(format!("docker-config-{tag}.json"));
    std::fs::write(
        &docker_config,
        serde_json::json!({"auths": {format!("127.0.0.1:{port}"): {
            "username": USER, "password": PASSWORD}}})
        .to_string(),
    )
    .expect("write docker config");
    let mut child = Command::new(registry)
        .args(["serve", &cfg.display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let ready = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let result = std::panic::catch_unwind(|| {
        assert!(ready, "docker-registry did not start");
        let dest = format!("docker://127.0.0.1:{port}/mamori/test:t");
        let creds = format!("--dest-creds={USER}:{PASSWORD}");
        let mut args = vec!["copy", "--dest-tls-verify=false"];
        if htpasswd.is_some() {
            args.push(&creds);
        }
        let from = format!("oci:{img}");
        args.extend([from.as_str(), dest.as_str()]);
        run(skopeo, &args);
        let src = format!("127.0.0.1:{port}/mamori/test:t")
            .parse()
            .expect("ref");
        let mut opts = ScanOptions::default();
        opts.registry.insecure = true;
        // Never the user's own ~/.docker/config.json.
        opts.registry.docker_config = Some(w.join("no-such-config.json"));
        if htpasswd.is_some() {
            let err = scan(&src, &opts).expect_err("credentials are required");
            assert!(err.to_string().contains("401"), "{err}");
            opts.registry.docker_config = Some(docker_config.clone());
        }
        scan(&src, &opts).expect("scan registry")
    });
    let _ = child.kill();
    let _ = child.wait();
    match result {
        Ok(inv) => inv,
        Err(p) => std::panic::resume_unwind(p),
    }
}
