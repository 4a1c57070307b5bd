//! Serving certificates: PEM files reloaded when they change, and a self-signed CA + serving
//! certificate made with rcgen.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Loading or making certificates failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("cannot load {path}: {reason}")]
    Load {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

fn load_err(path: &Path, reason: impl fmt::Display) -> TlsError {
    TlsError::Load {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Reads a certificate chain and private key (PEM) into a rustls key.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| load_err(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| load_err(cert, e))?;
    if chain.is_empty() {
        return Err(load_err(cert, "no CERTIFICATE block"));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| load_err(key, e))?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| load_err(key, e))?;
    Ok(CertifiedKey::new(chain, signing))
}

fn mtimes(paths: &[&Path]) -> Vec<Option<SystemTime>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// A certificate resolver that serves the current key pair from two PEM files and reloads them
/// when their modification times change ([`ReloadingCert::reload_if_changed`], called
/// periodically by the server). A failed reload keeps the previous certificate.
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    seen: Mutex<Vec<Option<SystemTime>>>,
    not_after: AtomicI64,
    reloads: AtomicU64,
    reload_errors: AtomicU64,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Loads the files once (errors are fatal here, unlike later reloads).
    pub fn new(cert: &Path, key: &Path) -> Result<ReloadingCert, TlsError> {
        let ck = load_certified_key(cert, key)?;
        let not_after = ck.cert.first().and_then(|c| not_after(c)).unwrap_or(0);
        Ok(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(ck)),
            seen: Mutex::new(mtimes(&[cert, key])),
            not_after: AtomicI64::new(not_after),
            reloads: AtomicU64::new(0),
            reload_errors: AtomicU64::new(0),
        })
    }

    /// `notAfter` of the served leaf certificate (seconds since the epoch; 0 if unreadable).
    pub fn not_after(&self) -> i64 {
        self.not_after.load(Ordering::Relaxed)
    }

    /// Successful reloads so far (certificate rotations picked up).
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Failed reloads so far (the previous certificate was kept).
    pub fn reload_errors(&self) -> u64 {
        self.reload_errors.load(Ordering::Relaxed)
    }

    /// Reloads when either file's modification time changed. Returns whether a new certificate
    /// is now served.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = mtimes(&[&self.cert, &self.key]);
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return Ok(false);
            }
        }
        let ck = match load_certified_key(&self.cert, &self.key) {
            Ok(ck) => ck,
            Err(e) => {
                self.reload_errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let na = ck.cert.first().and_then(|c| not_after(c)).unwrap_or(0);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ck);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
        self.not_after.store(na, Ordering::Relaxed);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// The certificate currently served.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// One DER element: (tag, content, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// `notAfter` of an X.509 certificate in seconds since the epoch (UTCTime or GeneralizedTime).
pub fn not_after(cert: &[u8]) -> Option<i64> {
    let (_, certificate, _) = der(cert)?;
    let (_, mut tbs, _) = der(certificate)?;
    // [0] version (optional), serialNumber, signature, issuer, validity.
    let (tag, _, rest) = der(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
        let (_, _, rest) = der(tbs)?;
        tbs = rest;
    } else {
        tbs = rest;
    }
    let (_, _, rest) = der(tbs)?; // signature algorithm
    let (_, _, rest) = der(rest)?; // issuer
    let (_, validity, _) = der(rest)?;
    let (_, _, rest) = der(validity)?; // notBefore
    let (tag, t, _) = der(rest)?;
    let t = std::str::from_utf8(t).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i32 = t.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, t.get(2..)?)
        }
        0x18 => (t.get(..4)?.parse().ok()?, t.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<u8> { rest.get(r)?.parse().ok() };
    let month = time::Month::try_from(num(0..2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, num(2..4)?).ok()?;
    let clock = time::Time::from_hms(num(4..6)?, num(6..8)?, num(8..10)?).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Files written by [`write_self_signed`].
#[derive(Debug, Clone)]
pub struct SelfSignedFiles {
    /// The CA certificate (PEM): the webhook configuration's `caBundle` (base64 of this file).
    pub ca_cert: PathBuf,
    /// The serving certificate (PEM).
    pub cert: PathBuf,
    /// The serving key (PEM, PKCS#8).
    pub key: PathBuf,
}

/// Makes a CA and a serving certificate for `dns_names` (ECDSA P-256) and writes `ca.crt`,
/// `tls.crt` and `tls.key` into `dir`. Existing files are kept, so a restart keeps the CA that
/// is already in the webhook configuration.
pub fn write_self_signed(dir: &Path, dns_names: &[String]) -> Result<SelfSignedFiles, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let files = SelfSignedFiles {
        ca_cert: dir.join("ca.crt"),
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    if files.ca_cert.exists() && files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let write = |p: &Path, text: &str| {
        std::fs::write(p, text).map_err(|source| TlsError::Write {
            path: p.display().to_string(),
            source,
        })
    };
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "mamori admission CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    ca.not_before = now - time::Duration::hours(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(dns_names.to_vec())?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        dns_names.first().map_or("mamori-admission", String::as_str),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.not_before = now - time::Duration::hours(1);
    leaf.not_after = now + time::Duration::days(365);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    write(&files.ca_cert, &ca_cert.pem())?;
    write(&files.cert, &leaf_cert.pem())?;
    write(&files.key, &leaf_key.serialize_pem())?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_files_load_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let f = write_self_signed(dir.path(), &["svc.ns.svc".to_string()]).unwrap();
        let r = ReloadingCert::new(&f.cert, &f.key).unwrap();
        let first = r.current().cert[0].clone();
        assert!(!r.reload_if_changed().unwrap());
        // Replace the pair with a fresh one in another folder, then copy it over.
        let other = tempfile::tempdir().unwrap();
        let g = write_self_signed(other.path(), &["svc.ns.svc".to_string()]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::copy(&g.cert, &f.cert).unwrap();
        std::fs::copy(&g.key, &f.key).unwrap();
        let changed = r.reload_if_changed().unwrap();
        assert!(changed);
        assert_eq!(r.reloads(), 1);
        // The leaf is valid for a year (within a minute of the test's clock).
        let year = time::OffsetDateTime::now_utc().unix_timestamp() + 365 * 86400;
        assert!((r.not_after() - year).abs() < 120, "{}", r.not_after());
        assert_ne!(r.current().cert[0], first);
        // A broken file is an error and the old certificate stays.
        std::fs::write(&f.key, "garbage").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&f.cert, "garbage").unwrap();
        assert!(r.reload_if_changed().is_err());
        assert!(!r.current().cert.is_empty());
        assert_eq!(r.reload_errors(), 1);
    }

    #[test]
    fn der_time_parsing_handles_both_forms_and_garbage() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x82, 0xff]), None);
        // A hand-made minimal TBS: version, serial, alg, issuer, validity(UTCTime, GeneralizedTime).
        let utc = b"250102030405Z";
        let gen = b"20500102030405Z";
        let mut validity = vec![0x17, utc.len() as u8];
        validity.extend_from_slice(utc);
        validity.extend_from_slice(&[0x18, gen.len() as u8]);
        validity.extend_from_slice(gen);
        let mut tbs = vec![0xa0, 3, 2, 1, 2, 2, 1, 1, 0x30, 0, 0x30, 0];
        tbs.push(0x30);
        tbs.push(validity.len() as u8);
        tbs.extend_from_slice(&validity);
        let mut cert = vec![0x30, (tbs.len() + 2) as u8, 0x30, tbs.len() as u8];
        cert.extend_from_slice(&tbs);
        let want = time::macros::datetime!(2050-01-02 03:04:05 UTC).unix_timestamp();
        assert_eq!(not_after(&cert), Some(want));
    }

    #[test]
    fn missing_files_are_reported() {
        let e = ReloadingCert::new(
            Path::new("/nonexistent/c.pem"),
            Path::new("/nonexistent/k.pem"),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("cannot load /nonexistent/c.pem"),
            "{e}"
        );
    }
}
