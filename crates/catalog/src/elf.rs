//! A small, bounds-checked reader of ELF files held in memory: the section and program header
//! tables, section lookup by name, and reads by virtual address. Only what the binary
//! catalogers need (Go build information, cargo-auditable data); every offset is checked, so a
//! truncated or lying file is an error or an absent section, never a panic.

/// Why a file could not be read as ELF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// No `\x7fELF` magic.
    #[error("not an ELF file")]
    NotElf,
    /// The header is shorter than it says, or names an unknown class or byte order.
    #[error("invalid ELF header: {0}")]
    Header(&'static str),
}

/// `PT_LOAD`: a loadable segment.
pub const PT_LOAD: u32 = 1;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;

/// One section header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Name from the section name table (empty when the table is unreadable).
    pub name: String,
    /// `sh_type`.
    pub kind: u32,
    /// Virtual address (0 when not loaded).
    pub addr: u64,
    /// File offset.
    pub offset: u64,
    /// Size in bytes (in the file, unless `SHT_NOBITS`).
    pub size: u64,
}

/// One program header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// `p_type`.
    pub kind: u32,
    /// `p_flags`.
    pub flags: u32,
    /// File offset.
    pub offset: u64,
    /// Virtual address.
    pub vaddr: u64,
    /// Bytes in the file.
    pub filesz: u64,
}

/// `SHT_NOBITS`: a section with no bytes in the file (`.bss`).
const SHT_NOBITS: u32 = 8;
/// `sh_type` of a relocation table with explicit addends.
const SHT_RELA: u32 = 4;
/// `R_*_RELATIVE` of x86-64 and i386 (8), AArch64 (1027), ppc64 (22), s390x (12), RISC-V (3)
/// and ARM (23): "load base + addend", the only kind a PIE needs for pointers to its own data.
const RELATIVE_TYPES: [u64; 6] = [8, 1027, 22, 12, 3, 23];

/// An ELF file in memory.
#[derive(Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    /// 64-bit class.
    pub is_64: bool,
    /// Little-endian byte order.
    pub is_le: bool,
    /// Section headers (empty when the table is absent or out of the file).
    pub sections: Vec<Section>,
    /// Program headers (empty when the table is absent or out of the file).
    pub segments: Vec<Segment>,
}

impl<'a> Elf<'a> {
    /// Reads the headers of an ELF file. A header table that points outside the file is taken
    /// as absent rather than an error (stripped or truncated files still yield what they can).
    pub fn parse(data: &'a [u8]) -> Result<Self, ElfError> {
        if data.get(..4) != Some(b"\x7fELF") {
            return Err(ElfError::NotElf);
        }
        let is_64 = match data.get(4) {
            Some(1) => false,
            Some(2) => true,
            _ => return Err(ElfError::Header("unknown class")),
        };
        let is_le = match data.get(5) {
            Some(1) => true,
            Some(2) => false,
            _ => return Err(ElfError::Header("unknown byte order")),
        };
        let mut elf = Elf {
            data,
            is_64,
            is_le,
            sections: Vec::new(),
            segments: Vec::new(),
        };
        let short = ElfError::Header("truncated");
        let (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx) = if is_64 {
            (
                elf.u64_at(0x20).ok_or(short.clone())?,
                elf.u64_at(0x28).ok_or(short.clone())?,
                elf.u16_at(0x36).ok_or(short.clone())?,
                elf.u16_at(0x38).ok_or(short.clone())?,
                elf.u16_at(0x3a).ok_or(short.clone())?,
                elf.u16_at(0x3c).ok_or(short.clone())?,
                elf.u16_at(0x3e).ok_or(short)?,
            )
        } else {
            (
                u64::from(elf.u32_at(0x1c).ok_or(short.clone())?),
                u64::from(elf.u32_at(0x20).ok_or(short.clone())?),
                elf.u16_at(0x2a).ok_or(short.clone())?,
                elf.u16_at(0x2c).ok_or(short.clone())?,
                elf.u16_at(0x2e).ok_or(short.clone())?,
                elf.u16_at(0x30).ok_or(short.clone())?,
                elf.u16_at(0x32).ok_or(short)?,
            )
        };
        let min_ph = if is_64 { 56 } else { 32 };
        if phentsize >= min_ph {
            for i in 0..u64::from(phnum) {
                let Some(at) = i
                    .checked_mul(u64::from(phentsize))
                    .and_then(|o| o.checked_add(phoff))
                else {
                    break;
                };
                match elf.segment_at(at) {
                    Some(s) => elf.segments.push(s),
                    None => break,
                }
            }
        }
        let min_sh = if is_64 { 64 } else { 40 };
        if shentsize >= min_sh {
            let mut raw = Vec::new();
            for i in 0..u64::from(shnum) {
                let Some(at) = i
                    .checked_mul(u64::from(shentsize))
                    .and_then(|o| o.checked_add(shoff))
                else {
                    break;
                };
                match elf.section_at(at) {
                    Some(s) => raw.push(s),
                    None => break,
                }
            }
            let names = raw
                .get(usize::from(shstrndx))
                .and_then(|(_, s)| elf.file_bytes(s.offset, s.size));
            elf.sections = raw
                .into_iter()
                .map(|(name_off, mut s)| {
                    s.name = names
                        .and_then(|n| n.get(usize::try_from(name_off).ok()?..))
                        .map(|n| {
                            let end = memchr::memchr(0, n).unwrap_or(n.len());
                            String::from_utf8_lossy(&n[..end]).into_owned()
                        })
                        .unwrap_or_default();
                    s
                })
                .collect();
        }
        Ok(elf)
    }

    /// The first section called `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The bytes of a section in the file (`None` for `SHT_NOBITS` or a section outside the
    /// file).
    pub fn section_data(&self, s: &Section) -> Option<&'a [u8]> {
        if s.kind == SHT_NOBITS {
            return None;
        }
        self.file_bytes(s.offset, s.size)
    }

    /// Up to `size` bytes at virtual address `addr`, from the loadable segment that maps it
    /// (fewer when the segment's file part ends first).
    pub fn read_addr(&self, addr: u64, size: u64) -> Option<&'a [u8]> {
        let seg = self.segments.iter().find(|p| {
            p.kind == PT_LOAD && p.filesz > 0 && p.vaddr <= addr && addr - p.vaddr < p.filesz
        })?;
        let skip = addr - seg.vaddr;
        let n = size.min(seg.filesz - skip);
        self.file_bytes(seg.offset.checked_add(skip)?, n)
    }

    /// The link-time value of a pointer at virtual address `at` that the dynamic loader
    /// relocates by the load base (a position-independent executable): the addend of an
    /// `R_*_RELATIVE` entry of an `SHT_RELA` section for that address. `None` when there is
    /// none, in which case the pointer's value is the one stored in the file (as for `SHT_REL`,
    /// whose addend is stored in place). Each call scans the relocation tables once.
    pub fn relative_addend(&self, at: u64) -> Option<u64> {
        let entsize: u64 = if self.is_64 { 24 } else { 12 };
        for s in self.sections.iter().filter(|s| s.kind == SHT_RELA) {
            let Some(table) = self.section_data(s) else {
                continue;
            };
            for e in table.chunks_exact(entsize as usize) {
                let (offset, info, addend) = if self.is_64 {
                    (
                        read_u64(e, self.is_le)?,
                        read_u64(&e[8..], self.is_le)?,
                        read_u64(&e[16..], self.is_le)?,
                    )
                } else {
                    (
                        u64::from(read_u32(e, self.is_le)?),
                        u64::from(read_u32(&e[4..], self.is_le)?),
                        // An address of this class: zero-extended.
                        u64::from(read_u32(&e[8..], self.is_le)?),
                    )
                };
                if offset != at {
                    continue;
                }
                let (sym, kind) = if self.is_64 {
                    (info >> 32, info & 0xffff_ffff)
                } else {
                    (info >> 8, info & 0xff)
                };
                if sym == 0 && RELATIVE_TYPES.contains(&kind) {
                    return Some(addend);
                }
            }
        }
        None
    }

    /// Reads a pointer-sized word of this file's class and byte order.
    pub fn word(&self, b: &[u8]) -> Option<u64> {
        if self.is_64 {
            read_u64(b, self.is_le)
        } else {
            read_u32(b, self.is_le).map(u64::from)
        }
    }

    fn file_bytes(&self, offset: u64, size: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        self.data.get(start..end)
    }

    fn u16_at(&self, at: u64) -> Option<u16> {
        let b = self.file_bytes(at, 2)?;
        Some(if self.is_le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    fn u32_at(&self, at: u64) -> Option<u32> {
        read_u32(self.file_bytes(at, 4)?, self.is_le)
    }

    fn u64_at(&self, at: u64) -> Option<u64> {
        read_u64(self.file_bytes(at, 8)?, self.is_le)
    }

    /// A class-sized field: 8 bytes in ELF64, 4 in ELF32.
    fn addr_at(&self, at: u64) -> Option<u64> {
        if self.is_64 {
            self.u64_at(at)
        } else {
            self.u32_at(at).map(u64::from)
        }
    }

    fn segment_at(&self, at: u64) -> Option<Segment> {
        let kind = self.u32_at(at)?;
        if self.is_64 {
            Some(Segment {
                kind,
                flags: self.u32_at(at + 4)?,
                offset: self.u64_at(at + 8)?,
                vaddr: self.u64_at(at + 16)?,
                filesz: self.u64_at(at + 32)?,
            })
        } else {
            Some(Segment {
                kind,
                offset: u64::from(self.u32_at(at + 4)?),
                vaddr: u64::from(self.u32_at(at + 8)?),
                filesz: u64::from(self.u32_at(at + 16)?),
                flags: self.u32_at(at + 24)?,
            })
        }
    }

    /// A section header and the offset of its name in the name table.
    fn section_at(&self, at: u64) -> Option<(u32, Section)> {
        let name = self.u32_at(at)?;
        let kind = self.u32_at(at + 4)?;
        let (addr, offset, size) = if self.is_64 {
            (
                self.addr_at(at + 16)?,
                self.addr_at(at + 24)?,
                self.addr_at(at + 32)?,
            )
        } else {
            (
                self.addr_at(at + 12)?,
                self.addr_at(at + 16)?,
                self.addr_at(at + 20)?,
            )
        };
        Some((
            name,
            Section {
                name: String::new(),
                kind,
                addr,
                offset,
                size,
            },
        ))
    }
}

fn read_u32(b: &[u8], le: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

fn read_u64(b: &[u8], le: bool) -> Option<u64> {
    let a: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some(if le {
        u64::from_le_bytes(a)
    } else {
        u64::from_be_bytes(a)
    })
}

/// Builds a little-endian ELF64 executable from `(name, vaddr, flags, bytes)` sections, each
/// in its own `PT_LOAD` segment (flags are segment flags; vaddr 0 = not loaded). Sections whose
/// name starts with `.rela` are relocation tables (`SHT_RELA`). For tests, fuzz seeds and
/// benchmarks.
#[doc(hidden)]
pub fn synthetic_elf64(sections: &[(&str, u64, u32, &[u8])]) -> Vec<u8> {
    const EH: usize = 64;
    const PH: usize = 56;
    const SH: usize = 64;
    let loaded: Vec<_> = sections.iter().filter(|s| s.1 != 0).collect();
    let mut out = vec![0u8; EH + PH * loaded.len()];
    // Section name table: "\0" then each name.
    let mut shstr = vec![0u8];
    let mut name_offs = Vec::new();
    for (name, ..) in sections {
        name_offs.push(shstr.len() as u32); // ok: test data is small
        shstr.extend_from_slice(name.as_bytes());
        shstr.push(0);
    }
    name_offs.push(shstr.len() as u32); // ok: test data is small
    shstr.extend_from_slice(b".shstrtab\0");
    let mut offsets = Vec::new();
    for (_, _, _, bytes) in sections {
        while out.len() % 16 != 0 {
            out.push(0);
        }
        offsets.push(out.len() as u64);
        out.extend_from_slice(bytes);
    }
    let shstr_off = out.len() as u64;
    out.extend_from_slice(&shstr);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len() as u64;
    // Null section, the sections, the name table.
    out.extend_from_slice(&[0u8; SH]);
    let sh = |name: u32, kind: u32, addr: u64, off: u64, size: u64, out: &mut Vec<u8>| {
        let mut h = [0u8; SH];
        h[0..4].copy_from_slice(&name.to_le_bytes());
        h[4..8].copy_from_slice(&kind.to_le_bytes());
        h[16..24].copy_from_slice(&addr.to_le_bytes());
        h[24..32].copy_from_slice(&off.to_le_bytes());
        h[32..40].copy_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&h);
    };
    for (i, (name, vaddr, _, bytes)) in sections.iter().enumerate() {
        sh(
            name_offs[i],
            if name.starts_with(".rela") {
                SHT_RELA
            } else {
                1
            },
            *vaddr,
            offsets[i],
            bytes.len() as u64,
            &mut out,
        );
    }
    sh(
        name_offs[sections.len()],
        3,
        0,
        shstr_off,
        shstr.len() as u64,
        &mut out,
    );
    // ELF header.
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[16..18].copy_from_slice(&2u16.to_le_bytes());
    out[18..20].copy_from_slice(&62u16.to_le_bytes());
    out[0x20..0x28].copy_from_slice(&(EH as u64).to_le_bytes());
    out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
    out[0x34..0x36].copy_from_slice(&(EH as u16).to_le_bytes());
    out[0x36..0x38].copy_from_slice(&(PH as u16).to_le_bytes());
    out[0x38..0x3a].copy_from_slice(&(loaded.len() as u16).to_le_bytes());
    out[0x3a..0x3c].copy_from_slice(&(SH as u16).to_le_bytes());
    out[0x3c..0x3e].copy_from_slice(&((sections.len() + 2) as u16).to_le_bytes());
    out[0x3e..0x40].copy_from_slice(&((sections.len() + 1) as u16).to_le_bytes());
    // Program headers.
    let mut at = EH;
    for (i, (_, vaddr, flags, bytes)) in sections.iter().enumerate() {
        if *vaddr == 0 {
            continue;
        }
        let mut p = [0u8; PH];
        p[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
        p[4..8].copy_from_slice(&flags.to_le_bytes());
        p[8..16].copy_from_slice(&offsets[i].to_le_bytes());
        p[16..24].copy_from_slice(&vaddr.to_le_bytes());
        p[24..32].copy_from_slice(&vaddr.to_le_bytes());
        p[32..40].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        p[40..48].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        out[at..at + PH].copy_from_slice(&p);
        at += PH;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_and_addresses() {
        let elf_bytes = synthetic_elf64(&[
            (".rodata", 0x40_0000, 4, b"hello world"),
            (".data", 0x60_0000, 6, &[1, 2, 3, 4, 5, 6, 7, 8]),
            (".comment", 0, 0, b"note"),
        ]);
        let elf = Elf::parse(&elf_bytes).expect("parses");
        assert!(elf.is_64 && elf.is_le);
        assert_eq!(elf.segments.len(), 2);
        let names: Vec<_> = elf.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["", ".rodata", ".data", ".comment", ".shstrtab"]);
        let c = elf.section(".comment").expect("present");
        assert_eq!(elf.section_data(c), Some(&b"note"[..]));
        assert_eq!(elf.read_addr(0x40_0006, 5), Some(&b"world"[..]));
        // Clamped at the end of the segment; unmapped addresses are None.
        assert_eq!(elf.read_addr(0x40_0006, 500), Some(&b"world"[..]));
        assert_eq!(elf.read_addr(0x50_0000, 1), None);
        assert_eq!(elf.word(&[1, 0, 0, 0, 0, 0, 0, 0]), Some(1));
    }

    #[test]
    fn truncated_and_lying_headers_do_not_panic() {
        assert_eq!(Elf::parse(b"MZ").unwrap_err(), ElfError::NotElf);
        assert!(Elf::parse(b"\x7fELF\x09\x01").is_err());
        assert!(Elf::parse(b"\x7fELF\x02\x01\x01").is_err());
        let good = synthetic_elf64(&[(".go.buildinfo", 0x1000, 6, &[0u8; 64])]);
        for cut in 0..good.len() {
            let _ = Elf::parse(&good[..cut]);
        }
        // Huge counts and offsets.
        let mut bad = good.clone();
        bad[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        bad[0x20..0x28].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
        let elf = Elf::parse(&bad).expect("header itself is fine");
        assert!(elf.sections.is_empty() && elf.segments.is_empty());
    }
}
