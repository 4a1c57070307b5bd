//! The table from event keys to slots, probed once per event field. A key is read as two
//! words (its first and last eight bytes) and its length: they pick the bucket, and for keys of
//! up to 16 bytes (most Falco field names) they are the whole comparison, so a probe reads the
//! event's key once and never follows a pointer to the table's copy.

use crate::matchers::{bytes_eq, word4, word8};

/// Event key -> (slot, rank); rank 0 is the canonical spelling, then the aliases in order.
/// The entries sit in the buckets themselves (open addressing, at most half full), so a probe
/// is one load from the table.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    shift: u32,
    buckets: Box<[Entry]>,
    /// The full key of each bucket (compared only for keys longer than 16 bytes).
    keys: Box<[Box<str>]>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    words: (u64, u64),
    len: u32,
    /// `EMPTY` for an empty bucket.
    slot: u32,
    rank: u8,
}

const EMPTY: u32 = u32::MAX;

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
        let mut uniq: Vec<(Box<str>, u32, u8)> = Vec::new();
        for e in keys {
            // Keys longer than u32::MAX bytes cannot be stored; no field name is.
            if e.1 != EMPTY && u32::try_from(e.0.len()).is_ok() && !uniq.iter().any(|x| x.0 == e.0)
            {
                uniq.push(e);
            }
        }
        let size = (uniq.len() * 2).next_power_of_two().max(16);
        let shift = 64 - size.trailing_zeros();
        let empty = Entry {
            words: (0, 0),
            len: 0,
            slot: EMPTY,
            rank: 0,
        };
        let mut buckets = vec![empty; size].into_boxed_slice();
        let mut full: Vec<Box<str>> = vec![Box::from(""); size];
        for (key, slot, rank) in uniq {
            let w = words(key.as_bytes());
            let mut b = bucket_of(w, key.len(), shift);
            while buckets[b].slot != EMPTY {
                b = (b + 1) & (size - 1);
            }
            buckets[b] = Entry {
                words: w,
                len: key.len() as u32,
                slot,
                rank,
            };
            full[b] = key;
        }
        KeyTable {
            shift,
            buckets,
            keys: full.into_boxed_slice(),
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
            let e = self.buckets.get(b)?;
            if e.slot == EMPTY {
                return None;
            }
            if e.words == w
                && e.len as usize == k.len()
                && (k.len() <= 16
                    || self.keys.get(b).is_some_and(|full| {
                        bytes_eq(&full.as_bytes()[8..k.len() - 8], &k[8..k.len() - 8])
                    }))
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
