//! Why a request is refused before it reaches any upstream: the status
//! nginx answers with, and a short reason for the error log.

/// A refusal, with nginx's status for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// 400: not a request nginx would read.
    BadRequest,
    /// 400 "Request Header Or Cookie Too Large": a header line or the whole
    /// head over `large_client_header_buffers`.
    HeaderTooLarge,
    /// 414: a request line over one of `large_client_header_buffers`.
    UriTooLong,
    /// 505: an HTTP major version other than 1.
    VersionNotSupported,
    /// 405: CONNECT and TRACE, which nginx never proxies.
    MethodNotAllowed,
    /// 501: a `Transfer-Encoding` other than `chunked`.
    NotImplemented,
    /// 413: a body over `client_max_body_size`.
    BodyTooLarge,
}

impl Reject {
    /// The status line's code.
    pub fn status(self) -> u16 {
        match self {
            Reject::BadRequest | Reject::HeaderTooLarge => 400,
            Reject::UriTooLong => 414,
            Reject::VersionNotSupported => 505,
            Reject::MethodNotAllowed => 405,
            Reject::NotImplemented => 501,
            Reject::BodyTooLarge => 413,
        }
    }

    /// The body of the edge's answer.
    pub fn body(self) -> &'static [u8] {
        match self {
            Reject::BadRequest => b"400 Bad Request\n",
            Reject::HeaderTooLarge => b"400 Request Header Or Cookie Too Large\n",
            Reject::UriTooLong => b"414 Request-URI Too Large\n",
            Reject::VersionNotSupported => b"505 HTTP Version Not Supported\n",
            Reject::MethodNotAllowed => b"405 Not Allowed\n",
            Reject::NotImplemented => b"501 Not Implemented\n",
            Reject::BodyTooLarge => b"413 Request Entity Too Large\n",
        }
    }
}

/// A refused request head: the answer, and what was wrong (logged at info
/// level, as nginx logs "client sent invalid ...").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadError {
    /// The answer.
    pub reject: Reject,
    /// What the client sent wrong.
    pub why: &'static str,
}

impl HeadError {
    /// A 400 for `why`.
    pub(crate) const fn bad(why: &'static str) -> HeadError {
        HeadError {
            reject: Reject::BadRequest,
            why,
        }
    }
    /// A refusal `reject` for `why`.
    pub(crate) const fn new(reject: Reject, why: &'static str) -> HeadError {
        HeadError { reject, why }
    }
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} ({})", self.why, self.reject.status())
    }
}
