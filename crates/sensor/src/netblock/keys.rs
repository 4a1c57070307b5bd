//! The encoding of the kernel maps' keys and values (`bpf/netblock.bpf.c` reads the same
//! layouts): kept free of I/O so that it is unit-tested without a kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The rule needs the port lookup (must match `R_PORTS`).
pub const R_PORTS: u32 = 1 << 0;
/// The rule has IPv4 networks (must match `R_NETS4`).
pub const R_NETS4: u32 = 1 << 1;
/// The rule has IPv6 networks (must match `R_NETS6`).
pub const R_NETS6: u32 = 1 << 2;

/// The value of `by_cgroup`/`by_netns`: the rule id in the low half, its flags in the high half.
pub fn target_value(rule: u32, flags: u32) -> u64 {
    u64::from(flags) << 32 | u64::from(rule)
}

/// The key of `ports`: the rule id in the low half, the port (host order) above it.
pub fn port_key(rule: u32, port: u16) -> u64 {
    u64::from(port) << 32 | u64::from(rule)
}

/// One LPM-trie entry: which trie, the key's prefix length and its data (rule id in native byte
/// order, then the network address in network byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetKey {
    /// An entry of `nets4`.
    V4 {
        /// 32 (the rule id) + the network's prefix.
        prefix_len: u32,
        /// `rule` ‖ address.
        data: [u8; 8],
    },
    /// An entry of `nets6`.
    V6 {
        /// 32 + the network's prefix.
        prefix_len: u32,
        /// `rule` ‖ address.
        data: [u8; 20],
    },
}

/// The trie key for `addr/prefix` under `rule`. Host bits are cleared; a prefix longer than the
/// address is clamped. An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) becomes the IPv4
/// network it maps, since the kernel side looks v4-mapped destinations up in the v4 trie.
pub fn net_key(rule: u32, addr: IpAddr, prefix: u8) -> NetKey {
    match addr {
        IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
            let v4 = v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED);
            net_key(rule, IpAddr::V4(v4), prefix - 96)
        }
        IpAddr::V4(v4) => {
            let prefix = u32::from(prefix.min(32));
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            let net = u32::from(v4) & mask;
            let mut data = [0u8; 8];
            data[..4].copy_from_slice(&rule.to_ne_bytes());
            data[4..].copy_from_slice(&net.to_be_bytes());
            NetKey::V4 {
                prefix_len: 32 + prefix,
                data,
            }
        }
        IpAddr::V6(v6) => {
            let prefix = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            let net = u128::from(v6) & mask;
            let mut data = [0u8; 20];
            data[..4].copy_from_slice(&rule.to_ne_bytes());
            data[4..].copy_from_slice(&net.to_be_bytes());
            NetKey::V6 {
                prefix_len: 32 + prefix,
                data,
            }
        }
    }
}

/// The address back from a trie key (for messages and tests).
pub fn net_of(key: &NetKey) -> (IpAddr, u8) {
    match key {
        NetKey::V4 { prefix_len, data } => {
            let mut a = [0u8; 4];
            a.copy_from_slice(&data[4..]);
            (
                IpAddr::V4(Ipv4Addr::from(a)),
                u8::try_from(prefix_len.saturating_sub(32)).unwrap_or(32),
            )
        }
        NetKey::V6 { prefix_len, data } => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&data[4..]);
            (
                IpAddr::V6(Ipv6Addr::from(a)),
                u8::try_from(prefix_len.saturating_sub(32)).unwrap_or(128),
            )
        }
    }
}

/// The flags a rule with these ports and networks needs.
pub fn rule_flags(has_ports: bool, keys: &[NetKey]) -> u32 {
    let mut f = 0;
    if has_ports {
        f |= R_PORTS;
    }
    for k in keys {
        f |= match k {
            NetKey::V4 { .. } => R_NETS4,
            NetKey::V6 { .. } => R_NETS6,
        };
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_value_puts_rule_low_and_flags_high() {
        let v = target_value(7, R_PORTS | R_NETS6);
        assert_eq!(v as u32, 7);
        assert_eq!((v >> 32) as u32, R_PORTS | R_NETS6);
        assert_eq!(target_value(u32::MAX, 0), u64::from(u32::MAX));
    }

    #[test]
    fn port_key_matches_the_c_expression() {
        // C: ((__u64)port << 32) | rule
        assert_eq!(port_key(1, 4444), (4444u64 << 32) | 1);
        assert_ne!(port_key(1, 4444), port_key(2, 4444));
        assert_ne!(port_key(1, 4444), port_key(1, 5555));
        assert_eq!(port_key(0, 0), 0);
    }

    #[test]
    fn v4_key_is_rule_then_address_in_network_order() {
        let k = net_key(0x0102_0304, "10.1.2.3".parse().unwrap(), 8);
        let NetKey::V4 { prefix_len, data } = &k else {
            panic!("expected a v4 key, got {k:?}")
        };
        assert_eq!(*prefix_len, 40);
        assert_eq!(&data[..4], &0x0102_0304u32.to_ne_bytes());
        // Host bits cleared: 10.0.0.0.
        assert_eq!(&data[4..], &[10, 0, 0, 0]);
        assert_eq!(net_of(&k), ("10.0.0.0".parse().unwrap(), 8));
    }

    #[test]
    fn v4_host_and_default_routes() {
        let k = net_key(1, "127.0.0.1".parse().unwrap(), 32);
        assert_eq!(net_of(&k), ("127.0.0.1".parse().unwrap(), 32));
        let k = net_key(1, "1.2.3.4".parse().unwrap(), 0);
        assert_eq!(net_of(&k), ("0.0.0.0".parse().unwrap(), 0));
        assert!(matches!(k, NetKey::V4 { prefix_len: 32, .. }));
        // Too long a prefix is clamped rather than overflowing the key.
        assert!(matches!(
            net_key(1, "1.2.3.4".parse().unwrap(), 200),
            NetKey::V4 { prefix_len: 64, .. }
        ));
    }

    #[test]
    fn v6_key_is_rule_then_address() {
        let k = net_key(9, "fd00:1234::1".parse().unwrap(), 16);
        let NetKey::V6 { prefix_len, data } = &k else {
            panic!("expected a v6 key, got {k:?}")
        };
        assert_eq!(*prefix_len, 48);
        assert_eq!(&data[..4], &9u32.to_ne_bytes());
        assert_eq!(&data[4..6], &[0xfd, 0x00]);
        assert!(data[6..].iter().all(|&b| b == 0));
        assert_eq!(
            net_key(9, "::".parse().unwrap(), 0),
            NetKey::V6 {
                prefix_len: 32,
                data: {
                    let mut d = [0u8; 20];
                    d[..4].copy_from_slice(&9u32.to_ne_bytes());
                    d
                }
            }
        );
    }

    #[test]
    fn v4_mapped_network_goes_to_the_v4_trie() {
        let k = net_key(3, "::ffff:169.254.0.0".parse().unwrap(), 112);
        assert_eq!(net_of(&k), ("169.254.0.0".parse().unwrap(), 16));
        // A short prefix covering more than the mapped range stays v6.
        assert!(matches!(
            net_key(3, "::".parse().unwrap(), 80),
            NetKey::V6 { .. }
        ));
    }

    #[test]
    fn flags_follow_the_rule_contents() {
        let v4 = net_key(1, "10.0.0.0".parse().unwrap(), 8);
        let v6 = net_key(1, "fd00::".parse().unwrap(), 8);
        assert_eq!(rule_flags(false, &[]), 0);
        assert_eq!(rule_flags(true, &[]), R_PORTS);
        assert_eq!(rule_flags(false, std::slice::from_ref(&v4)), R_NETS4);
        assert_eq!(rule_flags(true, &[v4, v6]), R_PORTS | R_NETS4 | R_NETS6);
    }
}
