//! A real runc container for integration tests: a static busybox rootfs on an overlay mount, run
//! with `runc run -d` under a private state root, cleaned up on drop.
//!
//! Include it from a test file with
//!
//! ```ignore
//! #[path = "common/runc.rs"]
//! mod runc;
//! ```
//!
//! and start a container only after [`available`] said yes (it prints `SKIPPED:` otherwise, or
//! fails the test with `MAMORI_REQUIRE_PRIVILEGED=1`):
//!
//! ```ignore
//! if !runc::available() { return; }
//! let c = runc::TestContainer::start(runc::Options::new("drift-1")).unwrap();
//! let out = c.exec(&["cat", "/etc/passwd"]);
//! ```
//!
//! Layout of the temporary folder: `lower/` (the image layer: busybox, applet symlinks,
//! `etc/passwd`, `etc/group`, extra files), `upper/`, `work/`, `merged/` (the overlay mount and
//! the container's `root.path`), `bundle/config.json`, `state/` (runc's `--root`, so
//! `state/<id>/state.json` is written there) and `runc-run.log` (runc's and the container's
//! stderr).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The busybox applets linked into the image's `/bin` by default.
pub const DEFAULT_APPLETS: &[&str] = &[
    "sh", "sleep", "cat", "whoami", "id", "ls", "echo", "true", "false", "cp", "chmod", "touch",
    "mkdir", "rm", "ln", "readlink", "stat", "env", "ps", "head", "wc", "grep", "find", "nc",
];

/// The image's `/etc/passwd` unless the options replace it.
pub const DEFAULT_PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
app:x:1000:1000::/home/app:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

/// The image's `/etc/group` unless the options replace it.
pub const DEFAULT_GROUP: &str = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

/// Whether a real container can be started here: root, `runc` and a static busybox. Prints
/// `SKIPPED:` (or panics with `MAMORI_REQUIRE_PRIVILEGED=1`) when not.
#[track_caller]
pub fn available() -> bool {
    if !mamori_testkit::require_root("a runc container") {
        return false;
    }
    if mamori_testkit::tool("runc").is_none() {
        return false;
    }
    if busybox().is_none() {
        mamori_testkit::skip(
            mamori_testkit::REQUIRE_PRIVILEGED,
            "no static busybox at /bin/busybox or /usr/bin/busybox (install busybox-static)",
        );
        return false;
    }
    true
}

/// The static busybox binary to put in images (Debian busybox-static).
pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The container id (made unique per process by [`Options::new`]).
    pub id: String,
    /// OCI annotations written into the bundle's `config.json`.
    pub annotations: BTreeMap<String, String>,
    /// Extra files in the image layer: path inside the container (absolute), contents, mode.
    pub files: Vec<(PathBuf, Vec<u8>, u32)>,
    /// The container's command (`process.args`).
    pub args: Vec<String>,
    /// Busybox applets to link into `/bin`.
    pub applets: Vec<String>,
    /// `process.user.uid`/`gid` of the init process.
    pub user: (u32, u32),
    /// A hook to edit `config.json` after the defaults are applied (privileged, mounts, ...).
    pub edit_config: Option<fn(&mut serde_json::Value)>,
    /// runc's `--root` (default: `state/` in the container's temporary folder), for tests that
    /// must tell a sensor where to look before the container exists.
    pub state_root: Option<PathBuf>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Options {
    /// Defaults for a container whose id starts with `name`: the init loops on `sleep 1`, runs as
    /// root, with the default applets, passwd and group, and no annotations.
    pub fn new(name: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Options {
            id: format!("mamori-{name}-{}-{n}", std::process::id()),
            annotations: BTreeMap::new(),
            files: Vec::new(),
            args: ["sh", "-c", "while true; do sleep 1; done"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            applets: DEFAULT_APPLETS.iter().map(|s| s.to_string()).collect(),
            user: (0, 0),
            edit_config: None,
            state_root: None,
        }
    }

    /// Adds an annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.to_string());
        self
    }

    /// Adds a file to the image layer (`path` is absolute inside the container).
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.files
            .push((PathBuf::from(path), contents.into(), mode));
        self
    }

    /// Replaces the command.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// A running container; dropping it deletes the container and unmounts the overlay.
pub struct TestContainer {
    id: String,
    dir: tempfile::TempDir,
    state_root: PathBuf,
    mounted: bool,
    created: bool,
    init_pid: u32,
}

impl TestContainer {
    /// Builds the rootfs, mounts the overlay, writes the bundle and runs `runc run -d`; waits
    /// until runc reports the init pid. Call [`available`] first.
    pub fn start(opts: Options) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("mamori-runc-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let mut c = TestContainer {
            id: opts.id.clone(),
            state_root: opts
                .state_root
                .clone()
                .unwrap_or_else(|| dir.path().join("state")),
            dir,
            mounted: false,
            created: false,
            init_pid: 0,
        };
        c.build_lower(&opts)?;
        for d in ["upper", "work", "merged", "bundle", "state"] {
            mkdir(&c.dir.path().join(d))?;
        }
        c.mount()?;
        c.write_bundle(&opts)?;
        c.run()?;
        Ok(c)
    }

    fn build_lower(&self, opts: &Options) -> Result<(), String> {
        let lower = self.lower();
        for d in [
            "bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/app", "run",
        ] {
            mkdir(&lower.join(d))?;
        }
        let bb = busybox().ok_or("no busybox")?;
        fs::copy(&bb, lower.join("bin/busybox")).map_err(|e| format!("copy busybox: {e}"))?;
        for applet in &opts.applets {
            symlink("busybox", lower.join("bin").join(applet))
                .map_err(|e| format!("symlink {applet}: {e}"))?;
        }
        write(&lower.join("etc/passwd"), DEFAULT_PASSWD.as_bytes(), 0o644)?;
        write(&lower.join("etc/group"), DEFAULT_GROUP.as_bytes(), 0o644)?;
        fs::set_permissions(lower.join("tmp"), fs::Permissions::from_mode(0o1777))
            .map_err(|e| format!("chmod tmp: {e}"))?;
        for (path, contents, mode) in &opts.files {
            let rel = path.strip_prefix("/").unwrap_or(path);
            let dest = lower.join(rel);
            if let Some(parent) = dest.parent() {
                mkdir(parent)?;
            }
            write(&dest, contents, *mode)?;
        }
        Ok(())
    }

    fn mount(&mut self) -> Result<(), String> {
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            self.lower().display(),
            self.upperdir().display(),
            self.dir.path().join("work").display()
        );
        let out = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(self.rootfs())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount overlay failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.mounted = true;
        Ok(())
    }

    fn write_bundle(&self, opts: &Options) -> Result<(), String> {
        let bundle = self.bundle();
        let out = Command::new("runc")
            .arg("spec")
            .arg("--bundle")
            .arg(&bundle)
            .output()
            .map_err(|e| format!("runc spec: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "runc spec failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let path = bundle.join("config.json");
        let text = fs::read_to_string(&path).map_err(|e| format!("read config.json: {e}"))?;
        let mut cfg: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("parse config.json: {e}"))?;
        cfg["root"] = serde_json::json!({
            "path": self.rootfs(),
            "readonly": false,
        });
        cfg["process"]["terminal"] = serde_json::Value::Bool(false);
        cfg["process"]["args"] = serde_json::json!(opts.args);
        cfg["process"]["user"] = serde_json::json!({"uid": opts.user.0, "gid": opts.user.1});
        cfg["annotations"] = serde_json::json!(opts.annotations);
        if let Some(edit) = opts.edit_config {
            edit(&mut cfg);
        }
        let text = serde_json::to_string_pretty(&cfg).map_err(|e| e.to_string())?;
        fs::write(&path, text).map_err(|e| format!("write config.json: {e}"))
    }

    fn run(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("runc-run.log");
        let log_file = fs::File::create(&log).map_err(|e| format!("create log: {e}"))?;
        let log_out = log_file.try_clone().map_err(|e| e.to_string())?;
        // Detached with terminal=false: the container inherits runc's stdio, so stdout/stderr go
        // to a file (a pipe would keep `output()` waiting for as long as the container lives).
        let status = Command::new("runc")
            .arg("--root")
            .arg(&self.state_root)
            .args(["run", "-d", "--bundle"])
            .arg(self.bundle())
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(log_out)
            .stderr(log_file)
            .status()
            .map_err(|e| format!("runc run: {e}"))?;
        // Even a failed `run` may leave state behind; delete --force cleans it either way.
        self.created = true;
        if !status.success() {
            return Err(format!(
                "runc run failed ({status}): {}",
                fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = self.state_pid() {
                self.init_pid = pid;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("runc state never reported a running init pid".to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn state_pid(&self) -> Option<u32> {
        let out = self.runc(&["state", &self.id]).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        if v["status"] != "running" {
            return None;
        }
        v["pid"].as_u64().and_then(|p| u32::try_from(p).ok())
    }

    /// Runs `runc --root <state root> <args>` and returns its output.
    pub fn runc(&self, args: &[&str]) -> std::io::Result<Output> {
        Command::new("runc")
            .arg("--root")
            .arg(&self.state_root)
            .args(args)
            .stdin(Stdio::null())
            .output()
    }

    /// Runs a command inside the container (`runc exec`), as root, and waits for it.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["exec", self.id.as_str()];
        full.extend_from_slice(args);
        self.runc(&full).expect("spawn runc exec")
    }

    /// Starts a command inside the container and returns without waiting (`runc exec -d`);
    /// its stdio is `/dev/null`.
    pub fn exec_detached(&self, args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
        Command::new("runc")
            .arg("--root")
            .arg(&self.state_root)
            .args(["exec", "-d", self.id.as_str()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    }

    /// Runs a command inside the container as `uid:gid`.
    pub fn exec_as(&self, uid: u32, gid: u32, args: &[&str]) -> Output {
        let user = format!("{uid}:{gid}");
        let mut full = vec!["exec", "--user", user.as_str(), self.id.as_str()];
        full.extend_from_slice(args);
        self.runc(&full).expect("spawn runc exec")
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The host pid of the container's init process.
    pub fn init_pid(&self) -> u32 {
        self.init_pid
    }

    /// runc's state root (pass it to `RuntimeRoots`); the container's state is `<root>/<id>`.
    pub fn state_root(&self) -> &Path {
        &self.state_root
    }

    /// The bundle folder (holds `config.json`).
    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    /// The overlay mount point, which is the container's `root.path`.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("merged")
    }

    /// The overlay's upper dir (files the container wrote).
    pub fn upperdir(&self) -> PathBuf {
        self.dir.path().join("upper")
    }

    /// The image layer (the overlay's lower dir).
    pub fn lower(&self) -> PathBuf {
        self.dir.path().join("lower")
    }

    /// The temporary folder holding everything.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        if self.created {
            let _ = self.runc(&["delete", "--force", &self.id]);
        }
        if self.mounted {
            let ok = Command::new("umount")
                .arg(self.rootfs())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                // Still busy (a process we did not see die yet): detach it so the tempdir can go.
                let _ = Command::new("umount").arg("-l").arg(self.rootfs()).status();
            }
        }
    }
}

fn mkdir(p: &Path) -> Result<(), String> {
    fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

fn write(p: &Path, contents: &[u8], mode: u32) -> Result<(), String> {
    fs::write(p, contents).map_err(|e| format!("write {}: {e}", p.display()))?;
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}
