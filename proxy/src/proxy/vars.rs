//! The request as nginx variables see it.

use crate::vars::{MapTable, RequestVars};
use pingora_proxy::Session;
use std::net::SocketAddr;

/// A view of the downstream request for template expansion.
pub struct SessionVars<'a> {
    /// The downstream session.
    pub session: &'a Session,
    /// `$proxy_host`.
    pub proxy_host: &'a str,
    /// The config's maps.
    pub maps: &'a [MapTable],
}

/// The maps of the tables a request routed with (none before routing).
pub fn maps_of(runtime: &Option<std::sync::Arc<crate::runtime::Runtime>>) -> &[MapTable] {
    runtime.as_deref().map_or(&[], |rt| &rt.maps)
}

fn inet(addr: Option<&pingora_core::protocols::l4::socket::SocketAddr>) -> Option<SocketAddr> {
    addr.and_then(|a| a.as_inet()).copied()
}

impl RequestVars for SessionVars<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.session
            .req_header()
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
    }
    fn client(&self) -> Option<SocketAddr> {
        inet(self.session.client_addr())
    }
    fn local(&self) -> Option<SocketAddr> {
        inet(self.session.server_addr())
    }
    fn method(&self) -> &str {
        self.session.req_header().method.as_str()
    }
    fn request_uri(&self) -> &str {
        self.session
            .req_header()
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    }
    fn proxy_host(&self) -> &str {
        self.proxy_host
    }
    fn map(&self, index: usize, out: &mut String) {
        if let Some(m) = self.maps.get(index) {
            m.eval(self, out);
        }
    }
}

/// The client's IP, for ip_hash and logs.
pub fn client_ip(session: &Session) -> Option<std::net::IpAddr> {
    inet(session.client_addr()).map(|a| a.ip())
}
