//! Precompiled matchers: fast hash sets, fnmatch-style globs, path-prefix sets, CIDRs.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// A small, fast, non-cryptographic hasher (FxHash). Keys come from rules files, not attackers.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low bits that pick the bucket.
        let h = self.hash;
        (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
    }
}

/// Byte equality for the short strings rules compare (field names, process names, paths),
/// inlined: a call into the C library's `memcmp` costs more than the comparison itself.
#[inline(always)]
pub fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            if word8(a, i) != word8(b, i) {
                return false;
            }
            i += 8;
        }
        // The tail as one (overlapping) word.
        i == n || word8(a, n - 8) == word8(b, n - 8)
    } else if n >= 4 {
        word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4)
    } else {
        a.iter().zip(b).all(|(x, y)| x == y)
    }
}

#[inline(always)]
pub(crate) fn word8(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
pub(crate) fn word4(s: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[i..i + 4]);
    u32::from_le_bytes(w)
}

/// [`bytes_eq`] on strings.
#[inline(always)]
pub fn str_eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

/// A string-keyed table built once and probed per event: open addressing over a word-at-a-time
/// hash, and the inlined [`bytes_eq`] to confirm, which for the short keys of rules (process
/// names, paths, field values) is several times cheaper than a `HashMap` lookup.
#[derive(Debug, Clone)]
pub struct StrMap<V> {
    shift: u32,
    /// Index + 1 into `entries`; 0 when empty (linear probing, at most half full).
    buckets: Box<[u32]>,
    entries: Vec<(Box<str>, V)>,
}

/// A [`StrMap`] without values.
pub type StrSet = StrMap<()>;

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        StrMap {
            shift: 64,
            buckets: Box::new([]),
            entries: Vec::new(),
        }
    }
}

#[inline(always)]
fn str_hash(b: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let n = b.len();
    let mut h = (n as u64).wrapping_mul(K);
    let mut mix = |w: u64| h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            mix(word8(b, i));
            i += 8;
        }
        if i < n {
            mix(word8(b, n - 8));
        }
    } else if n >= 4 {
        mix(u64::from(word4(b, 0)) | u64::from(word4(b, n - 4)) << 32);
    } else if n > 0 {
        mix(u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16);
    }
    h
}

impl<V> StrMap<V> {
    /// A table of `pairs`; of duplicate keys the first is kept.
    pub fn new(pairs: impl IntoIterator<Item = (Box<str>, V)>) -> Self {
        let mut seen: FxSet<Box<str>> = FxSet::default();
        let entries: Vec<(Box<str>, V)> = pairs
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
        let size = (entries.len() * 2).next_power_of_two().max(8);
        let shift = 64 - size.trailing_zeros();
        let mut buckets = vec![0u32; size].into_boxed_slice();
        for (i, (k, _)) in entries.iter().enumerate() {
            let mut b = (str_hash(k.as_bytes()) >> shift) as usize;
            while buckets[b] != 0 {
                b = (b + 1) & (size - 1);
            }
            buckets[b] = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        StrMap {
            shift,
            buckets,
            entries,
        }
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&V> {
        let mask = self.buckets.len().checked_sub(1)?;
        let mut b = (str_hash(key.as_bytes()) >> self.shift) as usize;
        loop {
            let i = *self.buckets.get(b)?;
            if i == 0 {
                return None;
            }
            let (k, v) = self.entries.get(i as usize - 1)?;
            if bytes_eq(k.as_bytes(), key.as_bytes()) {
                return Some(v);
            }
            b = (b + 1) & mask;
        }
    }

    /// Whether `key` is in the table.
    #[inline]
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<Box<str>> for StrSet {
    fn from_iter<I: IntoIterator<Item = Box<str>>>(iter: I) -> Self {
        StrMap::new(iter.into_iter().map(|k| (k, ())))
    }
}

/// Hash map with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// Hash set with [`FxHasher`].
pub type FxSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// A compiled fnmatch-style glob (`*`, `?`, `[...]`, `[!...]`); `*` also matches `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    toks: Vec<GTok>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GTok {
    Lit(char),
    Any,
    Star,
    Class(bool, Vec<(char, char)>),
}

impl Glob {
    /// Compiles a pattern. Unbalanced `[` is taken literally, like fnmatch.
    pub fn new(pat: &str) -> Glob {
        let chars: Vec<char> = pat.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    if toks.last() != Some(&GTok::Star) {
                        toks.push(GTok::Star);
                    }
                    i += 1;
                }
                '?' => {
                    toks.push(GTok::Any);
                    i += 1;
                }
                '[' => {
                    let mut j = i + 1;
                    let neg = j < chars.len() && (chars[j] == '!' || chars[j] == '^');
                    if neg {
                        j += 1;
                    }
                    let start = j;
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    while j < chars.len() {
                        if chars[j] == ']' && j > start {
                            closed = true;
                            break;
                        }
                        if j + 2 < chars.len() && chars[j + 1] == '-' && chars[j + 2] != ']' {
                            ranges.push((chars[j], chars[j + 2]));
                            j += 3;
                        } else {
                            ranges.push((chars[j], chars[j]));
                            j += 1;
                        }
                    }
                    if closed {
                        toks.push(GTok::Class(neg, ranges));
                        i = j + 1;
                    } else {
                        toks.push(GTok::Lit('['));
                        i += 1;
                    }
                }
                c => {
                    toks.push(GTok::Lit(c));
                    i += 1;
                }
            }
        }
        Glob { toks }
    }

    /// Whether the whole of `s` matches. Walks `s` by byte offset, decoding one char at a
    /// time, so matching allocates nothing.
    pub fn is_match(&self, s: &str) -> bool {
        let (mut ti, mut si) = (0usize, 0usize);
        let mut back: Option<(usize, usize)> = None;
        while let Some(c) = s.get(si..).and_then(|r| r.chars().next()) {
            let ok = match self.toks.get(ti) {
                Some(GTok::Star) => {
                    back = Some((ti, si));
                    ti += 1;
                    continue;
                }
                Some(GTok::Any) => true,
                Some(GTok::Lit(l)) => *l == c,
                Some(GTok::Class(neg, r)) => r.iter().any(|(a, b)| *a <= c && c <= *b) != *neg,
                None => false,
            };
            if ok {
                ti += 1;
                si += c.len_utf8();
            } else if let Some((bt, bs)) = back {
                // Let the last star take one more char and retry after it.
                let skip = s
                    .get(bs..)
                    .and_then(|r| r.chars().next())
                    .map_or(1, char::len_utf8);
                ti = bt + 1;
                si = bs + skip;
                back = Some((bt, si));
            } else {
                return false;
            }
        }
        self.toks
            .get(ti..)
            .is_some_and(|t| t.iter().all(|t| *t == GTok::Star))
    }

    /// Whether the pattern has wildcards.
    pub fn has_wildcards(&self) -> bool {
        self.toks.iter().any(|t| !matches!(t, GTok::Lit(_)))
    }
}

/// A set of path prefixes for `pmatch`: `/opt/dir` matches `/opt/dir` and `/opt/dir/...`, not
/// `/opt/dir2`. Components may hold glob wildcards.
#[derive(Debug, Clone, Default)]
pub struct PathSet {
    exact: FxSet<Box<str>>,
    root: bool,
    globbed: Vec<Vec<Glob>>,
}

fn components(p: &str) -> impl Iterator<Item = &str> {
    p.split('/').filter(|c| !c.is_empty())
}

impl PathSet {
    /// Builds the set.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> PathSet {
        let mut set = PathSet::default();
        for p in paths {
            let trimmed = p.trim_end_matches('/');
            if trimmed.is_empty() {
                if p.starts_with('/') {
                    set.root = true;
                }
                continue;
            }
            let comps: Vec<Glob> = components(trimmed).map(Glob::new).collect();
            if comps.iter().any(Glob::has_wildcards) {
                set.globbed.push(comps);
            } else {
                set.exact.insert(trimmed.into());
            }
        }
        set
    }

    /// Whether `path` is below (or equal to) one of the prefixes.
    pub fn is_match(&self, path: &str) -> bool {
        if self.root && path.starts_with('/') {
            return true;
        }
        let p = path.trim_end_matches('/');
        if !self.exact.is_empty() {
            if self.exact.contains(p) {
                return true;
            }
            for (i, b) in p.bytes().enumerate() {
                if b == b'/' && i > 0 && self.exact.contains(&p[..i]) {
                    return true;
                }
            }
        }
        if !self.globbed.is_empty() {
            let comps: Vec<&str> = components(p).collect();
            for g in &self.globbed {
                if g.len() <= comps.len() && g.iter().zip(&comps).all(|(g, c)| g.is_match(c)) {
                    return true;
                }
            }
        }
        false
    }
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::/n` or a bare address (full-length prefix).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Cidr { addr, bits })
    }

    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.bits))
                };
                u32::from(n) & mask == u32::from(*a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.bits))
                };
                u128::from(n) & mask == u128::from(*a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_eq_agrees_with_slice_eq() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "abcdefghijklmnopq",
            "xbcdefghijklmnopq",
            "/usr/bin/python3",
            "/usr/bin/python2",
            "proc.aname[2]",
            "proc.aname[3]",
        ];
        for a in words {
            for b in words {
                assert_eq!(str_eq(a, b), a == b, "{a:?} {b:?}");
            }
            // Every single-byte change is seen, wherever it is.
            for i in 0..a.len() {
                let mut c = a.as_bytes().to_vec();
                c[i] ^= 1;
                assert!(!bytes_eq(a.as_bytes(), &c), "{a:?} at {i}");
            }
        }
    }

    #[test]
    fn str_map_finds_every_key_and_only_those() {
        let keys: Vec<String> = (0..500)
            .map(|i| format!("/usr/bin/p{i}"))
            .chain(["", "a", "ab", "abc", "abcd", "sh", "bash", "proc.name"].map(String::from))
            .collect();
        let m = StrMap::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (k.clone().into_boxed_str(), i)),
        );
        assert_eq!(m.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(k), Some(&i), "{k}");
        }
        for k in [
            "/usr/bin/p500",
            "/usr/bin/p",
            "b",
            "abcde",
            "bas",
            "proc.nam",
        ] {
            assert_eq!(m.get(k), None, "{k}");
        }
        let dup = StrMap::new([("x".into(), 1), ("x".into(), 2)]);
        assert_eq!((dup.len(), dup.get("x")), (1, Some(&1)));
        assert!(StrSet::default().get("x").is_none());
        assert!(StrSet::default().is_empty());
    }

    #[test]
    fn globs_on_multibyte_text() {
        assert!(Glob::new("*é?").is_match("aéé"));
        assert!(Glob::new("?").is_match("é"));
        assert!(!Glob::new("??").is_match("é"));
        assert!(Glob::new("*ü*x").is_match("ääüäx"));
        assert!(!Glob::new("*ü*x").is_match("ääüäy"));
        assert!(Glob::new("[à-é]").is_match("è"));
    }

    #[test]
    fn globs() {
        assert!(Glob::new("/etc/*.conf").is_match("/etc/a.conf"));
        assert!(Glob::new("*").is_match("/a/b"));
        assert!(Glob::new("a?c").is_match("abc"));
        assert!(!Glob::new("a?c").is_match("ac"));
        assert!(Glob::new("[a-c]x").is_match("bx"));
        assert!(!Glob::new("[!a-c]x").is_match("bx"));
        assert!(Glob::new("*.log").is_match(".log"));
        assert!(!Glob::new("*.log").is_match("x.logs"));
        assert!(Glob::new("[x").is_match("[x"));
    }

    #[test]
    fn pmatch_like_libs() {
        // libs filter_op_pmatch tests, /opt/dir/subdir/file.txt
        let f = "/opt/dir/subdir/file.txt";
        let m = |p: &str| PathSet::new([p]).is_match(f);
        assert!(m("/opt/dir"));
        assert!(m("/opt/dir/subdir"));
        assert!(!m("/opt/dir2"));
        assert!(m("/opt/*"));
        assert!(m("/opt/*/subdir"));
        assert!(m("/opt/di?/subdir"));
        assert!(!m("/opt/di[!r]/subdir"));
        assert!(!m("/opt/di/subdir"));
        assert!(m("/opt/*/*"));
        assert!(!m("/opt/*/*/subsubdir"));
        assert!(m("/"));
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("142.251.0.0/8").unwrap();
        assert!(c.contains(&"142.251.111.147".parse().unwrap()));
        assert!(!Cidr::parse("10.0.0.0/8")
            .unwrap()
            .contains(&"142.1.1.1".parse().unwrap()));
        assert!(Cidr::parse("2001:4860::0/32")
            .unwrap()
            .contains(&"2001:4860:4860::8888".parse().unwrap()));
        assert!(Cidr::parse("1.2.3.4/33").is_none());
    }
}
