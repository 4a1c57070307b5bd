//! Executables in image layers, built with real toolchains at test time: a C program laid out
//! like a Go < 1.18 binary (its linker writes the build-info pointers), the same program as a
//! position-independent executable linked by lld (pointers only in relocations), and a Rust
//! program given a cargo-auditable `.dep-v0` section by `objcopy` (a binary built by the real
//! `cargo auditable` is in `cargo_auditable.rs`).

#[path = "support/image_builder.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use mamori_image::{scan, Inventory, ScanOptions, SourceRef};
use serde_json::json;
use support::*;

/// Module info framed by two 16-byte sentinels, as the Go toolchain writes it.
const MODINFO: &str = "<sentinel-start>\
path\\texample.com/oldtool\\n\
mod\\texample.com/oldtool\\tv0.3.0\\th1:abc=\\n\
dep\\tgithub.com/gorilla/websocket\\tv1.4.0\\th1:x=\\n\
dep\\tgolang.org/x/text\\tv0.3.0\\th1:y=\\n\
=>\\tgolang.org/x/text\\tv0.3.8\\th1:z=\\n\
<sentinel--end->";

/// A C program with the Go 1.13–1.17 layout: `.go.buildinfo` holds the magic, pointer size,
/// flags 0 (little endian, pointer format) and the addresses of two Go string headers, which
/// point at the version and module-info bytes in `.rodata`.
fn legacy_go_c_source() -> String {
    format!(
        r#"
struct gostring {{ const char *p; unsigned long n; }};
static const char version[] = "go1.16.15";
static const char modinfo[] = "{MODINFO}";
struct gostring runtime_buildVersion = {{ version, sizeof(version) - 1 }};
struct gostring runtime_modinfo = {{ modinfo, sizeof(modinfo) - 1 }};
struct buildinfo {{ char magic[14]; char ptrsize; char flags; void *v; void *m; }};
__attribute__((section(".go.buildinfo"), aligned(16), used))
struct buildinfo go_buildinfo = {{
    {{ '\xff', ' ', 'G', 'o', ' ', 'b', 'u', 'i', 'l', 'd', 'i', 'n', 'f', ':' }},
    sizeof(void *), 0, &runtime_buildVersion, &runtime_modinfo }};
int main(void) {{ return 0; }}
"#
    )
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn scan_layout_with(path: &str, binary: &[u8]) -> (tempfile::TempDir, Inventory) {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer = gz(tar(&[E::File(path, 0o755, binary)]));
    oci_layout(dir.path(), "t", &[layer], json!({}));
    let src: SourceRef = format!("oci:{}:t", dir.path().display())
        .parse()
        .expect("ref");
    let inv = scan(&src, &ScanOptions::default()).expect("scans");
    (dir, inv)
}

fn purls(inv: &Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv
        .packages
        .iter()
        .filter_map(|p| p.package.purl.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn go_before_1_18_pointer_format_from_a_linked_binary() {
    let Some(cc) = mamori_testkit::tool("cc") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("oldgo.c");
    std::fs::write(&src, legacy_go_c_source()).expect("writes");
    let bin = dir.path().join("oldgo");
    // Position-dependent, so the pointers in the file are the final addresses (as in the Go
    // linker's own non-PIE output).
    run(Command::new(cc)
        .arg("-no-pie")
        .arg("-O0")
        .arg("-o")
        .arg(&bin)
        .arg(&src));
    let bytes = std::fs::read(&bin).expect("built");
    // The binary runs: it is a real executable, not a hand-made blob.
    run(&mut Command::new(&bin));
    let (_d, inv) = scan_layout_with("usr/local/bin/oldgo", &bytes);
    assert_eq!(
        purls(&inv),
        [
            "pkg:golang/example.com/oldtool@v0.3.0",
            "pkg:golang/github.com/gorilla/websocket@v1.4.0",
            "pkg:golang/golang.org/x/text@v0.3.8",
            "pkg:golang/stdlib@1.16.15",
        ]
    );
    assert!(
        inv.packages
            .iter()
            .all(|p| p.package.path.as_deref() == Some("usr/local/bin/oldgo")),
        "{:?}",
        inv.packages
    );
    assert!(inv.notices.is_empty(), "{:?}", inv.notices);
}

/// The `gcc-ld` folder of the Rust toolchain (its `ld.lld` runs the bundled `rust-lld`).
fn rust_lld_dir(rustc: &Path) -> Option<std::path::PathBuf> {
    let out = |args: &[&str]| {
        Command::new(rustc)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let sysroot = out(&["--print", "sysroot"])?;
    let host = out(&["-vV"])?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))?;
    let dir = Path::new(sysroot.trim()).join(format!("lib/rustlib/{host}/bin/gcc-ld"));
    dir.join("ld.lld").is_file().then_some(dir)
}

#[test]
fn go_before_1_18_pie_with_pointers_only_in_relocations() {
    let (Some(cc), Some(rustc)) = (mamori_testkit::tool("cc"), mamori_testkit::tool("rustc"))
    else {
        return;
    };
    let Some(lld) = rust_lld_dir(&rustc) else {
        mamori_testkit::skip(
            mamori_testkit::REQUIRE_PRIVILEGED,
            "the Rust toolchain has no gcc-ld/ld.lld (rust-lld)",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("oldgo.c");
    std::fs::write(&src, legacy_go_c_source()).expect("writes");
    let bin = dir.path().join("oldgo-pie");
    // A position-independent executable linked by lld, which (like Go's own linker for PIE)
    // leaves 0 in the pointer slots and puts the addresses in RELATIVE relocations only.
    run(Command::new(cc)
        .args(["-fPIE", "-pie", "-O0", "-fuse-ld=lld"])
        .arg("-B")
        .arg(&lld)
        .arg("-o")
        .arg(&bin)
        .arg(&src));
    let bytes = std::fs::read(&bin).expect("built");
    run(&mut Command::new(&bin));
    // The test is only meaningful if the pointers are not in the file.
    let elf = mamori_catalog::elf::Elf::parse(&bytes).expect("elf");
    let info = elf.section(".go.buildinfo").expect("section");
    let slots = &elf.section_data(info).expect("data")[16..32];
    assert_eq!(slots, [0u8; 16], "the linker wrote the pointers in place");
    assert!(elf.relative_addend(info.addr + 16).is_some());

    let (_d, inv) = scan_layout_with("usr/local/bin/oldgo-pie", &bytes);
    assert_eq!(
        purls(&inv),
        [
            "pkg:golang/example.com/oldtool@v0.3.0",
            "pkg:golang/github.com/gorilla/websocket@v1.4.0",
            "pkg:golang/golang.org/x/text@v0.3.8",
            "pkg:golang/stdlib@1.16.15",
        ]
    );
}

#[test]
fn go_binary_over_the_in_memory_limit_is_noticed() {
    let Some(cc) = mamori_testkit::tool("cc") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("oldgo.c");
    std::fs::write(&src, legacy_go_c_source()).expect("writes");
    let bin = dir.path().join("oldgo");
    run(Command::new(cc)
        .arg("-no-pie")
        .arg("-o")
        .arg(&bin)
        .arg(&src));
    let bytes = std::fs::read(&bin).expect("built");
    let layer = gz(tar(&[E::File("bin/oldgo", 0o755, &bytes)]));
    oci_layout(dir.path(), "t", &[layer], json!({}));
    let src: SourceRef = format!("oci:{}:t", dir.path().display())
        .parse()
        .expect("ref");
    let mut opts = ScanOptions::default();
    opts.limits.max_binary_bytes = 1024;
    let inv = scan(&src, &opts).expect("scans");
    assert!(inv.packages.is_empty());
    assert!(
        inv.notices
            .iter()
            .any(|n| n.contains("bin/oldgo: Go binary built before Go 1.18")),
        "{:?}",
        inv.notices
    );
}

fn write_zlib(path: &Path, data: &[u8]) {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).expect("memory");
    std::fs::write(path, z.finish().expect("memory")).expect("writes");
}

#[test]
fn rust_binary_with_a_cargo_auditable_section() {
    let (Some(rustc), Some(objcopy)) = (
        mamori_testkit::tool("rustc"),
        mamori_testkit::tool("objcopy"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("app.rs");
    std::fs::write(&src, "fn main() { println!(\"hi\"); }\n").expect("writes");
    let plain = dir.path().join("app-plain");
    run(Command::new(rustc).arg("-o").arg(&plain).arg(&src));
    // The same document shape cargo-auditable writes: the root crate, a runtime dependency
    // (kind omitted), a build dependency, a git dependency.
    let deps = json!({"packages": [
        {"name": "app", "version": "0.1.0", "source": "local", "dependencies": [1, 2, 3], "root": true},
        {"name": "smallvec", "version": "1.6.0", "source": "crates.io"},
        {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
        {"name": "time", "version": "0.1.43", "source": "git"}
    ]});
    let z = dir.path().join("deps.z");
    write_zlib(&z, deps.to_string().as_bytes());
    let audited = dir.path().join("app");
    run(Command::new(objcopy)
        .arg(format!("--add-section=.dep-v0={}", z.display()))
        .arg(&plain)
        .arg(&audited));
    run(&mut Command::new(&audited));
    let bytes = std::fs::read(&audited).expect("built");
    let (_d, inv) = scan_layout_with("usr/bin/app", &bytes);
    assert_eq!(
        purls(&inv),
        [
            "pkg:cargo/app@0.1.0",
            "pkg:cargo/smallvec@1.6.0",
            "pkg:cargo/time@0.1.43"
        ]
    );
    // The same program without the section has no packages.
    let (_d, inv) = scan_layout_with("usr/bin/app", &std::fs::read(&plain).expect("built"));
    assert!(inv.packages.is_empty(), "{:?}", inv.packages);

    // A corrupt section is a warning naming the file, and the scan goes on.
    std::fs::write(&z, b"this is not zlib").expect("writes");
    let broken = dir.path().join("broken");
    run(
        Command::new(mamori_testkit::tool("objcopy").expect("checked"))
            .arg(format!("--add-section=.dep-v0={}", z.display()))
            .arg(&plain)
            .arg(&broken),
    );
    let (_d, inv) = scan_layout_with("usr/bin/broken", &std::fs::read(&broken).expect("built"));
    assert!(inv.packages.is_empty());
    assert!(
        inv.warnings
            .iter()
            .any(|w| w.contains("usr/bin/broken: .dep-v0: not zlib data")),
        "{:?}",
        inv.warnings
    );
}
