//! TLS to mail servers, for `ooauth2 test` and the proxy: rustls with the
//! system's roots (the verifier reqwest uses) plus the certificates of a CA
//! file the user names, which may be a server's own self-signed one; and
//! the proxy's own TLS to local clients, with the certificate and key the
//! user gives.

use crate::error::{Code, Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;

/// The rustls configuration: the system's roots (the same verifier reqwest
/// uses) plus the CA certificates of `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let extra = match ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra.iter().cloned(),
        Arc::clone(&provider),
    )
    .map_err(|e| {
        Error::new(
            Code::NetworkError,
            format!("cannot load the CA certificates: {e}"),
        )
        .hint("install the system's CA certificates (ca-certificates) or pass --ca-file")
    })?;
    let verifier = Pinned {
        inner: verifier,
        pinned: extra,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Code::NetworkError, format!("TLS set-up failed: {e}")))?
        // Not a weakening: this is how the platform verifier is plugged in
        // (rustls-platform-verifier's own `with_platform_verifier` does it).
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The platform verifier, plus the certificates of `--ca-file` taken as
/// they are: a server whose own certificate is one of them is trusted for
/// the names the certificate holds. This is what a self-signed server
/// certificate needs (`openssl req -x509` and Debian's snakeoil ones are
/// marked as CAs, which WebPKI refuses as a server's own certificate); the
/// user named that exact certificate, so trusting it is no weaker than
/// trusting a CA.
#[derive(Debug)]
struct Pinned {
    inner: rustls_platform_verifier::Verifier,
    pinned: Vec<CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let err = match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Err(err);
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The certificates of a PEM file; a file without one is an error.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    read_certificates(path, "--ca-file")
}

/// The certificates of a PEM file, `what` naming it in messages; a file
/// without one is an error.
fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::invalid(format!("cannot read {what} {}: {e}", path.display())))?;
    let certs: std::result::Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(Error::invalid(format!(
            "{what} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ))),
        Err(e) => Err(Error::invalid(format!(
            "{what} {} is not valid PEM: {e}",
            path.display()
        ))),
    }
}

/// The TLS configuration of a server with the certificate chain of
/// `cert` and the private key of `key` (both PEM).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let bad = |what: String| {
        Error::invalid(what)
            .hint("local_cert is a PEM certificate chain, local_key its PEM private key")
    };
    let chain = read_certificates(cert, "local_cert").map_err(|e| bad(e.message))?;
    let pem = std::fs::read(key).map_err(|e| bad(format!("cannot read {}: {e}", key.display())))?;
    let key_der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        bad(format!(
            "{} holds no usable private key: {e}",
            key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Code::NetworkError, format!("TLS set-up failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            bad(format!(
                "{} and {} do not make a TLS server: {e}",
                cert.display(),
                key.display()
            ))
        })?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("ooauth2-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("empty.pem");
        std::fs::write(&f, "nothing here\n").unwrap();
        let e = read_ca_file(&f).unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        assert!(e.message.contains("no PEM certificate"), "{}", e.message);
        let e = read_ca_file(&dir.join("missing.pem")).unwrap_err();
        assert!(e.message.contains("cannot read --ca-file"), "{}", e.message);
        let _ = std::fs::remove_dir_all(dir);
    }
}
