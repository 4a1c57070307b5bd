//! The table from event keys to slots, probed once per event field. A key is read as two
//! words (its first and last eight bytes) and its length: they pick the bucket, and for keys of
//! up to 16 bytes (most Falco field names) they are the whole comparison, so a probe reads the
//! event's key once and never follows a pointer to the table's copy.

use crate::matchers::{bytes_eq, word4, word8};

/// Event key -> (slot, rank); rank 0 is the canonical spelling, then the aliases in order.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    shift: u32,
    /// Buckets: index + 1 into `entries`, 0 when empty (linear probing).
    buckets: Box<[u16]>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    words: (u64, u64),
    len: usize,
    slot: u32,
    rank: u8,
    key: Box<str>,
}

/// The first and last eight bytes of `k` (fewer, packed, when it is shorter): with the length,
/// the whole key when it has at most 16 bytes.
#[inline(always)]
fn words(k: &[u8]) -> (u64, u64) {
    let n = k.len();
    if n >= 8 {
        (word8(k, 0), word8(k, n - 8))
    } else if n >= 4 {
        (u64::from(word4(k, 0)) | u64::from(word4(k, n - 4)) << 32, 0)
    } else {
        let mut x = 0u64;
        for (i, b) in k.iter().enumerate() {
            x |= u64::from(*b) << (8 * i);
        }
        (x, 0)
    }
}

#[inline(always)]
fn bucket_of(w: (u64, u64), len: usize, shift: u32) -> usize {
    let x = w.0 ^ w.1.rotate_left(29) ^ (len as u64);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
}

impl KeyTable {
    /// A table of `keys` (the first of a duplicated key wins).
    pub(crate) fn new(keys: impl IntoIterator<Item = (Box<str>, u32, u8)>) -> KeyTable {
        let mut entries: Vec<Entry> = Vec::new();
        for (key, slot, rank) in keys {
            if !entries.iter().any(|x| x.key == key) {
                entries.push(Entry {
                    words: words(key.as_bytes()),
                    len: key.len(),
                    slot,
                    rank,
                    key,
                });
            }
        }
        // Indices are stored as u16; a ruleset never reads that many distinct keys, and if
        // one did, the extra keys would only be unresolved (never wrong).
        entries.truncate(usize::from(u16::MAX) - 1);
        let size = (entries.len() * 4).next_power_of_two().max(16);
        let shift = 64 - size.trailing_zeros();
        let mut buckets = vec![0u16; size].into_boxed_slice();
        for (i, e) in entries.iter().enumerate() {
            let mut b = bucket_of(e.words, e.len, shift);
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
        let k = key.as_bytes();
        let w = words(k);
        let mut b = bucket_of(w, k.len(), self.shift);
        loop {
            let i = *self.buckets.get(b)?;
            if i == 0 {
                return None;
            }
            let e = self.entries.get(usize::from(i) - 1)?;
            if e.words == w
                && e.len == k.len()
                && (k.len() <= 16
                    || bytes_eq(&e.key.as_bytes()[8..k.len() - 8], &k[8..k.len() - 8]))
            {
                return Some((e.slot, e.rank));
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
            .chain(
                [
                    "evt.type",
                    "fd.name",
                    "a",
                    "",
                    "abcde",
                    "container.mount.dest[/var/lib/kubelet/pki]",
                    "xxxxxxxxAxxxxxxxx",
                ]
                .map(String::from),
            )
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
            "proc.aname[29]x",
            "container.mount.dest[/var/lib/kubelet]",
            "proc.aname[1000]",
            "proc.anamX[2]",
            "xxxxxxxxBxxxxxxxx",
            "container.mount.dest[/var/lib/kubeleT/pki]",
            "abcdf",
            "abde",
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
