//! The denial record `bpf/netblock.bpf.c` writes to its ring buffer (`struct denial`), decoded
//! without `unsafe`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Denial, Hook, KeyKind, NetTarget, Reason};

/// Size of `struct denial`.
pub const DENIAL_LEN: usize = 56;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// A record did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than `struct denial`.
    #[error("denial record is {0} bytes, expected {DENIAL_LEN}")]
    Short(usize),
    /// A field holds a value the program never writes.
    #[error("denial record has an invalid {field} ({value})")]
    Field {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u8,
    },
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(a)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(a)
}

/// Decodes one ring-buffer record.
pub fn decode(b: &[u8]) -> Result<Denial, DecodeError> {
    if b.len() < DENIAL_LEN {
        return Err(DecodeError::Short(b.len()));
    }
    let bad = |field, value| DecodeError::Field { field, value };
    let kind = match b[16] {
        1 => KeyKind::Cgroup,
        2 => KeyKind::Netns,
        v => return Err(bad("key kind", v)),
    };
    let hook = match b[18] {
        1 => Hook::Connect,
        2 => Hook::Sendmsg,
        v => return Err(bad("hook", v)),
    };
    let reason = match b[19] {
        1 => Reason::Port,
        2 => Reason::Network,
        v => return Err(bad("reason", v)),
    };
    let addr = match b[17] {
        AF_INET => IpAddr::V4(Ipv4Addr::new(b[24], b[25], b[26], b[27])),
        AF_INET6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[24..40]);
            IpAddr::V6(Ipv6Addr::from(a))
        }
        v => return Err(bad("address family", v)),
    };
    let comm = &b[40..56];
    let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
    Ok(Denial {
        pid: u32_at(b, 8),
        comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
        addr,
        port: u16::from_ne_bytes([b[20], b[21]]),
        target: NetTarget {
            kind,
            key: u64_at(b, 0),
        },
        hook,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, family: u8, hook: u8, reason: u8, addr: &[u8]) -> Vec<u8> {
        let mut b = Vec::with_capacity(DENIAL_LEN);
        b.extend_from_slice(&0x1234_5678_9abc_u64.to_ne_bytes());
        b.extend_from_slice(&4242u32.to_ne_bytes());
        b.extend_from_slice(&7u32.to_ne_bytes());
        b.extend_from_slice(&[kind, family, hook, reason]);
        b.extend_from_slice(&4444u16.to_ne_bytes());
        b.extend_from_slice(&[0, 0]);
        let mut a = [0u8; 16];
        a[..addr.len()].copy_from_slice(addr);
        b.extend_from_slice(&a);
        let mut comm = [0u8; 16];
        comm[..2].copy_from_slice(b"nc");
        b.extend_from_slice(&comm);
        b
    }

    #[test]
    fn decodes_a_v4_connect_denial() {
        let d = decode(&record(1, AF_INET, 1, 1, &[127, 0, 0, 1])).unwrap();
        assert_eq!(d.pid, 4242);
        assert_eq!(d.comm, "nc");
        assert_eq!(d.addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(d.port, 4444);
        assert_eq!(
            d.target,
            NetTarget {
                kind: KeyKind::Cgroup,
                key: 0x1234_5678_9abc
            }
        );
        assert_eq!(d.hook, Hook::Connect);
        assert_eq!(d.reason, Reason::Port);
    }

    #[test]
    fn decodes_a_v6_sendmsg_denial() {
        let ip: Ipv6Addr = "fd00::5".parse().unwrap();
        let d = decode(&record(2, AF_INET6, 2, 2, &ip.octets())).unwrap();
        assert_eq!(d.addr, IpAddr::V6(ip));
        assert_eq!(d.target.kind, KeyKind::Netns);
        assert_eq!(d.hook, Hook::Sendmsg);
        assert_eq!(d.reason, Reason::Network);
    }

    #[test]
    fn full_comm_without_nul_is_kept() {
        let mut b = record(1, AF_INET, 1, 1, &[1, 2, 3, 4]);
        b[40..56].copy_from_slice(b"abcdefghijklmnop");
        assert_eq!(decode(&b).unwrap().comm, "abcdefghijklmnop");
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert_eq!(decode(&[0u8; 10]), Err(DecodeError::Short(10)));
        assert!(matches!(
            decode(&record(9, AF_INET, 1, 1, &[])),
            Err(DecodeError::Field {
                field: "key kind",
                value: 9
            })
        ));
        assert!(matches!(
            decode(&record(1, 3, 1, 1, &[])),
            Err(DecodeError::Field {
                field: "address family",
                ..
            })
        ));
        assert!(matches!(
            decode(&record(1, AF_INET, 0, 1, &[])),
            Err(DecodeError::Field { field: "hook", .. })
        ));
        assert!(matches!(
            decode(&record(1, AF_INET, 1, 0, &[])),
            Err(DecodeError::Field {
                field: "reason",
                ..
            })
        ));
    }
}
