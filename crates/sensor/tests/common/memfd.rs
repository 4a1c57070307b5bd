//! A fileless-exec program for tests: `tests/data/memfd_exec.c`, built at test time with
//! `cc -static -O2`. It copies `/bin/busybox` into a memfd and runs it with
//! `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`, so `memfd_exec echo hi` prints `hi` from a
//! program that exists on no mount. It exits 126 with "memfd_exec: execveat: <strerror>" on stderr
//! when the exec is refused, and 125 when the memfd could not be prepared.
//!
//! Include it with `#[path = "common/memfd.rs"] mod memfd;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The program's C source.
pub const SOURCE: &str = include_str!("../data/memfd_exec.c");

/// Builds the program into `dir/memfd_exec`. `None` (after `SKIPPED:`, or a panic with
/// `MAMORI_REQUIRE_PRIVILEGED=1`) when there is no C compiler; a failed build is an `Err` with the
/// compiler's output.
#[track_caller]
pub fn build(dir: &Path) -> Option<Result<PathBuf, String>> {
    let cc = mamori_testkit::tool("cc")?;
    let src = dir.join("memfd_exec.c");
    let bin = dir.join("memfd_exec");
    if let Err(e) = std::fs::write(&src, SOURCE) {
        return Some(Err(format!("write {}: {e}", src.display())));
    }
    let out = match Command::new(&cc)
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
    {
        Ok(o) => o,
        Err(e) => return Some(Err(format!("run {}: {e}", cc.display()))),
    };
    if !out.status.success() {
        return Some(Err(format!(
            "{} -static failed ({}): {}{}",
            cc.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Some(Ok(bin))
}
