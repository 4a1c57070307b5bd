//! Outbound blocking in the kernel against real runc containers: a blocked port or network fails
//! with EPERM inside the container and is reported as a denial, other ports still connect, the
//! host is not affected, and unblocking restores connectivity. Needs root and runc.
#![cfg(target_os = "linux")]

#[path = "common/runc.rs"]
mod runc;

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use mamori_policy::runtime::Cidr;
use mamori_sensor::netblock::{
    cgroup2_mount, cgroup2_path, Denial, Hook, KeyKind, NetBlockError, NetBlocker, Reason,
};

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

/// A free port on the host's loopback, held by a listener (so it stays ours) and a second port
/// number for the container's other listener.
fn host_listener() -> (TcpListener, u16, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    let q = if p < 65000 { p + 1 } else { p - 1 };
    (l, p, q)
}

/// `nc -w 2 127.0.0.1 <port>` inside the container: Ok, or Err(stderr).
fn nc(c: &runc::TestContainer, port: u16) -> Result<(), String> {
    let out = c.exec(&["nc", "-w", "2", "127.0.0.1", &port.to_string()]);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Starts persistent listeners inside the container and waits until both accept.
fn listen_in(c: &runc::TestContainer, ports: &[u16]) {
    for p in ports {
        let st = c
            .exec_detached(&["nc", "-ll", "-p", &p.to_string(), "-e", "true"])
            .unwrap();
        assert!(st.success(), "runc exec -d nc -l failed: {st}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for &p in ports {
        loop {
            match nc(c, p) {
                Ok(()) => break,
                Err(e) if Instant::now() > deadline => {
                    panic!("listener on {p} in the container never came up: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

fn drain(b: &mut NetBlocker) -> Vec<Denial> {
    let mut v = Vec::new();
    b.drain_denials(|d| v.push(d));
    v
}

fn start_blocker() -> NetBlocker {
    match NetBlocker::start() {
        Ok(b) => b,
        Err(e) => panic!("NetBlocker::start: {}", chain(&e)),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[test]
fn blocked_port_and_network_in_a_container_by_cgroup() {
    if !runc::available() {
        return;
    }
    let (host, p, q) = host_listener();
    let c = runc::TestContainer::start(runc::Options::new("netblock-cg")).unwrap();
    listen_in(&c, &[p, q]);

    let mut b = start_blocker();
    assert_eq!(b.key_kind(), "cgroup");
    let t = b.block(c.init_pid(), &[p], &[]).unwrap();

    // The key is the inode of the container's own cgroup v2 directory.
    assert_eq!(t.kind, KeyKind::Cgroup);
    let mount = cgroup2_mount(&std::fs::read_to_string("/proc/self/mountinfo").unwrap()).unwrap();
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", c.init_pid())).unwrap();
    let rel = cgroup2_path(&text).unwrap();
    assert_ne!(rel, "/", "runc gave the container no cgroup v2 directory");
    let ino = std::fs::metadata(mount.join(rel.trim_start_matches('/')))
        .unwrap()
        .ino();
    assert_eq!(t.key, ino);
    drain(&mut b);
    let before = b.denied();

    // The blocked port fails with EPERM and is reported.
    let err = nc(&c, p).expect_err("connect to the blocked port succeeded");
    assert!(err.contains("Operation not permitted"), "nc said: {err}");
    let ds = drain(&mut b);
    let d = ds
        .iter()
        .find(|d| d.port == p)
        .unwrap_or_else(|| panic!("no denial for port {p} in {ds:?}"));
    assert_eq!(d.addr, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(d.comm, "nc");
    assert_eq!(d.target, t);
    assert_eq!(d.hook, Hook::Connect);
    assert_eq!(d.reason, Reason::Port);
    assert_ne!(d.pid, 0);
    assert_ne!(d.pid, std::process::id());
    assert!(b.denied() > before);

    // Another port still connects.
    nc(&c, q).expect("connect to the other port was blocked");

    // The host is not the container: the same port on the host's loopback connects.
    let s = TcpStream::connect(("127.0.0.1", p)).expect("the host's connect was blocked");
    drop(s);
    drop(host);

    // Replace the rule with a network: every port to 127.0.0.0/8 is denied now.
    let t2 = b.block(c.init_pid(), &[], &[cidr("127.0.0.0/8")]).unwrap();
    assert_eq!(t2, t);
    let err = nc(&c, q).expect_err("connect into the blocked network succeeded");
    assert!(err.contains("Operation not permitted"), "nc said: {err}");
    let ds = drain(&mut b);
    assert!(
        ds.iter()
            .any(|d| d.port == q && d.reason == Reason::Network && d.target == t),
        "no network denial for port {q} in {ds:?}"
    );

    // Unblock: both connect again.
    b.unblock(&t).unwrap();
    nc(&c, q).expect("still blocked after unblock");
    nc(&c, p).expect("still blocked after unblock");
    assert!(matches!(
        b.unblock(&t),
        Err(NetBlockError::UnknownTarget(_))
    ));
}

/// Runs `f` on a thread inside process `pid`'s network namespace (the thread stays in the
/// host's cgroup, so only a netns key can match it).
fn in_netns<T: Send + 'static>(pid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    std::thread::spawn(move || {
        setns(&ns);
        f()
    })
    .join()
    .unwrap()
}

#[allow(unsafe_code)]
fn setns(ns: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: `ns` is an open namespace file; setns only moves this (short-lived) thread.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

fn is_eperm(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EPERM)
}

#[test]
fn netns_key_blocks_udp_v6_and_v4_mapped() {
    if !runc::available() {
        return;
    }
    let (_host, p, q) = host_listener();
    let c = runc::TestContainer::start(runc::Options::new("netblock-ns")).unwrap();
    let mut b = start_blocker();
    let t = b
        .block_by(
            KeyKind::Netns,
            c.init_pid(),
            &[p],
            &[cidr("10.0.0.0/8"), cidr("fd00::/8")],
        )
        .unwrap();
    assert_eq!(t.kind, KeyKind::Netns);
    drain(&mut b);

    let results = in_netns(c.init_pid(), move || {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let blocked_udp = udp.send_to(b"x", ("127.0.0.1", p));
        let other_udp = udp.send_to(b"x", ("127.0.0.1", q));
        let tcp = |a: &str| {
            let addr: SocketAddr = a.parse().unwrap();
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map(drop)
        };
        (
            blocked_udp.map(drop),
            other_udp.map(drop),
            tcp("10.1.2.3:80"),
            tcp("[fd00::1]:80"),
            tcp("[::ffff:10.1.2.3]:80"),
            tcp(&format!("127.0.0.1:{q}")),
        )
    });
    let (blocked_udp, other_udp, v4net, v6net, mapped, other_tcp) = results;
    assert!(blocked_udp.as_ref().is_err_and(is_eperm), "{blocked_udp:?}");
    other_udp.expect("UDP to another port was blocked");
    assert!(v4net.as_ref().is_err_and(is_eperm), "{v4net:?}");
    assert!(v6net.as_ref().is_err_and(is_eperm), "{v6net:?}");
    assert!(mapped.as_ref().is_err_and(is_eperm), "{mapped:?}");
    // Nothing listens on q in the container: refused, not denied.
    assert_eq!(
        other_tcp.as_ref().map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionRefused),
        "{other_tcp:?}"
    );

    let ds = drain(&mut b);
    let me = std::process::id();
    let want = [
        (Hook::Sendmsg, Reason::Port, "127.0.0.1", p),
        (Hook::Connect, Reason::Network, "10.1.2.3", 80),
        (Hook::Connect, Reason::Network, "fd00::1", 80),
        (Hook::Connect, Reason::Network, "::ffff:10.1.2.3", 80),
    ];
    for (hook, reason, addr, port) in want {
        let addr: IpAddr = addr.parse().unwrap();
        assert!(
            ds.iter().any(|d| d.hook == hook
                && d.reason == reason
                && d.addr == addr
                && d.port == port
                && d.target == t
                && d.pid == me),
            "no {hook:?} {reason:?} denial for {addr} port {port} in {ds:?}"
        );
    }

    // The host's namespace is not the container's: the same UDP send works here.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(b"x", ("127.0.0.1", p))
        .expect("the host's UDP send was blocked");

    b.unblock(&t).unwrap();
    let after = in_netns(c.init_pid(), move || {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.send_to(b"x", ("127.0.0.1", p)).map(drop)
    });
    after.expect("still blocked after unblock");
}

#[test]
fn blocking_the_host_itself_is_refused() {
    if !mamori_testkit::require_root("cgroup socket programs") {
        return;
    }
    let mut b = start_blocker();
    let me = std::process::id();
    let err = b
        .block_by(KeyKind::Netns, me, &[1], &[])
        .expect_err("keyed the host's own network namespace");
    assert!(
        matches!(err, NetBlockError::NoKey { pid } if pid == me),
        "{err}"
    );
    // Our own cgroup v2 path decides what `block` does: at the root it falls back to the netns
    // key and refuses the same way; in a cgroup of our own it keys by that cgroup.
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    if cgroup2_path(&text) == Some("/") {
        assert!(matches!(
            b.block(me, &[1], &[]),
            Err(NetBlockError::NoKey { .. })
        ));
        assert_eq!(b.targets().count(), 0);
    }
}
