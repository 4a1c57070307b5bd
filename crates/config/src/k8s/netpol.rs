//! NetworkPolicy analysis: does a policy keep pods away from the instance metadata service
//! (169.254.169.254)?

use crate::node::Node;

const IMDS: u32 = u32::from_be_bytes([169, 254, 169, 254]);

/// Parses `a.b.c.d/n` (IPv4 only) into (network, prefix length).
fn parse_v4(cidr: &str) -> Option<(u32, u32)> {
    let (addr, len) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    Some((u32::from(ip), len))
}

fn contains_imds(cidr: &str) -> bool {
    match parse_v4(cidr) {
        Some((net, 0)) => {
            let _ = net;
            true
        }
        Some((net, len)) => {
            let mask = u32::MAX << (32 - len);
            (net & mask) == (IMDS & mask)
        }
        None => false,
    }
}

/// Whether an egress peer lets traffic reach the metadata address.
fn peer_reaches_imds(peer: &Node) -> bool {
    let Some(block) = peer.get("ipBlock") else {
        // Pod and namespace selectors only match in-cluster endpoints.
        return false;
    };
    let Some(cidr) = block.get("cidr").and_then(Node::as_str) else {
        return false;
    };
    if !contains_imds(cidr) {
        return false;
    }
    let excepted = block
        .get("except")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .any(contains_imds);
    !excepted
}

/// Returns (blocks, allows): whether the policy selects all pods and leaves no egress path to
/// 169.254.169.254, and whether any of its egress rules allows that address.
pub(super) fn imds_effect(np: &Node) -> (bool, bool) {
    let Some(spec) = np.get("spec") else {
        return (false, false);
    };
    let types: Vec<&str> = spec
        .get("policyTypes")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect();
    let egress_policy =
        types.contains(&"Egress") || (types.is_empty() && spec.get("egress").is_some());
    if !egress_policy {
        return (false, false);
    }
    let all_pods = match spec.get("podSelector") {
        None => true,
        Some(sel) => sel
            .entries()
            .iter()
            .all(|(_, v)| v.entries().is_empty() && v.items().is_empty()),
    };
    let rules = spec.get("egress").map(Node::items).unwrap_or(&[]);
    let allows = rules.iter().any(|r| match r.get("to") {
        None => true,
        Some(to) if to.items().is_empty() => true,
        Some(to) => to.items().iter().any(peer_reaches_imds),
    });
    (all_pods && !allows, allows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::read_yaml;
    use crate::Limits;

    fn effect(text: &str) -> (bool, bool) {
        let docs = read_yaml(text, &Limits::default()).unwrap();
        imds_effect(&docs[0])
    }

    #[test]
    fn deny_all_egress_blocks() {
        assert_eq!(
            effect("spec:\n  podSelector: {}\n  policyTypes: [Egress]\n"),
            (true, false)
        );
    }

    #[test]
    fn except_blocks_and_open_cidr_allows() {
        let blocked = "spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except: [169.254.169.254/32]\n";
        assert_eq!(effect(blocked), (true, false));
        let open = "spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n";
        assert_eq!(effect(open), (false, true));
        let any = "spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - {}\n";
        assert_eq!(effect(any), (false, true));
    }

    #[test]
    fn selected_pods_only_do_not_cover_namespace() {
        let t = "spec:\n  podSelector:\n    matchLabels: {app: a}\n  policyTypes: [Egress]\n";
        assert_eq!(effect(t), (false, false));
    }

    #[test]
    fn ingress_only_is_ignored() {
        assert_eq!(
            effect("spec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"),
            (false, false)
        );
    }
}
