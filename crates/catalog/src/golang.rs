//! Go executables: the build information the Go linker embeds (module path and versions of
//! the main module and every dependency, and the Go toolchain version, reported as `stdlib`).
//!
//! The build-info blob starts with the 14-byte magic `\xff Go buildinf:`, then the pointer size
//! and a flags byte, padded to 32 bytes. Since Go 1.18 (flag bit 2) two varint-length-prefixed
//! strings follow inline: the Go version and the module info. Older binaries store pointers into
//! the data segment instead; they are recognised and reported, not read.

use std::io::Read;

use crate::{CatalogError, CatalogPackage, PkgKind};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const CHUNK: usize = 1 << 20;
/// Bytes after the magic kept to decode the inline strings.
const TAIL: usize = 64 * 1024;

/// What a scan of an executable found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoBinary {
    /// Not a Go binary (no ELF header or no build-info magic).
    NotGo,
    /// A Go binary in the pre-1.18 pointer format, not read.
    LegacyFormat,
    /// Decoded build information.
    Info(BuildInfo),
}

/// Decoded build information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// Toolchain version (`go1.21.5`).
    pub go_version: String,
    /// Main module path and version (`(devel)` for local builds).
    pub main: Option<(String, String)>,
    /// Dependencies `(path, version)`, with `=>` replacements applied.
    pub deps: Vec<(String, String)>,
}

impl BuildInfo {
    /// The packages: the main module (unless `(devel)`), each dependency, and `stdlib`.
    pub fn packages(&self) -> Vec<CatalogPackage> {
        let mut out = Vec::new();
        if let Some((path, v)) = &self.main {
            if v != "(devel)" && !v.is_empty() {
                out.push(CatalogPackage::new(PkgKind::GoModule, path, v));
            }
        }
        for (path, v) in &self.deps {
            out.push(CatalogPackage::new(PkgKind::GoModule, path, v));
        }
        let v = self.go_version.trim_start_matches("go");
        // `go1.22.1 X:boringcrypto` style suffixes are not part of the version.
        let v = v.split_whitespace().next().unwrap_or(v);
        if !v.is_empty() {
            out.push(CatalogPackage::new(PkgKind::GoStdlib, "stdlib", v));
        }
        out
    }
}

/// Scans an executable as a stream, reading at most `limit` bytes, and keeping only a small
/// window in memory. Files that do not start with an ELF header are rejected after 4 bytes.
pub fn scan_reader(path: &str, mut r: impl Read, limit: u64) -> Result<GoBinary, CatalogError> {
    let io = |source| CatalogError::Io {
        path: path.to_string(),
        source,
    };
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut head[got..]).map_err(io)?;
        if n == 0 {
            return Ok(GoBinary::NotGo);
        }
        got += n;
    }
    if &head != b"\x7fELF" {
        return Ok(GoBinary::NotGo);
    }
    let mut r = r.take(limit.saturating_sub(4));
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + MAGIC.len());
    let finder = memchr::memmem::Finder::new(MAGIC);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = r.read(&mut chunk).map_err(io)?;
        if n == 0 {
            return Ok(GoBinary::NotGo);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = finder.find(&buf) {
            buf.drain(..pos);
            // Read the tail that holds the inline strings.
            while buf.len() < TAIL {
                let n = r.read(&mut chunk).map_err(io)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(decode(&buf));
        }
        // Keep the last bytes, in case the magic straddles two chunks.
        let keep = MAGIC.len() - 1;
        if buf.len() > keep {
            buf.drain(..buf.len() - keep);
        }
    }
}

/// Catalogs an executable held in memory.
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    match scan_reader(path, bytes, bytes.len() as u64)? {
        GoBinary::Info(i) => Ok(i.packages()),
        GoBinary::NotGo | GoBinary::LegacyFormat => Ok(Vec::new()),
    }
}

/// Decodes a blob that starts with the magic.
fn decode(blob: &[u8]) -> GoBinary {
    let Some(flags) = blob.get(15) else {
        return GoBinary::NotGo;
    };
    if flags & 2 == 0 {
        return GoBinary::LegacyFormat;
    }
    let mut pos = 32;
    let Some(version) = read_string(blob, &mut pos) else {
        return GoBinary::NotGo;
    };
    let modinfo = read_string(blob, &mut pos).unwrap_or_default();
    // Module info is framed by 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo
            .get(16..modinfo.len() - 16)
            .unwrap_or("")
            .to_string()
    } else {
        modinfo
    };
    let mut info = BuildInfo {
        go_version: version,
        main: None,
        deps: Vec::new(),
    };
    for line in modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", path, version, ..] => info.main = Some((path.to_string(), version.to_string())),
            ["dep", path, version, ..] => info.deps.push((path.to_string(), version.to_string())),
            ["=>", path, version, ..] => {
                if let Some(last) = info.deps.last_mut() {
                    *last = (path.to_string(), version.to_string());
                }
            }
            _ => {}
        }
    }
    GoBinary::Info(info)
}

fn read_string(b: &[u8], pos: &mut usize) -> Option<String> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*pos)?;
        *pos += 1;
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let len = usize::try_from(len).ok()?;
    let end = pos.checked_add(len)?;
    let s = b.get(*pos..end)?;
    *pos = end;
    Some(String::from_utf8_lossy(s).into_owned())
}

/// Builds a synthetic ELF-prefixed blob with Go 1.18+ build info (for tests and benchmarks).
#[doc(hidden)]
pub fn synthetic_binary(go_version: &str, modinfo: &str, padding: usize) -> Vec<u8> {
    let mut v = b"\x7fELF".to_vec();
    v.resize(padding.max(4), 0);
    let mut header = MAGIC.to_vec();
    header.push(8);
    header.push(2);
    header.resize(32, 0);
    v.extend_from_slice(&header);
    let framed = format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16));
    for s in [go_version, framed.as_str()] {
        let mut n = s.len();
        loop {
            let byte = (n & 0x7f) as u8; // ok: masked to 7 bits
            n >>= 7;
            if n == 0 {
                v.push(byte);
                break;
            }
            v.push(byte | 0x80);
        }
        v.extend_from_slice(s.as_bytes());
    }
    v.extend_from_slice(&[0u8; 100]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODINFO: &str = "path\texample.com/app\nmod\texample.com/app\tv1.2.3\th1:abc=\n\
dep\tgolang.org/x/net\tv0.0.1\th1:x=\n=>\tgolang.org/x/net\tv0.17.0\th1:y=\n\
dep\tgithub.com/pkg/errors\tv0.9.1\th1:z=\nbuild\t-compiler=gc\n";

    #[test]
    fn decodes_inline_build_info_across_chunks() {
        // Put the magic right across the first chunk boundary.
        let bin = synthetic_binary("go1.21.5", MODINFO, CHUNK - 3);
        let pkgs = parse("app", &bin).expect("scans");
        let got: Vec<_> = pkgs
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(
            got,
            [
                "example.com/app@v1.2.3",
                "golang.org/x/net@v0.17.0",
                "github.com/pkg/errors@v0.9.1",
                "stdlib@1.21.5"
            ]
        );
        assert_eq!(
            pkgs[1].purl(None).to_string(),
            "pkg:golang/golang.org/x/net@v0.17.0"
        );
    }

    #[test]
    fn non_go_and_truncated_inputs() {
        assert_eq!(
            scan_reader("x", &b"#!/bin/sh\n"[..], 100).expect("ok"),
            GoBinary::NotGo
        );
        let mut legacy = b"\x7fELF".to_vec();
        legacy.extend_from_slice(MAGIC);
        legacy.extend_from_slice(&[8, 0]);
        assert_eq!(
            scan_reader("x", &legacy[..], 1000).expect("ok"),
            GoBinary::LegacyFormat
        );
        let mut bin = synthetic_binary("go1.21.5", MODINFO, 10);
        bin.truncate(60);
        assert!(parse("x", &bin).is_ok());
        // A length varint that never ends.
        let mut bad = b"\x7fELF".to_vec();
        bad.extend_from_slice(MAGIC);
        bad.extend_from_slice(&[8, 2]);
        bad.resize(4 + 32, 0);
        bad.extend_from_slice(&[0xff; 20]);
        assert!(parse("x", &bad).expect("ok").is_empty());
    }
}
