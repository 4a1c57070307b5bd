//! rpm databases in the SQLite format (`rpmdb.sqlite`, RHEL 9 / Fedora 33+ / Alma / Rocky 9).
//!
//! The `Packages` table holds one rpm header blob per package: a big-endian index count and
//! data length, 16-byte index entries (tag, type, offset, count), then the data store. The
//! database is opened in memory from the bytes (nothing is written); older BerkeleyDB and NDB
//! databases are not read.

use crate::{CatalogError, CatalogPackage, PkgKind};

/// Header tag: package name.
pub const TAG_NAME: u32 = 1000;
/// Header tag: version.
pub const TAG_VERSION: u32 = 1001;
/// Header tag: release.
pub const TAG_RELEASE: u32 = 1002;
/// Header tag: epoch (INT32).
pub const TAG_EPOCH: u32 = 1003;
/// Header tag: license.
pub const TAG_LICENSE: u32 = 1014;
/// Header tag: architecture.
pub const TAG_ARCH: u32 = 1022;
/// Header tag: source rpm file name.
pub const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Most index entries accepted in one header.
const MAX_ENTRIES: usize = 1 << 16;

/// Whether the bytes are an SQLite database (as opposed to BerkeleyDB or NDB).
pub fn is_sqlite(bytes: &[u8]) -> bool {
    bytes.starts_with(b"SQLite format 3\0")
}

/// Reads every package of an `rpmdb.sqlite` held in memory. `gpg-pubkey` pseudo-packages are
/// left out; a malformed header is skipped with a warning.
pub fn parse_sqlite(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    let err = |reason: String| CatalogError::Malformed {
        path: path.to_string(),
        line: 0,
        reason,
    };
    if !is_sqlite(bytes) {
        return Err(err(
            "not an SQLite rpm database (BerkeleyDB/NDB are not read)".into(),
        ));
    }
    if i32::try_from(bytes.len()).is_err() {
        return Err(err("database larger than 2 GiB".into()));
    }
    let mut db = rusqlite::Connection::open_in_memory().map_err(|e| err(format!("sqlite: {e}")))?;
    db.deserialize_read_exact(rusqlite::MAIN_DB, bytes, bytes.len(), true)
        .map_err(|e| err(format!("sqlite: {e}")))?;
    let mut stmt = db
        .prepare("SELECT hnum, blob FROM Packages")
        .map_err(|e| err(format!("sqlite: {e}")))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .map_err(|e| err(format!("sqlite: {e}")))?;
    let mut out = Vec::new();
    for row in rows {
        let (hnum, blob) = row.map_err(|e| err(format!("sqlite: {e}")))?;
        match parse_header(&blob) {
            Ok(Some(p)) => out.push(p),
            Ok(None) => {}
            Err(why) => tracing::warn!("{path}: package header {hnum} skipped: {why}"),
        }
    }
    Ok(out)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses one header blob; `Ok(None)` for `gpg-pubkey` entries.
pub fn parse_header(blob: &[u8]) -> Result<Option<CatalogPackage>, String> {
    let il = be32(blob, 0).ok_or("truncated header")? as usize;
    let dl = be32(blob, 4).ok_or("truncated header")? as usize;
    if il > MAX_ENTRIES {
        return Err(format!("{il} index entries"));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(data_start..data_start.checked_add(dl).ok_or("bad data length")?)
        .ok_or("data store out of bounds")?;
    let (mut name, mut version, mut release, mut epoch) = (None, None, None, None);
    let (mut arch, mut license, mut source) = (None, None, None);
    for i in 0..il {
        let e = 8 + i * 16;
        let (Some(tag), Some(ty), Some(off), Some(_count)) = (
            be32(blob, e),
            be32(blob, e + 4),
            be32(blob, e + 8),
            be32(blob, e + 12),
        ) else {
            return Err("truncated index".into());
        };
        let off = off as usize;
        let string = || -> Option<String> {
            if !matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
                return None;
            }
            let rest = data.get(off..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        match tag {
            TAG_NAME => name = string(),
            TAG_VERSION => version = string(),
            TAG_RELEASE => release = string(),
            TAG_ARCH => arch = string(),
            TAG_LICENSE => license = string(),
            TAG_SOURCERPM => source = string(),
            TAG_EPOCH if ty == TYPE_INT32 => epoch = be32(data, off),
            _ => {}
        }
    }
    let name = name.ok_or("no NAME tag")?;
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let version = version.ok_or("no VERSION tag")?;
    let evr = match (&epoch, &release) {
        (Some(e), Some(r)) => format!("{e}:{version}-{r}"),
        (None, Some(r)) => format!("{version}-{r}"),
        (Some(e), None) => format!("{e}:{version}"),
        (None, None) => version,
    };
    let mut p = CatalogPackage::new(PkgKind::Rpm, name, evr);
    p.arch = arch;
    p.licenses.extend(license);
    if let Some(src) = source {
        // `NAME-VERSION-RELEASE.src.rpm` → NAME and VERSION-RELEASE.
        let stem = src
            .trim_end_matches(".rpm")
            .trim_end_matches(".src")
            .trim_end_matches(".nosrc");
        let mut parts = stem.rsplitn(3, '-');
        if let (Some(rel), Some(ver), Some(n)) = (parts.next(), parts.next(), parts.next()) {
            p.source_name = Some(n.to_string());
            p.source_version = Some(match epoch {
                Some(e) => format!("{e}:{ver}-{rel}"),
                None => format!("{ver}-{rel}"),
            });
        }
    }
    Ok(Some(p))
}

/// Builds a header blob (for tests): string tags and an optional epoch.
#[doc(hidden)]
pub fn build_header(strings: &[(u32, &str)], epoch: Option<u32>) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data = Vec::new();
    if let Some(e) = epoch {
        index.push((TAG_EPOCH, TYPE_INT32, data.len() as u32, 1u32)); // ok: test helper
        data.extend_from_slice(&e.to_be_bytes());
    }
    for (tag, s) in strings {
        index.push((*tag, TYPE_STRING, data.len() as u32, 1)); // ok: test helper
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(index.len() as u32).to_be_bytes()); // ok: test helper
    out.extend_from_slice(&(data.len() as u32).to_be_bytes()); // ok: test helper
    for (t, ty, off, c) in index {
        for v in [t, ty, off, c] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_with_epoch_and_source() {
        let h = build_header(
            &[
                (TAG_NAME, "openssl-libs"),
                (TAG_VERSION, "3.0.7"),
                (TAG_RELEASE, "27.el9"),
                (TAG_ARCH, "x86_64"),
                (TAG_SOURCERPM, "openssl-3.0.7-27.el9.src.rpm"),
            ],
            Some(1),
        );
        let p = parse_header(&h).expect("parses").expect("package");
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("openssl-libs", "1:3.0.7-27.el9")
        );
        assert_eq!(p.source_name.as_deref(), Some("openssl"));
        assert_eq!(p.source_version.as_deref(), Some("1:3.0.7-27.el9"));
        let gpg = build_header(&[(TAG_NAME, "gpg-pubkey"), (TAG_VERSION, "1")], None);
        assert_eq!(parse_header(&gpg), Ok(None));
    }

    #[test]
    fn hostile_headers_are_errors() {
        assert!(parse_header(b"").is_err());
        assert!(parse_header(&[0xff; 8]).is_err());
        let mut h = build_header(&[(TAG_NAME, "x"), (TAG_VERSION, "1")], None);
        h.truncate(h.len() - 3);
        assert!(parse_header(&h).is_err());
        // An offset pointing outside the data store.
        let mut h = build_header(&[(TAG_NAME, "x"), (TAG_VERSION, "1")], None);
        h[16..20].copy_from_slice(&9999u32.to_be_bytes());
        assert!(parse_header(&h).is_err());
    }

    #[test]
    fn sqlite_database_in_memory() {
        let dir = std::env::temp_dir().join(format!("mamori-rpm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("rpmdb.sqlite");
        let _ = std::fs::remove_file(&file);
        {
            let db = rusqlite::Connection::open(&file).expect("open");
            db.execute_batch("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);")
                .expect("schema");
            for h in [
                build_header(
                    &[
                        (TAG_NAME, "bash"),
                        (TAG_VERSION, "5.1.8"),
                        (TAG_RELEASE, "9.el9"),
                        (TAG_ARCH, "x86_64"),
                    ],
                    None,
                ),
                build_header(&[(TAG_NAME, "gpg-pubkey"), (TAG_VERSION, "fd431d51")], None),
                vec![1, 2, 3],
            ] {
                db.execute("INSERT INTO Packages (blob) VALUES (?1)", [h])
                    .expect("insert");
            }
        }
        let bytes = std::fs::read(&file).expect("read");
        let _ = std::fs::remove_dir_all(&dir);
        let pkgs = parse_sqlite("var/lib/rpm/rpmdb.sqlite", &bytes).expect("parses");
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].version, "5.1.8-9.el9");
        assert!(parse_sqlite("x", b"SQLite format 3\0garbage").is_err());
        assert!(parse_sqlite("x", &[0u8; 64])
            .expect_err("bdb")
            .to_string()
            .contains("BerkeleyDB"));
    }
}
