//! Dev-only helpers for mamori's tests.
//!
//! - [`shared_data`] finds `../shared/data` beside the repository, or decides what to do when it
//!   is missing: print `SKIPPED:` with the reason, or fail when `MAMORI_REQUIRE_SHARED=1`.
//! - [`require_root`] does the same for privileged tests (`MAMORI_REQUIRE_PRIVILEGED=1`).
//! - [`tool`] finds an external program (runc, umoci, skopeo, registry) on `PATH`.
//!
//! ```no_run
//! # fn main() {
//! let Some(dir) = mamori_testkit::shared_data("falco-rules") else { return };
//! assert!(dir.join("falco_rules.yaml").exists());
//! # }
//! ```

use std::env;
use std::path::{Path, PathBuf};

/// Environment variable that turns a missing `../shared/data` into a test failure.
pub const REQUIRE_SHARED: &str = "MAMORI_REQUIRE_SHARED";
/// Environment variable that turns a missing privilege or tool into a test failure.
pub const REQUIRE_PRIVILEGED: &str = "MAMORI_REQUIRE_PRIVILEGED";
/// Environment variable that overrides where the shared data folder is.
pub const SHARED_DATA_DIR: &str = "MAMORI_SHARED_DATA";

/// The root of the workspace (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // CARGO_MANIFEST_DIR of this crate is <root>/crates/testkit.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// The shared data folder (`<root>/../shared/data`, or `$MAMORI_SHARED_DATA`), if it exists.
pub fn shared_data_root() -> Option<PathBuf> {
    let dir = match env::var_os(SHARED_DATA_DIR) {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("..").join("shared").join("data"),
    };
    dir.is_dir().then_some(dir)
}

fn is_set(var: &str) -> bool {
    matches!(env::var(var).as_deref(), Ok("1") | Ok("true") | Ok("yes"))
}

/// Reports that a test cannot run: prints `SKIPPED: <why>` and returns, or panics when the
/// environment variable `require` is set (CI), so that a skip cannot hide a missing setup.
#[track_caller]
pub fn skip(require: &str, why: &str) {
    if is_set(require) {
        panic!("{why} (and {require}=1, so this is a failure, not a skip)");
    }
    eprintln!("SKIPPED: {why}");
}

/// The folder `sub` of the shared data (e.g. `"falco-rules"`), or `None` after printing why the
/// test is skipped. Panics instead when `MAMORI_REQUIRE_SHARED=1`.
#[track_caller]
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    match shared_data_root() {
        Some(root) if root.join(sub).is_dir() => Some(root.join(sub)),
        Some(root) => {
            skip(
                REQUIRE_SHARED,
                &format!("{} has no folder {sub:?}", root.display()),
            );
            None
        }
        None => {
            skip(
                REQUIRE_SHARED,
                &format!(
                    "shared test data not found at {} (set {SHARED_DATA_DIR} to point elsewhere)",
                    workspace_root().join("../shared/data").display()
                ),
            );
            None
        }
    }
}

/// Whether the process runs as root (effective uid 0), read from `/proc/self/status`.
pub fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// The effective uid of this process, if `/proc` can tell.
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether the effective capability set has `CAP_BPF` (bit 39) or `CAP_SYS_ADMIN` (bit 21).
pub fn has_cap_bpf() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let Some(hex) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
    else {
        return false;
    };
    let Ok(caps) = u64::from_str_radix(hex, 16) else {
        return false;
    };
    caps & (1 << 39) != 0 || caps & (1 << 21) != 0
}

/// `true` when the test may use root privileges; otherwise prints `SKIPPED:` (or panics with
/// `MAMORI_REQUIRE_PRIVILEGED=1`) and returns `false`.
#[track_caller]
pub fn require_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(REQUIRE_PRIVILEGED, &format!("{what} needs root"));
    false
}

/// The path of program `name` on `PATH`, if any.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The path of program `name`, or `None` after printing why the test is skipped (panics with
/// `MAMORI_REQUIRE_PRIVILEGED=1`, since CI installs every tool the privileged tests use).
#[track_caller]
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        skip(REQUIRE_PRIVILEGED, &format!("{name} is not installed"));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn sh_is_found_and_nonsense_is_not() {
        assert!(find_tool("sh").is_some());
        assert!(find_tool("definitely-not-a-tool-mamori").is_none());
    }

    #[test]
    fn uid_is_readable() {
        assert!(effective_uid().is_some());
    }
}
