//! The client's TLS trust in an agent. A pinned agent is trusted by its certificate's
//! SHA-256 fingerprint alone (its self-signed certificate names no CA); a changed
//! certificate is refused, and both fingerprints can be named. An agent with a CA-signed
//! certificate is checked against that CA like any TLS server. Signatures are always
//! verified.

use crate::fingerprint::{fingerprint, same_fingerprint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why a TLS trust could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read the CA certificate {}: {reason}", path.display())]
    CaUnreadable { path: PathBuf, reason: String },
    #[error("{} is not a usable CA certificate: {reason}", path.display())]
    CaUnusable { path: PathBuf, reason: String },
    #[error("{} holds no certificate", path.display())]
    CaEmpty { path: PathBuf },
    #[error("'{0}' is not a valid host name")]
    HostName(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly one certificate (by fingerprint), and records what it saw, so a
/// mismatch can be reported with both fingerprints. With no pin it accepts any
/// certificate: that is only for reading an agent's fingerprint on first contact, and
/// nothing may be sent over such a connection.
#[derive(Debug)]
pub struct Pin {
    expected: Option<String>,
    seen: Mutex<Option<String>>,
    provider: Arc<CryptoProvider>,
}

impl Pin {
    pub fn new(expected: Option<String>) -> Arc<Pin> {
        Arc::new(Pin {
            expected,
            seen: Mutex::new(None),
            provider: provider(),
        })
    }

    /// The fingerprint of the certificate the server presented, if a handshake got that far.
    pub fn seen(&self) -> Option<String> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `(pinned, presented)` when the server presented another certificate than the pin.
    pub fn mismatch(&self) -> Option<(String, String)> {
        let want = self.expected.clone()?;
        let seen = self.seen()?;
        (!same_fingerprint(&want, &seen)).then_some((want, seen))
    }
}

impl ServerCertVerifier for Pin {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(fp.clone());
        match &self.expected {
            Some(want) if !same_fingerprint(want, &fp) => Err(rustls::Error::General(format!(
                "certificate fingerprint {fp} is not the pinned {want}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration trusting `pin`.
pub fn pinned_config(pin: Arc<Pin>) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(pin)
            .with_no_client_auth(),
    )
}

/// A client configuration trusting the CA certificates in the PEM file `ca`.
pub fn ca_config(ca: &Path) -> Result<Arc<ClientConfig>, TrustError> {
    let unreadable = |e: &dyn std::fmt::Display| TrustError::CaUnreadable {
        path: ca.to_owned(),
        reason: e.to_string(),
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| unreadable(&e))? {
        let cert = cert.map_err(|e| unreadable(&e))?;
        roots.add(cert).map_err(|e| TrustError::CaUnusable {
            path: ca.to_owned(),
            reason: e.to_string(),
        })?;
    }
    if roots.is_empty() {
        return Err(TrustError::CaEmpty {
            path: ca.to_owned(),
        });
    }
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// The TLS server name for `host` (an IP address or a DNS name).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TrustError> {
    ServerName::try_from(host.to_string()).map_err(|_| TrustError::HostName(host.to_string()))
}
