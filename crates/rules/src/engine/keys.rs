//! The table from event keys to slots, probed once per event field: a few sampled bytes and
//! the length pick the bucket (keys are short, distinct Falco field names known at load
//! time), and one comparison confirms it, which is several times cheaper than hashing the
//! whole key.

/// Event key -> (slot, rank); rank 0 is the canonical spelling, then the aliases in order.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    shift: u32,
    /// Buckets: index + 1 into `entries`, 0 when empty (linear probing).
    buckets: Box<[u16]>,
    entries: Vec<(Box<str>, u32, u8)>,
}

#[inline]
fn bucket_hash(k: &[u8], shift: u32) -> usize {
    let n = k.len();
    if n == 0 {
        return 0;
    }
    let x = (n as u64)
        | u64::from(k[n - 1]) << 8
        | u64::from(k[n / 2]) << 16
        | u64::from(k[n * 3 / 4]) << 24
        | u64::from(k[n / 4]) << 32
        | u64::from(k[n - 2.min(n)]) << 40;
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
}

impl KeyTable {
    /// A table of `keys` (the first of a duplicated key wins).
    pub(crate) fn new(keys: impl IntoIterator<Item = (Box<str>, u32, u8)>) -> KeyTable {
        let mut entries: Vec<(Box<str>, u32, u8)> = Vec::new();
        for e in keys {
            if !entries.iter().any(|x| x.0 == e.0) {
                entries.push(e);
            }
        }
        // Indices are stored as u16; a ruleset never reads that many distinct keys, and if
        // one did, the extra keys would only be unresolved (never wrong).
        entries.truncate(usize::from(u16::MAX) - 1);
        let size = (entries.len() * 4).next_power_of_two().max(16);
        let shift = 64 - size.trailing_zeros();
        let mut buckets = vec![0u16; size].into_boxed_slice();
        for (i, (k, _, _)) in entries.iter().enumerate() {
            let mut b = bucket_hash(k.as_bytes(), shift);
            while buckets[b] != 0 {
                b = (b + 1) & (size - 1);
            }
            buckets[b] = (i + 1) as u16;
        }
        KeyTable {
            shift,
            buckets,
            entries,
        }
    }

    /// The slot and rank of an event key.
    #[inline]
    pub(crate) fn get(&self, key: &str) -> Option<(u32, u8)> {
        let mask = self.buckets.len().checked_sub(1)?;
        let mut b = bucket_hash(key.as_bytes(), self.shift);
        loop {
            let i = *self.buckets.get(b)?;
            if i == 0 {
                return None;
            }
            let (k, slot, rank) = self.entries.get(usize::from(i) - 1)?;
            if crate::matchers::str_eq(k, key) {
                return Some((*slot, *rank));
            }
            b = (b + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_rejects_others() {
        let names: Vec<String> = (0..300)
            .map(|i| format!("proc.aname[{i}]"))
            .chain(["evt.type", "fd.name", "a", ""].map(String::from))
            .collect();
        let t = KeyTable::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone().into_boxed_str(), i as u32, 0)),
        );
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.get(n), Some((i as u32, 0)), "{n}");
        }
        for other in [
            "proc.aname[300]",
            "evt.typ",
            "b",
            "fd.names",
            "x".repeat(100).as_str(),
        ] {
            assert_eq!(t.get(other), None, "{other}");
        }
        assert_eq!(KeyTable::default().get("x"), None);
    }
}
