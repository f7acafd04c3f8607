//! The request as nginx variables see it.

use crate::http1::RequestHead;
use crate::vars::{MapTable, RequestVars};
use std::net::SocketAddr;

/// A view of the client's request for template expansion.
pub struct RequestView<'a> {
    /// The request head.
    pub head: &'a RequestHead,
    /// `$remote_addr`.
    pub client: Option<SocketAddr>,
    /// `$server_port`.
    pub local: Option<SocketAddr>,
    /// The client connected over TLS (`$scheme`).
    pub https: bool,
    /// `$proxy_host`.
    pub proxy_host: &'a str,
    /// The config's maps.
    pub maps: &'a [MapTable],
}

impl RequestVars for RequestView<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.fields.get_str(name)
    }
    fn client(&self) -> Option<SocketAddr> {
        self.client
    }
    fn local(&self) -> Option<SocketAddr> {
        self.local
    }
    fn scheme(&self) -> &str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }
    fn method(&self) -> &str {
        self.head.method()
    }
    fn request_uri(&self) -> &str {
        self.head.path_and_query()
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
