//! A throw-away virtual machine for tests that need a kernel this machine does not run (BPF LSM):
//! Debian's kernel package is fetched with `apt-get download` (never installed) into
//! `target/lsm-vm/`, an initramfs is written here (cpio newc, static busybox as init, the 9p and
//! overlay modules), and `qemu-system-x86_64` boots it with the host's filesystem shared
//! read-only over 9p. The init mounts it, mounts fresh proc/sys/dev/tmpfs/cgroup2/bpffs/tracefs
//! over it, and runs a payload with `chroot`, so the payload uses the host's binaries (the test
//! executable itself included). The payload's console output comes back on the serial port; a
//! writable 9p share (`out`, at the same path as on the host) carries files back.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the kernel package is downloaded and unpacked.
pub fn cache_dir() -> PathBuf {
    mamori_testkit::workspace_root()
        .join("target")
        .join("lsm-vm")
}

/// The boot parameter that puts `bpf` in the active LSM list.
pub const LSM_PARAM: &str = "lsm=lockdown,capability,landlock,yama,bpf";

/// A kernel and its modules, unpacked from Debian's package.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `boot/vmlinuz-*`.
    pub vmlinuz: PathBuf,
    /// `lib/modules/<version>`.
    pub modules: PathBuf,
    /// The version string (`6.1.0-56-amd64`).
    pub version: String,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The versioned kernel package `linux-image-amd64` depends on, from apt's package lists.
fn kernel_package() -> Result<String, String> {
    let deps = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    deps.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| {
            format!("apt-cache knows no kernel package behind linux-image-amd64: {deps}")
        })
}

/// Downloads (once) and unpacks the kernel `linux-image-amd64` depends on.
pub fn fetch_kernel() -> Result<Kernel, String> {
    let dir = cache_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // A machine whose package lists are missing or stale knows no (or an outdated) kernel
    // package: refresh the lists once and ask again.
    let pkg = match kernel_package() {
        Ok(p) => p,
        Err(first) => {
            run(Command::new("apt-get").args(["update", "-qq"]))
                .map_err(|e| format!("{first}; apt-get update failed too: {e}"))?;
            kernel_package()?
        }
    };
    let unpacked = dir.join(&pkg);
    if !unpacked.join("boot").is_dir() {
        let debs = |d: &Path| -> Vec<PathBuf> {
            fs::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
                })
                .collect()
        };
        if debs(&dir).is_empty() {
            let download = || {
                run(Command::new("apt-get")
                    .args(["download", "-q", &pkg])
                    .current_dir(&dir))
            };
            if download().is_err() {
                run(Command::new("apt-get").args(["update", "-qq"]))?;
                download()?;
            }
        }
        let deb = debs(&dir)
            .into_iter()
            .next()
            .ok_or_else(|| format!("apt-get download {pkg} left no .deb in {}", dir.display()))?;
        let tmp = dir.join(format!("{pkg}.partial"));
        let _ = fs::remove_dir_all(&tmp);
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tmp))?;
        fs::rename(&tmp, &unpacked).map_err(|e| format!("cannot rename {}: {e}", tmp.display()))?;
    }
    let version = pkg.trim_start_matches("linux-image-").to_string();
    let vmlinuz = unpacked.join("boot").join(format!("vmlinuz-{version}"));
    let modules = unpacked.join("lib/modules").join(&version);
    if !vmlinuz.is_file() || !modules.is_dir() {
        return Err(format!(
            "{} does not hold boot/vmlinuz-{version} and lib/modules/{version}",
            unpacked.display()
        ));
    }
    Ok(Kernel {
        vmlinuz,
        modules,
        version,
    })
}

/// The modules the init loads, in dependency order (read from each module's `depends=`).
pub const MODULES: &[&str] = &["virtio_pci", "9pnet_virtio", "9p", "overlay"];

fn find_module(root: &Path, name: &str) -> Option<PathBuf> {
    let want = format!("{}.ko", name.replace('-', "_"));
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.replace('-', "_") == want)
            {
                return Some(p);
            }
        }
    }
    None
}

fn module_depends(ko: &[u8]) -> Vec<String> {
    let key = b"depends=";
    let Some(at) = ko.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let rest = &ko[at + key.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Module files to load, dependencies first.
fn module_order(modules: &Path, wanted: &[&str]) -> Result<Vec<(String, Vec<u8>)>, String> {
    fn visit(
        modules: &Path,
        name: &str,
        out: &mut Vec<(String, Vec<u8>)>,
        seen: &mut Vec<String>,
    ) -> Result<(), String> {
        if seen.iter().any(|s| s == name) {
            return Ok(());
        }
        seen.push(name.to_string());
        let path = find_module(modules, name)
            .ok_or_else(|| format!("module {name} not found under {}", modules.display()))?;
        let data = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for dep in module_depends(&data) {
            visit(modules, &dep, out, seen)?;
        }
        out.push((name.to_string(), data));
        Ok(())
    }
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for w in wanted {
        visit(modules, w, &mut out, &mut seen)?;
    }
    Ok(out)
}

/// A cpio archive in the `newc` format (what the kernel unpacks as an initramfs).
#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.ino += 1;
        let mut h = String::from("070701");
        for v in [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ] {
            let _ = write!(h, "{v:08x}");
        }
        self.buf.extend_from_slice(h.as_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
        self.buf.extend_from_slice(data);
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    /// A directory.
    pub fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, &[]);
    }

    /// A regular file.
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, data);
    }

    /// The archive with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.buf
    }
}

/// What came back from a boot.
#[derive(Debug)]
pub struct VmRun {
    /// Everything written to the serial console.
    pub console: String,
    /// The payload's exit status, from the init's last line (None: it never got there).
    pub status: Option<i32>,
    /// How long the VM ran.
    pub elapsed: Duration,
    /// Whether KVM was used (else TCG).
    pub kvm: bool,
}

/// Whether `/dev/kvm` can be opened for reading and writing.
pub fn kvm_usable() -> bool {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Boots `kernel` and runs `payload` (a shell script, run by the host's `/bin/sh` inside the
/// chroot, environment `env`), with `out` (a host folder) writable at the same path.
pub fn boot(
    kernel: &Kernel,
    work: &Path,
    out: &Path,
    payload: &str,
    env: &[(&str, String)],
    timeout: Duration,
) -> Result<VmRun, String> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or("no static busybox (install busybox-static)")?;
    let mods = module_order(&kernel.modules, MODULES)?;
    let mut init =
        String::from("#!/bin/busybox sh\n/bin/busybox --install -s /bin\necho MAMORI-VM init\n");
    init.push_str(
        "mkdir -p /proc /sys /dev /host\nmount -t proc proc /proc\nmount -t sysfs sys /sys\n\
         mount -t devtmpfs dev /dev\n",
    );
    for (name, _) in &mods {
        let _ = writeln!(
            init,
            "insmod /mods/{name}.ko || echo MAMORI-VM insmod {name} failed"
        );
    }
    // The host's root is moved onto `/` before the chroot (what switch_root does): container
    // runtimes that pivot_root and later setns(CLONE_NEWNS) (runc exec) find the namespace's root
    // by following what is mounted on `/`, so a plain chroot into /host would leave `runc exec`
    // in the initramfs.
    let boot_path = out.join("boot.sh");
    let _ = writeln!(
        init,
        "mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host || echo MAMORI-VM mount hostroot failed\n\
         cd /host && mount --move . / && exec chroot . {bb} sh {boot}\n\
         echo MAMORI-VM switching root failed\npoweroff -f",
        bb = busybox.display(),
        boot = boot_path.display(),
    );
    let bbp = busybox.display();
    let mut boot = String::new();
    for (fs_type, dest) in [
        ("proc", "/proc"),
        ("sysfs", "/sys"),
        ("devtmpfs", "/dev"),
        ("tmpfs", "/run"),
    ] {
        let _ = writeln!(boot, "{bbp} mount -t {fs_type} {fs_type} {dest}");
    }
    // The guest gets a fresh tmpfs on /tmp. A checkout under the host's /tmp (the test executable,
    // `out`) must stay visible: its top folder is bound back from the host's /tmp.
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the test executable: {e}"))?;
    let kept: std::collections::BTreeSet<String> = [out, exe.as_path()]
        .iter()
        .filter_map(|p| p.strip_prefix("/tmp").ok()?.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if !kept.is_empty() {
        let _ = writeln!(
            boot,
            "{bbp} mkdir -p /run/hosttmp
{bbp} mount --bind /tmp /run/hosttmp"
        );
    }
    let _ = writeln!(boot, "{bbp} mount -t tmpfs tmpfs /tmp");
    for top in &kept {
        let _ = writeln!(
            boot,
            "{bbp} mkdir -p '/tmp/{top}'
{bbp} mount --bind '/run/hosttmp/{top}' '/tmp/{top}'"
        );
    }
    for (fs_type, dest) in [
        ("cgroup2", "/sys/fs/cgroup"),
        ("bpf", "/sys/fs/bpf"),
        ("tracefs", "/sys/kernel/tracing"),
        ("securityfs", "/sys/kernel/security"),
    ] {
        let _ = writeln!(boot, "{bbp} mount -t {fs_type} {fs_type} {dest}");
    }
    let _ = writeln!(
        boot,
        "{bbp} mkdir -p /dev/pts /dev/shm\n{bbp} mount -t devpts devpts /dev/pts\n{bbp} mount -t tmpfs shm /dev/shm\n\
         {bbp} mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out {out} || echo MAMORI-VM mount out failed\n\
         {bbp} ip link set lo up\necho MAMORI-VM payload start\n\
         /bin/sh {payload}\necho MAMORI-VM-EXIT $?\nsync\n{bbp} poweroff -f",
        out = out.display(),
        payload = out.join("payload.sh").display(),
    );
    fs::write(&boot_path, boot).map_err(|e| format!("cannot write the boot script: {e}"))?;
    // The payload is read through the shared root (the initramfs is gone after the switch).
    let mut script = String::from("#!/bin/sh\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport HOME=/tmp TMPDIR=/tmp\n");
    for (k, v) in env {
        let _ = writeln!(script, "export {k}='{}'", v.replace('\'', "'\\''"));
    }
    script.push_str(payload);
    let payload_path = out.join("payload.sh");
    fs::write(&payload_path, script).map_err(|e| format!("cannot write the payload: {e}"))?;
    let mut cpio = Cpio::default();
    for d in ["bin", "mods", "proc", "sys", "dev", "host"] {
        cpio.dir(d);
    }
    let bb = fs::read(&busybox).map_err(|e| format!("cannot read {}: {e}", busybox.display()))?;
    cpio.file("bin/busybox", 0o755, &bb);
    cpio.file("init", 0o755, init.as_bytes());
    for (name, data) in &mods {
        cpio.file(&format!("mods/{name}.ko"), 0o644, data);
    }
    let initrd = work.join("initrd.cpio");
    fs::write(&initrd, cpio.finish()).map_err(|e| format!("cannot write the initramfs: {e}"))?;

    let mut kvm = kvm_usable();
    loop {
        match run_qemu(kernel, &initrd, out, kvm, timeout)? {
            Some(r) => return Ok(r),
            // KVM that cannot boot this kernel (nested virtualisation without the features it
            // needs hangs right after decompression): use TCG.
            None if kvm => kvm = false,
            None => return Err("the VM printed nothing under TCG".into()),
        }
    }
}

/// One boot. `None` when KVM was used and the init never spoke (qemu failed, or 20 s passed).
fn run_qemu(
    kernel: &Kernel,
    initrd: &Path,
    out: &Path,
    kvm: bool,
    timeout: Duration,
) -> Result<Option<VmRun>, String> {
    let qemu =
        mamori_testkit::find_tool("qemu-system-x86_64").ok_or("qemu-system-x86_64 not found")?;
    let mut cmd = Command::new(qemu);
    if kvm {
        cmd.args(["-enable-kvm", "-cpu", "host"]);
    } else {
        cmd.args(["-cpu", "max"]);
    }
    cmd.args([
        "-m",
        "2048",
        "-smp",
        "2",
        "-nographic",
        "-no-reboot",
        "-kernel",
    ])
    .arg(&kernel.vmlinuz)
    .arg("-initrd")
    .arg(initrd)
    .arg("-append")
    .arg(format!(
        "console=ttyS0 {LSM_PARAM} panic=-1 quiet loglevel=4"
    ))
    .arg("-virtfs")
    .arg("local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
    .arg("-virtfs")
    .arg(format!(
        "local,path={},mount_tag=out,security_model=none,multidevs=remap",
        out.display()
    ))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start qemu: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no qemu stdout")?;
    let console_buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = console_buf.clone();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&chunk[..n]);
        }
    });
    let spoke = |b: &std::sync::Arc<std::sync::Mutex<Vec<u8>>>| {
        let b = b.lock().unwrap_or_else(|e| e.into_inner());
        b.windows(13).any(|w| w == b"MAMORI-VM ini")
    };
    let mut timed_out = false;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            if kvm && !spoke(&console_buf) {
                let _ = reader.join();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                eprintln!(
                    "qemu under KVM stopped before the init ran ({}); retrying with TCG",
                    err.trim()
                );
                return Ok(None);
            }
            break;
        }
        if kvm && start.elapsed() > Duration::from_secs(20) && !spoke(&console_buf) {
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            eprintln!("the VM did not reach its init under KVM within 20 s; retrying with TCG");
            return Ok(None);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let _ = reader.join();
    let console = String::from_utf8_lossy(&console_buf.lock().unwrap_or_else(|e| e.into_inner()))
        .replace('\r', "");
    let status = console
        .lines()
        .rev()
        .filter_map(|l| l.trim().strip_prefix("MAMORI-VM-EXIT "))
        .next()
        .and_then(|s| s.trim().parse().ok());
    if timed_out {
        return Err(format!(
            "the VM did not finish within {timeout:?}; console:\n{console}\nqemu stderr:\n{stderr}"
        ));
    }
    Ok(Some(VmRun {
        console,
        status,
        elapsed: start.elapsed(),
        kvm,
    }))
}
