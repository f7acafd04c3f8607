//! The TLS side of one listen address: a rustls server config whose
//! certificate is chosen by SNI among the address's virtual servers, with
//! the default server's protocols and session settings.
//!
//! Why per listen address: a handshake happens before any request names a
//! host, so, as with nginx, SNI picks the virtual server's certificate by
//! the same `server_name` rules requests use, a client without SNI (or with
//! an unknown name) gets the default server's, and everything negotiated
//! before SNI is known (protocols, session resumption) is the default
//! server's. A reload builds a new acceptor: new connections use it,
//! established ones keep theirs.

use crate::config::{TlsConfig, TlsProtocol};
use crate::routing::NameTable;
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::server::{ServerConfig, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// The only application protocol the edge speaks; a client offering
/// `h2` and `http/1.1` (browsers, curl) gets `http/1.1`.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The crypto the edge uses everywhere (aws-lc-rs: see README, "TLS").
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Certificates of a listener's virtual servers, by SNI.
#[derive(Debug)]
struct BySni {
    names: NameTable,
    /// Indexed like the listener's servers.
    certs: Vec<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let server = match hello.server_name() {
            Some(name) => self.names.find(&name.to_ascii_lowercase()),
            None => self.names.default_server(),
        };
        self.certs.get(server).cloned()
    }
}

/// The server config of a listener whose servers (in listener order) have the
/// certificates `certs` and the names indexed by `names`; `settings` are
/// the default server's.
pub fn acceptor(
    names: NameTable,
    certs: Vec<Arc<CertifiedKey>>,
    settings: &TlsConfig,
) -> Result<Arc<ServerConfig>, String> {
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = settings
        .protocols
        .iter()
        .map(|p| match p {
            TlsProtocol::Tls12 => &rustls::version::TLS12,
            TlsProtocol::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls.protocols: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { names, certs }));
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    config.ignore_client_order = settings.prefer_server_ciphers;
    config.session_storage = if settings.session_cache > 0 {
        ServerSessionMemoryCache::new(settings.session_cache)
    } else {
        Arc::new(NoServerSessionStorage {})
    };
    if settings.session_tickets {
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
            .map_err(|e| format!("tls.session_tickets: cannot make a ticket key: {e}"))?;
    }
    Ok(Arc::new(config))
}
