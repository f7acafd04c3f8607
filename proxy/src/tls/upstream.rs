//! TLS toward upstream servers (`proxy_pass https://`), with nginx's
//! defaults: no SNI unless asked (`proxy_ssl_server_name`), the name sent
//! and checked is the `proxy_pass` host unless set (`proxy_ssl_name`), and
//! the server's certificate is not verified unless asked
//! (`proxy_ssl_verify`, which then needs `proxy_ssl_trusted_certificate`).

use super::acceptor::provider;
use crate::config::UpstreamTlsConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// How a location's requests reach their servers over TLS.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    config: Arc<ClientConfig>,
    /// The name sent by SNI (when enabled) and checked in the certificate.
    pub name: ServerName<'static>,
}

impl UpstreamTls {
    /// A connector for one handshake.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.config.clone())
    }
}

/// The TLS client of a location: `settings`, `host` the `proxy_pass` host
/// (upstream name or address), relative paths taken from `base`.
pub fn upstream_tls(
    settings: &UpstreamTlsConfig,
    host: &str,
    base: &Path,
) -> Result<UpstreamTls, String> {
    let name_text = settings.name.as_deref().unwrap_or(host);
    let host_only = name_text
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(name_text, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = ServerName::try_from(host_only.to_string())
        .map_err(|_| format!("upstream_tls.name: `{host_only}` is not a host name or address"))?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("upstream_tls: {e}"))?;
    let mut config = if settings.verify {
        let Some(file) = &settings.trusted_certificate else {
            return Err("upstream_tls.verify needs trusted_certificate (nginx: no \"proxy_ssl_trusted_certificate\" for \"proxy_ssl_verify\")".into());
        };
        let path = base.join(file);
        let pem = std::fs::read(&path).map_err(|e| {
            format!(
                "upstream_tls.trusted_certificate {}: cannot read: {e}",
                path.display()
            )
        })?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                format!(
                    "upstream_tls.trusted_certificate {}: not valid PEM: {e}",
                    path.display()
                )
            })?;
            roots
                .add(cert)
                .map_err(|e| format!("upstream_tls.trusted_certificate {}: {e}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!(
                "upstream_tls.trusted_certificate {}: no certificate in it",
                path.display()
            ));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider())))
            .with_no_client_auth()
    };
    config.enable_sni = settings.server_name;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(UpstreamTls {
        config: Arc::new(config),
        name,
    })
}

/// nginx's `proxy_ssl_verify off`: any certificate is taken, but the
/// handshake's signatures are still checked (the connection is encrypted
/// to whoever holds the presented key).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
