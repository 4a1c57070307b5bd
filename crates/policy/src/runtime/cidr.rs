//! IPv4 and IPv6 networks (`10.0.0.0/8`, `fd00::/8`) for `blockedOutbound.addresses`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network in CIDR notation. A bare address is a host network (`/32` or `/128`).
///
/// Matching treats an IPv4-mapped IPv6 address (`::ffff:169.254.169.254`, what a dual-stack
/// socket connecting to an IPv4 host reports) as the IPv4 address it maps, so a v4 network also
/// catches connects made through v6 sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A network did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR {text:?}: {reason}")]
pub struct CidrError {
    /// The text as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Cidr {
    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length (0..=32 for IPv4, 0..=128 for IPv6).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the network (see the type documentation for IPv4-mapped addresses).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses `addr/prefix` or a bare address. Host bits must be zero (`10.0.0.1/8` is
    /// rejected: it is almost always a typo for `10.0.0.0/8` or `10.0.0.1/32`).
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let err = |reason: String| CidrError {
            text: s.to_string(),
            reason,
        };
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| err(format!("{addr_text:?} is not an IPv4 or IPv6 address")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => n,
                _ => return Err(err(format!("prefix length must be 0..={max}"))),
            },
        };
        let cidr = Cidr { addr, prefix };
        let masked = match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        if masked != addr {
            return Err(err(format!(
                "host bits are set (the network is {masked}/{prefix})"
            )));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().expect("test CIDR parses")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address parses")
    }

    #[test]
    fn v4() {
        let n = c("10.0.0.0/8");
        assert!(n.contains(ip("10.1.2.3")));
        assert!(n.contains(ip("10.255.255.255")));
        assert!(!n.contains(ip("11.0.0.0")));
        assert!(!n.contains(ip("9.255.255.255")));
        let host = c("169.254.169.254/32");
        assert!(host.contains(ip("169.254.169.254")));
        assert!(!host.contains(ip("169.254.169.253")));
        assert_eq!(c("169.254.169.254"), host);
        assert!(c("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!c("0.0.0.0/0").contains(ip("2001:db8::1")));
    }

    #[test]
    fn v6() {
        let n = c("fd00::/8");
        assert!(n.contains(ip("fd12:3456::1")));
        assert!(!n.contains(ip("fe80::1")));
        assert!(!n.contains(ip("10.0.0.1")));
        assert!(c("::/0").contains(ip("2001:db8::1")));
        assert!(c("2001:db8::1/128").contains(ip("2001:db8::1")));
        assert!(!c("2001:db8::1/128").contains(ip("2001:db8::2")));
        assert_eq!(c("2001:db8::/32").to_string(), "2001:db8::/32");
    }

    #[test]
    fn v4_mapped_v6_matches_v4_networks() {
        assert!(c("169.254.169.254/32").contains(ip("::ffff:169.254.169.254")));
        assert!(c("10.0.0.0/8").contains(ip("::ffff:10.9.8.7")));
        assert!(!c("10.0.0.0/8").contains(ip("::ffff:11.9.8.7")));
    }

    #[test]
    fn errors() {
        for (s, frag) in [
            ("10.0.0.0/33", "prefix length must be 0..=32"),
            ("fd00::/129", "prefix length must be 0..=128"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.0/-1", "prefix length"),
            ("10.0.0.0/+8", "prefix length"),
            ("10.0.0/8", "is not an IPv4 or IPv6 address"),
            ("example.com/8", "is not an IPv4 or IPv6 address"),
            ("", "is not an IPv4 or IPv6 address"),
            (
                "10.0.0.1/8",
                "host bits are set (the network is 10.0.0.0/8)",
            ),
            ("fd00::1/8", "host bits are set (the network is fd00::/8)"),
        ] {
            let e = s.parse::<Cidr>().expect_err(s);
            assert!(e.to_string().contains(frag), "{s:?}: {e}");
        }
    }
}
