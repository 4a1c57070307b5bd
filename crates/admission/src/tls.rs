//! Serving certificates: PEM files reloaded when they change, and a self-signed CA + serving
//! certificate made with rcgen.

use std::fmt;
use std::path::{Path, PathBuf};
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
        Ok(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(ck)),
            seen: Mutex::new(mtimes(&[cert, key])),
        })
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
        let ck = load_certified_key(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ck);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
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
        assert_ne!(r.current().cert[0], first);
        // A broken file is an error and the old certificate stays.
        std::fs::write(&f.key, "garbage").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&f.cert, "garbage").unwrap();
        assert!(r.reload_if_changed().is_err());
        assert!(!r.current().cert.is_empty());
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
