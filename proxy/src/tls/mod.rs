//! TLS toward clients: listeners whose virtual servers have `tls:` (nginx
//! `listen ... ssl` with `ssl_certificate`). rustls does the protocol; the
//! edge reads certificates (checked at load, reload and `-t`), picks one by
//! SNI, and hands the request path a [`ClientStream`].

mod acceptor;
mod certs;
mod stream;
mod x509;

pub use acceptor::{acceptor, provider};
pub use certs::{load, CertError};
pub use stream::ClientStream;
