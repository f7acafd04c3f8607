//! Opening the WebSocket of `call` and `health`: `ws://` in clear text,
//! `wss://` over TLS, trusting the system's CA store (`SSL_CERT_FILE`, or
//! the distribution's bundle) plus the CAs of `--ca-file` (for a private
//! CA, as `NODE_EXTRA_CA_CERTS` is for the official CLI).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::WebSocketStream;

/// A connection, clear or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The client's WebSocket.
pub type Socket = WebSocketStream<Box<dyn Io>>;

/// Where distributions keep their CA bundle, first found wins.
const SYSTEM_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Connects to `url` (`ws://` or `wss://`) and does the WebSocket handshake.
pub async fn open(url: &str, ca_file: Option<&Path>) -> Result<Socket, String> {
    let request = url
        .into_client_request()
        .map_err(|e| format!("{url}: not a WebSocket URL ({e})"))?;
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(format!("{url}: expected ws://HOST:PORT or wss://HOST:PORT")),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("{url}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if tls {
        let name = ServerName::try_from(host.clone())
            .map_err(|_| format!("{url}: `{host}` is not a host name"))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(ca_file)?));
        Box::new(
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("cannot connect to {url}: TLS: {e}"))?,
        )
    } else {
        Box::new(tcp)
    };
    let (ws, _) = tokio_tungstenite::client_async(request, io)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    Ok(ws)
}

/// Trusts the system's CAs and those in `ca_file`.
fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from))
        .find(|p| p.is_file());
    if let Some(bundle) = system {
        if let Ok(pem) = std::fs::read(&bundle) {
            // A bundle may hold certificates rustls cannot use; skip those.
            let certs = CertificateDer::pem_slice_iter(&pem).flatten();
            roots.add_parsable_certificates(certs);
        }
    }
    if let Some(file) = ca_file {
        let pem = std::fs::read(file)
            .map_err(|e| format!("--ca-file {}: cannot read: {e}", file.display()))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert =
                cert.map_err(|e| format!("--ca-file {}: not valid PEM: {e}", file.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("--ca-file {}: {e}", file.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "--ca-file {}: no certificate in it (expected PEM `-----BEGIN CERTIFICATE-----`)",
                file.display()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
