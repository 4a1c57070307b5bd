//! Without CAP_BPF, CAP_SYS_ADMIN and CAP_NET_ADMIN, `NetBlocker::start` says that privileges are
//! missing (not a generic load failure). Alone in its binary: dropping capabilities poisons aya's
//! process-wide feature probes for any other test that would run after it.
#![cfg(target_os = "linux")]

use mamori_sensor::netblock::{NetBlockError, NetBlocker};

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Clears `caps` from the calling thread's effective set (capabilities are per thread).
#[allow(unsafe_code)]
fn drop_effective(caps: &[u32]) {
    let mut hdr = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 takes one header and two data structs, both live for the call.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    for &c in caps {
        data[(c / 32) as usize].effective &= !(1 << (c % 32));
    }
    // SAFETY: as above; only this thread's effective set shrinks.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
}

#[test]
fn missing_capabilities_are_reported_as_such() {
    if !mamori_testkit::require_root("dropping capabilities") {
        return;
    }
    // A DaemonSet that forgot CAP_NET_ADMIN: maps and the object load (CAP_BPF), the cgroup
    // socket programs do not. First, so that aya's feature probes run with CAP_BPF.
    check(&[CAP_SYS_ADMIN, CAP_NET_ADMIN]);
    // Nothing at all.
    check(&[CAP_BPF, CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_PERFMON]);
}

fn check(dropped: &'static [u32]) {
    let r = std::thread::spawn(move || {
        drop_effective(dropped);
        NetBlocker::start().map(drop)
    })
    .join()
    .unwrap();
    match r {
        Err(e @ NetBlockError::Privileges(_)) => {
            let text = e.to_string();
            assert!(text.contains("CAP_NET_ADMIN"), "{text}");
            eprintln!(
                "without capabilities {dropped:?}: {text}: {:?}",
                std::error::Error::source(&e).map(|s| s.to_string())
            );
        }
        Err(e) => panic!("expected a privileges error without {dropped:?}, got: {e} ({e:?})"),
        Ok(()) => panic!("loaded and attached without capabilities {dropped:?}"),
    }
}
