//! TLS toward clients: listeners whose virtual servers have `tls:` (nginx
//! `listen ... ssl` with `ssl_certificate`). rustls does the protocol; the
//! edge reads certificates (checked at load, reload and `-t`), picks one by
//! SNI, and hands the request path a [`ClientStream`]. And TLS toward
//! upstreams (`proxy_pass https://`, [`UpstreamTls`]).

mod acceptor;
mod certs;
mod stream;
mod upstream;
mod x509;

pub use acceptor::{acceptor, provider};
pub use certs::{load, CertError};
pub use stream::{ClientStream, MaybeTls, UpStream};
pub use upstream::{upstream_tls, UpstreamTls};
