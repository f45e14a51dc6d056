//! TLS to remote agents. A pinned agent is trusted by its certificate's SHA-256
//! fingerprint alone (its self-signed certificate names no CA); a changed certificate is
//! refused, naming both fingerprints. An agent with a CA-signed certificate is checked
//! against that CA like any TLS server. Signatures are always verified.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// `SHA256:AB:CD:...`, as `openssl x509 -fingerprint -sha256` prints it, with the prefix.
pub fn fingerprint(der: &[u8]) -> String {
    let hex: Vec<String> = ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("SHA256:{}", hex.join(":"))
}

/// Fingerprints compare without regard to case or the optional prefix.
pub fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim()
            .trim_start_matches("SHA256:")
            .trim_start_matches("sha256:")
            .replace(':', "")
            .to_ascii_uppercase()
    };
    norm(a) == norm(b)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly one certificate (by fingerprint), and records what it saw, so a
/// mismatch can be reported with both fingerprints. With no pin it accepts any
/// certificate: that is only for reading an agent's fingerprint on first contact, and
/// nothing is sent over such a connection.
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
pub fn ca_config(ca: &Path) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| format!("cannot read the CA certificate {}: {e}", ca.display()))?;
    for cert in certs {
        let cert =
            cert.map_err(|e| format!("cannot read the CA certificate {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{} is not a usable CA certificate: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", ca.display()));
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
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|_| format!("'{host}' is not a valid host name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_openssl_style_and_compare_loosely() {
        let fp = fingerprint(b"abc");
        assert_eq!(
            fp,
            "SHA256:BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
        assert!(same_fingerprint(
            &fp,
            &fp.to_lowercase().replace("sha256:", "")
        ));
        assert!(same_fingerprint(
            &fp,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        ));
        assert!(!same_fingerprint(&fp, &fingerprint(b"abd")));
    }
}
