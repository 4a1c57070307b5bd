//! Go executables: the build information the Go linker embeds (module path and versions of
//! the main module and every dependency, and the Go toolchain version, reported as `stdlib`).
//!
//! The build-info blob starts with the 14-byte magic `\xff Go buildinf:`, then the pointer size
//! and a flags byte, padded to 32 bytes. Since Go 1.18 (flag bit 2) two varint-length-prefixed
//! strings follow inline: the Go version and the module info. Older binaries store pointers into
//! the data segment instead: `runtime.buildVersion` and `runtime.modinfo`, each a Go string
//! header (pointer, length) resolved through the ELF program headers ([`from_elf`]). A binary
//! too large to hold in memory is scanned as a stream ([`scan_reader`]), which reads only the
//! inline format.

use std::io::Read;

use crate::elf::{self, Elf};
use crate::{CatalogError, CatalogPackage, PkgKind};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const CHUNK: usize = 1 << 20;
/// Bytes after the magic kept to decode the inline strings.
const TAIL: usize = 64 * 1024;
/// Bytes of the data segment searched for the magic (as the Go toolchain does).
const SEARCH: u64 = 64 * 1024;
/// Longest version or module-info string read through a legacy pointer.
const MAX_LEGACY_STRING: u64 = 16 << 20;

/// What a scan of an executable found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoBinary {
    /// Not a Go binary (no ELF header or no build-info magic).
    NotGo,
    /// A Go binary in the pre-1.18 pointer format seen in a stream ([`scan_reader`]), which
    /// cannot follow the pointers; [`from_elf`] reads this format.
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

/// Catalogs an executable held in memory (ELF with section and program headers, else a plain
/// search for the Go 1.18+ inline format).
pub fn parse(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let found = match Elf::parse(bytes) {
        Ok(elf) => from_elf(&elf),
        Err(_) => scan_reader(path, bytes, bytes.len() as u64)?,
    };
    match found {
        GoBinary::Info(i) => Ok(i.packages()),
        GoBinary::NotGo | GoBinary::LegacyFormat => Ok(Vec::new()),
    }
}

/// Reads the build information of an ELF executable the way the Go toolchain does: from the
/// `.go.buildinfo` section, else from the first writable, non-executable loadable segment,
/// looking at its first 64 KiB for the magic on a 16-byte boundary. Both formats are read: the
/// Go 1.18+ inline strings, and the older one where two pointers (to the `runtime.buildVersion`
/// and `runtime.modinfo` string headers) follow the 16-byte header and are resolved through the
/// loadable segments.
pub fn from_elf(elf: &Elf<'_>) -> GoBinary {
    let data = if let Some(s) = elf.section(".go.buildinfo") {
        match elf.read_addr(s.addr, SEARCH) {
            Some(d) if s.addr != 0 => d,
            _ => match elf.section_data(s) {
                Some(d) => &d[..d.len().min(SEARCH as usize)],
                None => return GoBinary::NotGo,
            },
        }
    } else {
        let Some(seg) = elf
            .segments
            .iter()
            .find(|p| p.kind == elf::PT_LOAD && p.flags & (elf::PF_X | elf::PF_W) == elf::PF_W)
        else {
            return GoBinary::NotGo;
        };
        match elf.read_addr(seg.vaddr, SEARCH) {
            Some(d) => d,
            None => return GoBinary::NotGo,
        }
    };
    // Virtual address of `data`, to find relocations of the pointers in it (0: unknown).
    let data_vaddr = match elf.section(".go.buildinfo") {
        Some(s) if s.addr != 0 && elf.read_addr(s.addr, 1).is_some() => s.addr,
        Some(_) => 0,
        None => elf
            .segments
            .iter()
            .find(|p| p.kind == elf::PT_LOAD && p.flags & (elf::PF_X | elf::PF_W) == elf::PF_W)
            .map_or(0, |p| p.vaddr),
    };
    let finder = memchr::memmem::Finder::new(MAGIC);
    let mut from = 0;
    let blob_at: u64;
    let blob = loop {
        let Some(i) = data.get(from..).and_then(|d| finder.find(d)) else {
            return GoBinary::NotGo;
        };
        let at = from + i;
        if data.len() - at < 32 {
            return GoBinary::NotGo;
        }
        if at % 16 == 0 {
            blob_at = at as u64;
            break &data[at..];
        }
        from = at + 1;
    };
    if blob[15] & 2 != 0 {
        return decode(blob);
    }
    let ptr_size = usize::from(blob[14]);
    if ptr_size != 4 && ptr_size != 8 {
        return GoBinary::NotGo;
    }
    let big = blob[15] & 1 != 0;
    let ptr = |b: &[u8]| -> Option<u64> {
        if ptr_size == 4 {
            let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
            Some(u64::from(if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }))
        } else {
            let a: [u8; 8] = b.get(..8)?.try_into().ok()?;
            Some(if big {
                u64::from_be_bytes(a)
            } else {
                u64::from_le_bytes(a)
            })
        }
    };
    // In a position-independent executable the pointers are relocated at load time: their
    // link-time value is the addend of a RELATIVE relocation, and the file may hold 0.
    let pointer_at = |vaddr: Option<u64>, b: &[u8]| -> Option<u64> {
        vaddr
            .filter(|v| *v != 0)
            .and_then(|v| elf.relative_addend(v))
            .or_else(|| ptr(b))
    };
    // A Go string header is (data pointer, length), both pointer-sized.
    let go_string = |addr: u64| -> Option<String> {
        let hdr = elf.read_addr(addr, 2 * ptr_size as u64)?;
        let (p, n) = (pointer_at(Some(addr), hdr)?, ptr(hdr.get(ptr_size..)?)?);
        if n > MAX_LEGACY_STRING {
            return None;
        }
        let s = elf.read_addr(p, n)?;
        (s.len() as u64 == n).then(|| String::from_utf8_lossy(s).into_owned())
    };
    let slot = |off: usize| {
        (data_vaddr != 0)
            .then(|| data_vaddr.checked_add(blob_at)?.checked_add(off as u64))
            .flatten()
    };
    let version = pointer_at(slot(16), &blob[16..])
        .and_then(go_string)
        .unwrap_or_default();
    if version.is_empty() {
        return GoBinary::NotGo;
    }
    let modinfo = pointer_at(slot(16 + ptr_size), &blob[16 + ptr_size..])
        .and_then(go_string)
        .unwrap_or_default();
    build_info(version, unframe(&modinfo))
}

/// Module information is framed by two 16-byte sentinels; without them Go reports none.
fn unframe(modinfo: &str) -> &str {
    let b = modinfo.as_bytes();
    if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        modinfo.get(16..b.len() - 16).unwrap_or("")
    } else {
        ""
    }
}

/// Decodes a blob that starts with the magic, in the Go 1.18+ inline format.
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
    build_info(version, unframe(&modinfo))
}

fn build_info(go_version: String, modinfo: &str) -> GoBinary {
    let mut info = BuildInfo {
        go_version,
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

/// Builds an ELF64 executable with Go build information in the pre-1.18 pointer format: the
/// strings in a read-only segment, the header and the two string headers in `.go.buildinfo`
/// (for tests, fuzz seeds and benchmarks). `ptr_size` 4 or 8.
#[doc(hidden)]
pub fn synthetic_legacy_binary(go_version: &str, modinfo: &str, ptr_size: u8) -> Vec<u8> {
    legacy_binary(go_version, modinfo, ptr_size, false)
}

/// As [`synthetic_legacy_binary`] (pointer size 8), laid out like a position-independent
/// executable: the four pointers are 0 in the file and their values are the addends of
/// `R_X86_64_RELATIVE` entries in `.rela.dyn`.
#[doc(hidden)]
pub fn synthetic_legacy_pie_binary(go_version: &str, modinfo: &str) -> Vec<u8> {
    legacy_binary(go_version, modinfo, 8, true)
}

fn legacy_binary(go_version: &str, modinfo: &str, ptr_size: u8, pie: bool) -> Vec<u8> {
    const RODATA: u64 = 0x40_0000;
    const DATA: u64 = 0x60_0000;
    let framed = format!("{}{modinfo}{}", "0".repeat(16), "1".repeat(16));
    let mut rodata = go_version.as_bytes().to_vec();
    rodata.resize(rodata.len().div_ceil(16) * 16, 0);
    let mod_at = RODATA + rodata.len() as u64;
    rodata.extend_from_slice(framed.as_bytes());
    let word = |v: u64, out: &mut Vec<u8>| {
        if ptr_size == 4 {
            out.extend_from_slice(&(v as u32).to_le_bytes()); // ok: test addresses are small
        } else {
            out.extend_from_slice(&v.to_le_bytes());
        }
    };
    let mut data = MAGIC.to_vec();
    data.push(ptr_size);
    data.push(0);
    word(DATA + 32, &mut data);
    word(DATA + 48, &mut data);
    data.resize(32, 0);
    word(RODATA, &mut data);
    word(go_version.len() as u64, &mut data);
    data.resize(48, 0);
    word(mod_at, &mut data);
    word(framed.len() as u64, &mut data);
    data.resize(64, 0);
    if !pie {
        return crate::elf::synthetic_elf64(&[
            (".rodata", RODATA, 4, &rodata),
            (".go.buildinfo", DATA, 6, &data),
        ]);
    }
    let mut rela = Vec::new();
    for slot in [16usize, 24, 32, 48] {
        let at = DATA + slot as u64;
        let value = u64::from_le_bytes(data[slot..slot + 8].try_into().unwrap_or([0; 8]));
        data[slot..slot + 8].fill(0);
        rela.extend_from_slice(&at.to_le_bytes());
        rela.extend_from_slice(&8u64.to_le_bytes()); // R_X86_64_RELATIVE, no symbol
        rela.extend_from_slice(&value.to_le_bytes());
    }
    crate::elf::synthetic_elf64(&[
        (".rodata", RODATA, 4, &rodata),
        (".go.buildinfo", DATA, 6, &data),
        (".rela.dyn", 0, 0, &rela),
    ])
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

    #[test]
    fn decodes_legacy_pointer_format() {
        for ptr_size in [8, 4] {
            let bin = synthetic_legacy_binary("go1.16.15", MODINFO, ptr_size);
            let pkgs = parse("old", &bin).expect("scans");
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
                    "stdlib@1.16.15"
                ],
                "pointer size {ptr_size}"
            );
        }
        // Without `.go.buildinfo` the first writable segment is searched.
        let mut bin = synthetic_legacy_binary("go1.13", MODINFO, 8);
        let at = memchr::memmem::find(&bin, b".go.buildinfo").expect("name");
        bin[at..at + 13].copy_from_slice(b".data\0\0\0\0\0\0\0\0");
        assert_eq!(parse("old", &bin).expect("scans").len(), 4);
    }

    #[test]
    fn legacy_pie_pointers_come_from_relative_relocations() {
        let bin = synthetic_legacy_pie_binary("go1.15.7", MODINFO);
        let pkgs = parse("pie", &bin).expect("scans");
        let got: Vec<_> = pkgs
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.contains(&"stdlib@1.15.7".to_string()), "{got:?}");
        // Without the relocation table (its type changed to PROGBITS) the zero pointers lead
        // nowhere: not a Go binary.
        let mut bin = bin;
        let elf = crate::elf::Elf::parse(&bin).expect("elf");
        let shoff = usize::try_from(u64::from_le_bytes(
            bin[0x28..0x30].try_into().expect("8 bytes"),
        ))
        .expect("small");
        let idx = elf
            .sections
            .iter()
            .position(|s| s.kind == 4)
            .expect("rela section");
        bin[shoff + idx * 64 + 4..shoff + idx * 64 + 8].copy_from_slice(&1u32.to_le_bytes());
        assert!(parse("pie", &bin).expect("scans").is_empty());
    }

    #[test]
    fn legacy_pointers_out_of_the_file() {
        let bin = synthetic_legacy_binary("go1.16.15", MODINFO, 8);
        let elf = Elf::parse(&bin).expect("elf");
        let s = elf.section(".go.buildinfo").expect("section").clone();
        let off = usize::try_from(s.offset).expect("small");
        // Version pointer to an unmapped address: not Go (as the toolchain says).
        let mut bad = bin.clone();
        bad[off + 16..off + 24].copy_from_slice(&0xdead_0000u64.to_le_bytes());
        assert_eq!(from_elf(&Elf::parse(&bad).expect("elf")), GoBinary::NotGo);
        // A string length far past the segment.
        let mut bad = bin.clone();
        bad[off + 40..off + 48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(from_elf(&Elf::parse(&bad).expect("elf")), GoBinary::NotGo);
        // Module info pointer broken: the version is still reported.
        let mut bad = bin;
        bad[off + 24..off + 32].copy_from_slice(&7u64.to_le_bytes());
        let pkgs = parse("x", &bad).expect("scans");
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].name, "stdlib");
    }
}
