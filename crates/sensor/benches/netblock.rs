//! Cost of the cgroup connect programs on connect(): the same loopback connects with nothing
//! attached, with the programs attached but no rules (every process pays this), and from a
//! process whose cgroup has a rule that does not match (the full lookup path: cgroup, port,
//! network). UDP connect() is cheap, so it shows the hook's share; TCP connect+accept is what a
//! client really pays. Needs root for the attached variants (the baseline runs without).
#![allow(missing_docs)] // criterion_group! generates an undocumented function

#[cfg(target_os = "linux")]
criterion::criterion_group!(benches, linux::bench);
#[cfg(target_os = "linux")]
criterion::criterion_main!(benches);

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
mod linux {
    use std::hint::black_box;
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;
    use std::time::Duration;

    use criterion::Criterion;
    use mamori_policy::runtime::Cidr;
    use mamori_sensor::netblock::{cgroup2_mount, cgroup2_path, KeyKind, NetBlocker, NetTarget};

    /// Closes with RST (SO_LINGER 0) so that the loop leaves no TIME_WAIT sockets behind.
    #[allow(unsafe_code)]
    fn reset_on_close(s: &TcpStream) {
        use std::os::fd::AsRawFd;
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: the socket is open; the kernel reads one `linger` struct of the given size.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&l as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }

    struct Loopback {
        tcp_port: u16,
        udp: UdpSocket,
        udp_port: u16,
    }

    fn loopback() -> Loopback {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s);
            }
        });
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_port = server.local_addr().unwrap().port();
        std::mem::forget(server);
        Loopback {
            tcp_port,
            udp: UdpSocket::bind("127.0.0.1:0").unwrap(),
            udp_port,
        }
    }

    fn run(c: &mut Criterion, lb: &Loopback, name: &str) {
        let mut g = c.benchmark_group("connect");
        g.sample_size(30)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_millis(500));
        g.bench_function(format!("udp/{name}"), |b| {
            b.iter(|| {
                lb.udp
                    .connect(("127.0.0.1", black_box(lb.udp_port)))
                    .unwrap()
            })
        });
        g.bench_function(format!("tcp/{name}"), |b| {
            b.iter(|| {
                let s = TcpStream::connect(("127.0.0.1", black_box(lb.tcp_port))).unwrap();
                reset_on_close(&s);
            })
        });
        g.finish();
    }

    /// Moves this process into a fresh cgroup v2 folder; moves it back and removes the folder on drop.
    struct InCgroup {
        dir: PathBuf,
        back: PathBuf,
    }

    impl InCgroup {
        fn enter() -> Option<InCgroup> {
            let mount = cgroup2_mount(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)?;
            let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
            let back = mount.join(cgroup2_path(&own)?.trim_start_matches('/'));
            let dir = mount.join(format!("mamori-netblock-bench-{}", std::process::id()));
            std::fs::create_dir(&dir).ok()?;
            std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string()).ok()?;
            Some(InCgroup { dir, back })
        }
    }

    impl Drop for InCgroup {
        fn drop(&mut self) {
            let _ = std::fs::write(
                self.back.join("cgroup.procs"),
                std::process::id().to_string(),
            );
            let _ = std::fs::remove_dir(&self.dir);
        }
    }

    pub fn bench(c: &mut Criterion) {
        let lb = loopback();
        run(c, &lb, "detached");
        if !mamori_testkit::require_root("attaching cgroup socket programs") {
            return;
        }
        let mut blocker = match NetBlocker::start() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("SKIPPED: attached variants: {e}");
                return;
            }
        };
        run(c, &lb, "attached-no-rules");
        let Some(cg) = InCgroup::enter() else {
            eprintln!("SKIPPED: cannot move the bench into a cgroup of its own");
            return;
        };
        let target = NetTarget {
            kind: KeyKind::Cgroup,
            key: std::fs::metadata(&cg.dir).unwrap().ino(),
        };
        // A rule with ports and networks that do not match the loopback destinations.
        let nets: Vec<Cidr> = ["10.0.0.0/8", "169.254.169.254/32", "fd00::/8"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        blocker.block_target(target, &[1, 2, 3], &nets).unwrap();
        run(c, &lb, "attached-rule-miss");
        blocker.unblock(&target).unwrap();
        drop(cg);
    }
}
