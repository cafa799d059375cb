//! TLS to mail servers, for `ooauth2 test` and the proxy: rustls with the
//! system's roots (the verifier reqwest uses) plus the certificates of a CA
//! file the user names, which may be a server's own self-signed one; and
//! the proxy's own TLS to local clients, with the certificate and key the
//! user gives or one generated once (self-signed, kept in the data dir
//! and reused, so a client can pin its fingerprint).

use crate::error::{Code, Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;

/// The rustls configuration: the system's roots (the same verifier reqwest
/// uses) plus the CA certificates of `ca_file`, which messages call `named`
/// as the user gave it (`--ca-file`, or `[proxy.imap] ca_file`).
pub fn client_config(ca_file: Option<&Path>, named: &str) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let extra = match ca_file {
        Some(path) => read_certificates(path, named).map_err(|e| {
            e.hint(format!(
                "{named} names a PEM file of the server's CA certificate, or of its own self-signed one"
            ))
        })?,
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
        .hint(format!(
            "install the system's CA certificates (ca-certificates), or name the server's with {named}"
        ))
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

/// The platform verifier, plus the certificates of the CA file taken as
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

/// The names the generated certificate holds: this machine as loopback
/// and LAN clients may call it.
fn generated_names() -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            names.push(host.to_string());
        }
    }
    names
}

/// The self-signed certificate and key of local TLS at `cert` and `key`:
/// made once (the key first, each 0600 and written atomically, so a crash
/// leaves no certificate without its key), then reused as it is.
pub fn generated(cert: &Path, key: &Path) -> Result<()> {
    if cert.exists() && key.exists() {
        return Ok(());
    }
    let made = rcgen::generate_simple_self_signed(generated_names()).map_err(|e| {
        Error::new(
            Code::StoreError,
            format!("cannot generate the proxy's certificate: {e}"),
        )
    })?;
    let key_pem = crate::secret::Secret::new(made.signing_key.serialize_pem());
    write_private(key, key_pem.expose().as_bytes())?;
    write_private(cert, made.cert.pem().as_bytes())
}

/// Writes `body` to `path`, mode 0600, replacing it atomically.
fn write_private(path: &Path, body: &[u8]) -> Result<()> {
    let fail = |f: crate::replace::Failure| {
        Error::new(
            Code::StoreError,
            format!("cannot write {}: {}", f.path.display(), f.error),
        )
        .hint("check the data directory's permissions and free space")
    };
    crate::replace::TempFile::create(path, 0o600)
        .and_then(|t| t.commit(body))
        .map_err(fail)
}

/// The SHA-256 fingerprint of the first certificate of the PEM file
/// `cert`, as clients show it (`AB:CD:...`).
pub fn fingerprint(cert: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let chain = read_certificates(cert, "local_cert")?;
    let digest = Sha256::digest(chain[0].as_ref());
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    Ok(hex.join(":"))
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
        let e = read_certificates(&f, "--ca-file").unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        assert!(e.message.contains("no PEM certificate"), "{}", e.message);
        let e = client_config(Some(&dir.join("missing.pem")), "[proxy.imap] ca_file").unwrap_err();
        assert!(
            e.message.contains("cannot read [proxy.imap] ca_file"),
            "{}",
            e.message
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
