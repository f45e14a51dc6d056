//! The agent's TLS: which certificate and key it serves (a configured CA-signed pair, or
//! its own self-signed pair made on first start), the fingerprint clients pin, and the
//! TCP listeners (served, with their handshake deadline, by [`crate::serve`]).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use wms_host::identity::HostNames;
use wms_host::Config;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls_cert and tls_key go together in the configuration: give both (a CA-signed pair), or neither (the agent's own self-signed pair)")]
    HalfPair,
    #[error("cannot read the TLS key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("cannot read the TLS certificate {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("the TLS key {key} does not fit the certificate {cert}: {reason}")]
    Mismatch {
        key: PathBuf,
        cert: PathBuf,
        reason: String,
    },
    #[error("cannot make the self-signed certificate in {dir}: {reason}")]
    Generate { dir: PathBuf, reason: String },
}

/// Where the certificate and key the agent serves are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The agent's own pair under `<state_dir>/tls/`, made when missing.
    pub self_signed: bool,
}

impl TlsFiles {
    pub fn of(config: &Config) -> Result<TlsFiles, TlsError> {
        match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Ok(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                self_signed: false,
            }),
            (None, None) => {
                let dir = config.state_dir.join("tls");
                Ok(TlsFiles {
                    cert: dir.join("cert.pem"),
                    key: dir.join("key.pem"),
                    self_signed: true,
                })
            }
            _ => Err(TlsError::HalfPair),
        }
    }
}

/// A certificate chain and its key, read and checked.
pub struct Material {
    pub files: TlsFiles,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Material {
    /// Reads the pair the configuration names, making the self-signed one first if it is
    /// the one to use and does not exist yet.
    pub fn prepare(config: &Config) -> Result<Material, TlsError> {
        let files = TlsFiles::of(config)?;
        if files.self_signed {
            ensure_self_signed(&files)?;
        }
        Material::read(files)
    }

    pub fn read(files: TlsFiles) -> Result<Material, TlsError> {
        let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
            path: files.key.clone(),
            reason: pem_reason(e, "private key"),
        })?;
        let certs = CertificateDer::pem_file_iter(&files.cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TlsError::Cert {
                path: files.cert.clone(),
                reason: pem_reason(e, "certificate"),
            })?;
        if certs.is_empty() {
            return Err(TlsError::Cert {
                path: files.cert.clone(),
                reason: "no PEM certificate in it".into(),
            });
        }
        if let Ok(meta) = std::fs::metadata(&files.key) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(key = %files.key.display(), "the TLS key may be read by others than its owner: chmod 600 it");
            }
        }
        let m = Material { files, certs, key };
        // Building the server configuration once here checks that the key is usable and
        // belongs to the certificate, so a mismatch is a start-up error, not a failed
        // handshake later.
        m.server_config()?;
        Ok(m)
    }

    /// The fingerprint of the certificate served (the first of the chain).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.certs[0])
    }

    /// TLS 1.3 only, with ring, offering HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| self.mismatch(e))?
            .with_no_client_auth()
            .with_single_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| self.mismatch(e))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    fn mismatch(&self, e: rustls::Error) -> TlsError {
        TlsError::Mismatch {
            key: self.files.key.clone(),
            cert: self.files.cert.clone(),
            reason: e.to_string(),
        }
    }
}

fn pem_reason(e: rustls::pki_types::pem::Error, what: &str) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(e) => e.to_string(),
        E::NoItemsFound => format!("no PEM {what} in it"),
        other => format!("it is not a PEM {what} ({other:?})"),
    }
}

/// `SHA256:` and the certificate's SHA-256 digest as uppercase hex pairs joined by `:`,
/// as `openssl x509 -noout -fingerprint -sha256` prints it (the client's, from wms-trust).
pub fn fingerprint(der: &[u8]) -> String {
    wms_trust::fingerprint(der)
}

/// Makes the agent's own key and certificate if they do not both exist. Held under a lock
/// so that an agent starting and a `wmsd fingerprint` at the same moment cannot each
/// write half of a pair.
pub fn ensure_self_signed(files: &TlsFiles) -> Result<(), TlsError> {
    let dir = files.key.parent().unwrap_or(Path::new("/")).to_path_buf();
    let fail = |reason: String| TlsError::Generate {
        dir: dir.clone(),
        reason,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| fail(e.to_string()))?;
    let _lock = crate::fsutil::lock(&dir.join(".lock")).map_err(|e| fail(e.to_string()))?;
    if files.key.exists() && files.cert.exists() {
        return Ok(());
    }
    let (cert_pem, key_pem) = self_signed_pair(&HostNames::discover()).map_err(fail)?;
    // The key first: a certificate on disk always has its key beside it.
    crate::fsutil::write_atomic(&files.key, key_pem.as_bytes(), 0o600)
        .map_err(|e| fail(format!("cannot write {}: {e}", files.key.display())))?;
    crate::fsutil::write_atomic(&files.cert, cert_pem.as_bytes(), 0o644)
        .map_err(|e| fail(format!("cannot write {}: {e}", files.cert.display())))?;
    tracing::info!(cert = %files.cert.display(), "made a self-signed certificate");
    Ok(())
}

/// A new ECDSA P-256 key and a self-signed certificate for this host's names, `localhost`
/// and the loopback addresses, valid from yesterday for a hundred years (clients pin it
/// by fingerprint, so it must not expire under them).
fn self_signed_pair(names: &HostNames) -> Result<(String, String), String> {
    let mut sans: Vec<String> = Vec::new();
    for n in [
        names.short.as_str(),
        names.fqdn.as_str(),
        "localhost",
        "127.0.0.1",
        "::1",
    ] {
        // A host name that is not a valid DNS name cannot be a SAN; the others still are.
        let valid = n.parse::<std::net::IpAddr>().is_ok()
            || rcgen::CertificateParams::new(vec![n.to_string()]).is_ok();
        if valid && !n.is_empty() && !sans.iter().any(|s| s == n) {
            sans.push(n.to_string());
        }
    }
    let mut params = rcgen::CertificateParams::new(sans).map_err(|e| e.to_string())?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, format!("wmsd {}", names.fqdn));
    params.distinguished_name = dn;
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
        .map_err(|_| "the system's random source failed".to_string())?;
    serial[0] &= 0x7f; // a positive serial number
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let (y, m, d) = civil_date(wms_core::time::now_unix() - 86_400);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    params.not_after = rcgen::date_time_ymd(y + 100, m, d.min(28));
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The UTC calendar date of a Unix time, in the types rcgen takes.
fn civil_date(secs: i64) -> (i32, u8, u8) {
    let (y, m, d) = wms_core::time::civil_date(secs);
    (y as i32, m as u8, d as u8)
}

/// Binds every address in `listen`; the error names the address and the cause.
pub async fn bind(listen: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for addr in listen {
        match TcpListener::bind(addr).await {
            Ok(l) => out.push(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => anyhow::bail!(
                "cannot listen on {addr}: Address in use (another program, or another wmsd, has that port; change listen in the configuration)"
            ),
            Err(e) => anyhow::bail!("cannot listen on {addr}: {e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(1_767_225_599), (2025, 12, 31));
    }

    #[test]
    fn fingerprint_format() {
        let f = fingerprint(b"");
        // SHA-256 of nothing.
        assert!(f.starts_with("SHA256:E3:B0:C4:42:98:FC:1C:14:"), "{f}");
        assert_eq!(f.len(), "SHA256:".len() + 32 * 3 - 1);
    }

    #[test]
    fn a_self_signed_pair_loads_and_names_the_host() {
        let names = HostNames::from_names("lab1", "lab1.example.org");
        let (cert, key) = self_signed_pair(&names).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.contains("PRIVATE KEY"));
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        // The names are in the DER as IA5Strings.
        for n in [&b"lab1.example.org"[..], b"localhost"] {
            assert!(der.windows(n.len()).any(|w| w == n));
        }
    }
}
