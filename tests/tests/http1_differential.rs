//! The project's own differential request-smuggling suite (issue 12).
//!
//! Every case is raw HTTP/1 bytes, sent as they are on a fresh connection
//! through the edge and through the real nginx 1.22, both running the very
//! same nginx config text, each proxy in front of a strict (RFC 9112) and a
//! lenient recording backend ([`openclaw_e2e::raw_backend`]), with the
//! upstream spoken as HTTP/1.1 with keepalive and as nginx's default
//! HTTP/1.0. Per case and run:
//!
//! 1. the requests the backend framed are exactly those the proxy answered
//!    with a backend response (the `X-Seen` numbers of the answers against
//!    the backend's record, in order), and the strict backend never had to
//!    refuse what the proxy sent;
//! 2. nothing smuggled (`/smuggled`, or `/forbidden`, which a location
//!    answers 403) reaches a backend unless the proxy answered it as a
//!    request of its own;
//! 3. the proxy neither hangs nor dies: each case has a deadline, and a
//!    plain GET is answered after it;
//! 4. the edge's sequence of statuses is nginx's, computed live every run,
//!    unless the case is in [`DIFFERENCES`].
//!
//! Properties 1-3 are required of the edge; for nginx they are printed.
//! The failure message lists every failing case with both status sequences
//! and what each backend recorded. nginx's answers are printed as a table,
//! also written to the file named by `HTTP1_DIFF_NGINX_TABLE` if set.

use openclaw_e2e::lifecycle::EdgeFiles;
use openclaw_e2e::nginx_conf::ConfEdge;
use openclaw_e2e::ports::free_addr;
use openclaw_e2e::raw_backend::{show, RawBackend, Seen, Strictness};
use openclaw_e2e::wait::{accepts, until};
use openclaw_e2e::{bounded, Nginx};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where the edge answers differently from nginx on purpose: case name ->
/// why. Properties 1-3 still hold for these cases.
const DIFFERENCES: &[(&str, &str)] = &[
    // Chunked request bodies are read by RFC 9112 7.1; nginx re-frames
    // what it reads loosely, the edge refuses what a backend might read
    // otherwise.
    ("chunk-lf-after-size", "chunk lines end in CRLF only; nginx takes a bare LF"),
    ("chunk-lf-after-data", "chunk data ends in CRLF only; nginx takes a bare LF"),
    ("chunk-lf-last-chunk", "the last chunk and body end in CRLF only; nginx takes bare LFs"),
    ("chunk-junk-after-size", "only an extension may follow a chunk size; nginx skips anything"),
    ("chunk-ext-unterminated-quote", "chunk extensions by the grammar; nginx skips anything"),
    ("chunk-ext-nul", "chunk extensions by the grammar (no NUL); nginx skips anything"),
    ("chunk-ext-empty-name", "chunk extensions by the grammar (a token name); nginx skips anything"),
    ("chunk-ext-4000-semicolons", "chunk extensions by the grammar (`;;` has no name); nginx skips anything"),
    ("chunk-ext-8k", "chunk extensions are bounded; nginx reads any length"),
    ("chunk-trailer-lf", "trailer lines end in CRLF only; nginx takes a bare LF"),
    ("chunk-trailers-end-lf", "the trailer section ends in CRLF only; nginx takes a bare LF"),
    ("chunk-trailer-request-line", "trailers must be field lines; nginx skips any line"),
    ("chunk-trailer-no-colon", "trailers must be field lines; nginx skips any line"),
    ("chunk-trailer-folded", "no obs-fold in trailers; nginx skips any line"),
    // Request lines.
    ("line-http09", "HTTP/0.9 is refused with 400; nginx answers it in HTTP/0.9"),
    ("line-missing-version", "a request line without a version is HTTP/0.9: 400; nginx answers in HTTP/0.9"),
    ("line-target-ff", "a target that is not UTF-8 is a 400 (routing, templates and logs read targets as text); nginx passes the bytes on"),
    // Upgrades: only a GET over HTTP/1.1 with `Upgrade` and `Connection:
    // upgrade` may become a tunnel.
    ("upgrade-on-post", "a 101 to a POST is a 502 (only a GET asks for an upgrade); nginx tunnels"),
    ("upgrade-http10", "a 101 to an HTTP/1.0 request is a 502 (upgrades are HTTP/1.1); nginx tunnels"),
    // Responses: a server's ambiguous or broken framing is a 502 (or a cut
    // connection once a head went out), never relayed or re-framed.
    ("upgrade-101-not-asked", "a 101 to a request that asked for no upgrade is a 502; nginx waits on it, answering nothing"),
    ("resp-101-no-upgrade", "a 101 to a request that asked for no upgrade is a 502; nginx waits on it, answering nothing"),
    ("resp-100-then-200", "a 1xx other than a requested 101 is a 502; nginx relays the 100 and the rest as its body"),
    ("resp-102-then-200", "a 1xx other than a requested 101 is a 502; nginx relays the 102 and the rest as its body"),
    ("resp-te-cl", "Transfer-Encoding with Content-Length is a 502; nginx re-frames by the chunks"),
    ("resp-cl-cl", "two different Content-Length are a 502; nginx relays a 200"),
    ("resp-cl-list", "a Content-Length list is a 502; nginx relays a 200"),
    ("resp-cl-plus", "`Content-Length: +5` is a 502; nginx relays a 200"),
    ("resp-bad-chunk", "a bare LF in a response chunk line is a 502; nginx re-frames it"),
    ("resp-chunk-junk", "junk after a response chunk size is a 502; nginx re-frames it"),
    ("resp-smuggle-in-chunk", "a bare LF in a response chunk extension is a 502; nginx relays a cut 200"),
    ("resp-te-gzip", "a response coding other than a final chunked is a 502; nginx relays it"),
    ("resp-te-chunked-chunked", "`chunked, chunked` in a response is a 502; nginx re-frames it"),
    ("resp-status-junk", "a status line that is not HTTP/1.x is a 502; nginx relays the bytes raw"),
    ("resp-garbage", "an answer that is not HTTP/1.x is a 502; nginx relays it as HTTP/0.9"),
];

/// How long a connection may stay silent before its case is over: a proxy
/// may rightly wait for body bytes that never come.
const IDLE: Duration = Duration::from_millis(1500);
/// The most one exchange may take.
const CASE_LIMIT: Duration = Duration::from_secs(10);
/// How long a backend may hold unframed bytes after a case.
const SETTLE: Duration = Duration::from_millis(500);
/// Connections run at once per (upstream variant, backend) pair.
const LANES: usize = 8;

/// A well-formed request ending a case, so that the connection ends.
const LAST: &str = "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
/// A request hidden in another's body: no backend may frame it unless the
/// proxy answered it as a request of its own.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
/// The liveness probe after each case.
const ALIVE: &str = "GET /alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

// ------------------------------------------------------------------ cases

/// One raw case: a short unique name and the bytes sent.
struct Case {
    name: String,
    bytes: Vec<u8>,
    /// The first request is a HEAD: its answer has no body.
    head: bool,
}

#[derive(Default)]
struct Cases(Vec<Case>);

impl Cases {
    /// A case sent as is.
    fn raw(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        self.0.push(Case {
            name: name.to_string(),
            bytes: bytes.as_ref().to_vec(),
            head: false,
        });
    }

    /// A case whose first request is a HEAD, followed by [`LAST`].
    fn head(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        self.last(name, bytes);
        if let Some(case) = self.0.last_mut() {
            case.head = true;
        }
    }

    /// A case followed by [`LAST`].
    fn last(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        let mut bytes = bytes.as_ref().to_vec();
        bytes.extend_from_slice(LAST.as_bytes());
        self.raw(name, bytes);
    }
}

/// `POST /a` with the extra header lines `fields` (each ending in CRLF)
/// and `body`.
fn post(fields: &str, body: impl AsRef<[u8]>) -> Vec<u8> {
    let mut out = format!("POST /a HTTP/1.1\r\nHost: x\r\n{fields}\r\n").into_bytes();
    out.extend_from_slice(body.as_ref());
    out
}

/// `POST /a` chunked with `chunks` as its body.
fn chunked(chunks: impl AsRef<[u8]>) -> Vec<u8> {
    post("Transfer-Encoding: chunked\r\n", chunks)
}

/// `GET /a` with one extra header line.
fn get_with(field: &str) -> String {
    format!("GET /a HTTP/1.1\r\nHost: x\r\n{field}\r\n\r\n")
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Every case, each under a unique name.
fn cases() -> Vec<Case> {
    let mut c = Cases::default();
    // Baselines: the harness is right when these agree.
    c.raw(
        "get",
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    c.last("get-then-last", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    c.last("post-cl", post("Content-Length: 5\r\n", "hello"));
    c.last("post-chunked", chunked("5\r\nhello\r\n0\r\n\r\n"));
    c.raw("http10-get", "GET /a HTTP/1.0\r\nHost: x\r\n\r\n");
    c.raw("http10-no-host", "GET /a HTTP/1.0\r\n\r\n");
    c.last(
        "expect-100",
        post("Expect: 100-continue\r\nContent-Length: 5\r\n", "hello"),
    );
    c.head("head", "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");

    // CL.TE and TE.CL.
    let hidden = format!("0\r\n\r\n{SMUGGLED}");
    c.last(
        "cl-te",
        post(
            &format!(
                "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
                hidden.len()
            ),
            &hidden,
        ),
    );
    c.last(
        "te-cl",
        post(
            "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
            format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len()),
        ),
    );
    c.last(
        "cl-te-get",
        format!(
            "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{hidden}",
            hidden.len()
        ),
    );
    c.last(
        "te-cl-http10",
        format!(
            "POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\
             Content-Length: {}\r\n\r\n{hidden}",
            hidden.len()
        ),
    );
    c.last(
        "te-http10",
        "POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n0\r\n\r\n",
    );

    // TE.TE: obfuscated Transfer-Encoding, alone and beside a
    // Content-Length that covers a smuggled request.
    let obfuscations: &[(&str, &str)] = &[
        ("xchunked", "Transfer-Encoding: xchunked\r\n"),
        ("sp-chunked", "Transfer-Encoding:  chunked\r\n"),
        ("tab-chunked", "Transfer-Encoding:\tchunked\r\n"),
        ("chunked-sp", "Transfer-Encoding: chunked \r\n"),
        ("upper", "Transfer-Encoding: CHUNKED\r\n"),
        (
            "chunked-identity",
            "Transfer-Encoding: chunked, identity\r\n",
        ),
        (
            "identity-chunked",
            "Transfer-Encoding: identity, chunked\r\n",
        ),
        ("gzip-chunked", "Transfer-Encoding: gzip, chunked\r\n"),
        (
            "two-lines",
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        ),
        (
            "chunked-twice",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        ),
        ("space-colon", "Transfer-Encoding : chunked\r\n"),
        ("folded", "Transfer-Encoding:\r\n chunked\r\n"),
        ("line-leading-space", " Transfer-Encoding: chunked\r\n"),
        ("quoted", "Transfer-Encoding: \"chunked\"\r\n"),
        ("trailing-comma", "Transfer-Encoding: chunked,\r\n"),
        ("vtab", "Transfer-Encoding: chunked\x0b\r\n"),
        ("empty", "Transfer-Encoding: \r\n"),
        ("underscore", "Transfer_Encoding: chunked\r\n"),
        ("identity", "Transfer-Encoding: identity\r\n"),
    ];
    for (name, te) in obfuscations {
        c.last(&format!("te-{name}"), post(te, "5\r\nhello\r\n0\r\n\r\n"));
        c.last(
            &format!("te-{name}+cl"),
            post(
                &format!("Content-Length: {}\r\n{te}", hidden.len()),
                &hidden,
            ),
        );
    }

    // Content-Length variants.
    let lengths: &[(&str, &str)] = &[
        ("plus", "+5"),
        ("spaces", " 5 "),
        ("list", "5,5"),
        ("list-space", "5, 5"),
        ("hex", "0x5"),
        ("negative", "-5"),
        ("huge", "99999999999999999999999"),
        ("overflow", "18446744073709551621"),
        ("empty", ""),
        ("leading-zeros", "005"),
        ("tab", "\t5"),
        ("letters", "5a"),
        ("inner-space", "5 5"),
    ];
    for (name, value) in lengths {
        c.last(
            &format!("cl-{name}"),
            post(&format!("Content-Length: {value}\r\n"), "hello"),
        );
    }
    c.last(
        "cl-two-same",
        post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
    );
    c.last(
        "cl-two-different",
        post(
            &format!(
                "Content-Length: 5\r\nContent-Length: {}\r\n",
                5 + SMUGGLED.len()
            ),
            format!("hello{SMUGGLED}"),
        ),
    );
    c.last(
        "cl-on-get",
        "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    c.last(
        "cl-zero-then-request",
        post("Content-Length: 0\r\n", SMUGGLED),
    );
    c.raw("cl-short-body", post("Content-Length: 10\r\n", "hello"));

    // Chunked body faults.
    let bodies: &[(&str, &[u8])] = &[
        ("lf-after-size", b"5\nhello\r\n0\r\n\r\n"),
        ("lf-after-data", b"5\r\nhello\n0\r\n\r\n"),
        ("lf-last-chunk", b"5\r\nhello\r\n0\n\n"),
        ("cr-after-size", b"5\rhello\r\n0\r\n\r\n"),
        ("junk-after-size", b"5 zz\r\nhello\r\n0\r\n\r\n"),
        ("bws-before-ext", b"5 ;a=b\r\nhello\r\n0\r\n\r\n"),
        ("ext-valid", b"5;name=value\r\nhello\r\n0\r\n\r\n"),
        ("ext-quoted", b"5;a=\"b c\"\r\nhello\r\n0\r\n\r\n"),
        ("ext-no-value", b"5;a\r\nhello\r\n0\r\n\r\n"),
        ("ext-unterminated-quote", b"5;a=\"b\r\nhello\r\n0\r\n\r\n"),
        ("ext-nul", b"5;a=\0\r\nhello\r\n0\r\n\r\n"),
        ("ext-empty-name", b"5;=x\r\nhello\r\n0\r\n\r\n"),
        (
            "funky-chunks",
            b"2;\nAB\r\n30\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            "funky-chunks-data",
            b"2\r\nAB;\n30\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        ("size-huge", b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        ("size-u64-max", b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        ("size-wraps", b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
        ("leading-zeros", b"0005\r\nhello\r\n0\r\n\r\n"),
        ("uppercase-hex", b"A\r\n0123456789\r\n0\r\n\r\n"),
        ("0x-prefix", b"0x5\r\nhello\r\n0\r\n\r\n"),
        ("negative", b"-5\r\nhello\r\n0\r\n\r\n"),
        ("space-before-size", b" 5\r\nhello\r\n0\r\n\r\n"),
        ("empty-size", b"\r\nhello\r\n0\r\n\r\n"),
        ("no-crlf-after-data", b"5\r\nhello0\r\n\r\n"),
        ("extra-after-data", b"5\r\nhelloXX\r\n0\r\n\r\n"),
        (
            "trailer-valid",
            b"5\r\nhello\r\n0\r\nX-Trailer: yes\r\n\r\n",
        ),
        ("trailer-lf", b"5\r\nhello\r\n0\r\nX-Trailer: yes\n\r\n"),
        ("trailers-end-lf", b"5\r\nhello\r\n0\r\n\n"),
        (
            "trailer-request-line",
            b"5\r\nhello\r\n0\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        ),
        (
            "trailer-cl",
            b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n",
        ),
        (
            "trailer-te",
            b"5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
        ("trailer-folded", b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"),
        ("trailer-no-colon", b"5\r\nhello\r\n0\r\nX-T\r\n\r\n"),
    ];
    for (name, body) in bodies {
        c.last(&format!("chunk-{name}"), chunked(body));
    }
    let mut semicolons = b"5".to_vec();
    semicolons.extend(std::iter::repeat_n(b';', 4000));
    semicolons.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    c.last("chunk-ext-4000-semicolons", chunked(&semicolons));
    c.last(
        "chunk-ext-8k",
        chunked(format!("5;a={}\r\nhello\r\n0\r\n\r\n", "b".repeat(8192))),
    );
    c.last(
        "chunk-data-holds-request",
        chunked(format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len())),
    );
    c.raw("chunk-incomplete", chunked("5\r\nhel"));
    c.last(
        "chunked-then-smuggled",
        cat(&[&chunked("5\r\nhello\r\n0\r\n\r\n"), SMUGGLED.as_bytes()]),
    );

    // Pipelining.
    c.last(
        "pipe-two",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    c.raw(
        "pipe-three",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    c.last(
        "pipe-valid-then-invalid",
        format!("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n{SMUGGLED}"),
    );
    c.last(
        "pipe-post-then-get",
        cat(&[
            &post("Content-Length: 5\r\n", "hello"),
            b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        ]),
    );
    c.last(
        "pipe-invalid-then-smuggled",
        format!("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!{SMUGGLED}"),
    );
    c.last(
        "pipe-http10-keepalive",
        "GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    );
    c.raw(
        "pipe-after-close",
        format!("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n{SMUGGLED}"),
    );

    // Request lines.
    let lines: &[(&str, &[u8])] = &[
        ("method-lowercase", b"get /a HTTP/1.1"),
        ("version-1.2", b"GET /a HTTP/1.2"),
        ("version-2.0", b"GET /a HTTP/2.0"),
        ("version-lowercase", b"GET /a http/1.1"),
        ("version-1.10", b"GET /a HTTP/1.10"),
        ("version-trailing-space", b"GET /a HTTP/1.1 "),
        ("double-space", b"GET  /a HTTP/1.1"),
        ("tabs", b"GET\t/a\tHTTP/1.1"),
        ("connect", b"CONNECT x:443 HTTP/1.1"),
        ("trace", b"TRACE /a HTTP/1.1"),
        ("options-asterisk", b"OPTIONS * HTTP/1.1"),
        ("get-asterisk", b"GET * HTTP/1.1"),
        ("unknown-method", b"FOO /a HTTP/1.1"),
        ("absolute-form", b"GET http://other/a HTTP/1.1"),
        ("absolute-form-port", b"GET http://other:81/a HTTP/1.1"),
        ("authority-form-get", b"GET other:80 HTTP/1.1"),
        ("target-nul", b"GET /a\0b HTTP/1.1"),
        ("target-ctl", b"GET /a\x01b HTTP/1.1"),
        ("target-del", b"GET /a\x7fb HTTP/1.1"),
        ("target-space", b"GET /a b HTTP/1.1"),
        ("target-utf8", b"GET /caf\xc3\xa9 HTTP/1.1"),
        ("target-ff", b"GET /\xff HTTP/1.1"),
        ("target-dotdot", b"GET /a/../../b HTTP/1.1"),
        ("target-no-slash", b"GET a HTTP/1.1"),
    ];
    for (name, line) in lines {
        c.last(
            &format!("line-{name}"),
            cat(&[line, b"\r\nHost: x\r\n\r\n"]),
        );
    }
    c.raw("line-http09", "GET /a\r\n");
    c.last("line-missing-version", "GET /a\r\nHost: x\r\n\r\n");
    c.last(
        "line-leading-crlf",
        "\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    c.last("line-leading-lf", "\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    c.last(
        "line-leading-crlf-x3",
        "\r\n\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    c.last("line-bare-lf-head", "GET /a HTTP/1.1\nHost: x\n\n");

    // Header lines.
    let fields: &[(&str, &[u8])] = &[
        ("obs-fold", b"X-A: a\r\n b"),
        ("space-before-colon", b"X-A : a"),
        ("ctl-in-name", b"X\x01A: a"),
        ("nul-in-value", b"X-A: a\0b"),
        ("ctl-in-value", b"X-A: a\x01b"),
        ("del-in-value", b"X-A: a\x7fb"),
        ("cr-in-value", b"X-A: a\rb"),
        ("utf8-in-value", b"X-A: caf\xc3\xa9"),
        ("underscore-name", b"X_Forwarded_For: 1.2.3.4"),
        ("at-in-name", b"X@A: a"),
        ("no-colon", b"X-A a"),
        ("empty-name", b": x"),
        ("duplicate-host", b"Host: y"),
        ("long-value", &[]),
    ];
    for (name, field) in fields {
        let field: Vec<u8> = if *name == "long-value" {
            format!("X-Long: {}", "v".repeat(7000)).into_bytes()
        } else {
            field.to_vec()
        };
        c.last(
            &format!("hdr-{name}"),
            cat(&[b"GET /a HTTP/1.1\r\nHost: x\r\n", &field, b"\r\n\r\n"]),
        );
    }
    c.last(
        "hdr-obs-fold-first",
        "GET /a HTTP/1.1\r\n X-A: a\r\nHost: x\r\n\r\n",
    );
    let hosts: &[(&str, &str)] = &[
        ("space", "local host"),
        ("slash", "a/b"),
        ("dotdot", ".."),
        ("empty", ""),
        ("trailing-dot", "x."),
        ("port", "x:8080"),
        ("bad-port", "x:abc"),
        ("ipv6", "[::1]:80"),
        ("userinfo", "u@x"),
    ];
    for (name, host) in hosts {
        c.last(
            &format!("host-{name}"),
            format!("GET /a HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        );
    }
    c.raw(
        "host-missing-http11",
        "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    c.last(
        "host-absolute-form-differs",
        "GET http://other/a HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    c.last(
        "hdr-connection-close-te",
        get_with("Connection: close, Transfer-Encoding"),
    );

    // Limits.
    let mut many = String::from("GET /a HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        let _ = write!(many, "X-Header-{i}: value-{i}\r\n");
    }
    many.push_str("\r\n");
    c.last("limit-150-headers", many);
    c.last(
        "limit-uri-7k",
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(7 * 1024)),
    );
    c.last(
        "limit-uri-100k",
        format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(100 * 1024)
        ),
    );
    c.last(
        "limit-header-9k",
        get_with(&format!("X-Big: {}", "b".repeat(9 * 1024))),
    );
    let mut big_head = String::from("GET /a HTTP/1.1\r\nHost: x\r\n");
    for i in 0..5 {
        let _ = write!(big_head, "X-Part-{i}: {}\r\n", "p".repeat(7 * 1024));
    }
    big_head.push_str("\r\n");
    c.last("limit-head-35k", big_head);
    let mib = 1024 * 1024;
    c.last(
        "limit-body-512k",
        post(
            &format!("Content-Length: {}\r\n", mib / 2),
            vec![b'x'; mib / 2],
        ),
    );
    c.last(
        "limit-body-over-1m",
        post(
            &format!("Content-Length: {}\r\n", mib + 1),
            vec![b'x'; mib + 1],
        ),
    );
    let mut big_chunks = Vec::new();
    for _ in 0..17 {
        big_chunks.extend_from_slice(b"10000\r\n");
        big_chunks.extend(std::iter::repeat_n(b'y', 0x10000));
        big_chunks.extend_from_slice(b"\r\n");
    }
    big_chunks.extend_from_slice(b"0\r\n\r\n");
    c.last("limit-chunked-over-1m", chunked(&big_chunks));

    // Upgrades.
    let ws = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    c.last(
        "upgrade-101-not-asked",
        "GET /resp/101-no-upgrade HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /forbidden HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    c.raw(
        "upgrade-websocket",
        format!("GET /resp/101 HTTP/1.1\r\nHost: x\r\n{ws}\r\n"),
    );
    c.raw(
        "upgrade-websocket-then-bytes",
        format!("GET /resp/101 HTTP/1.1\r\nHost: x\r\n{ws}\r\nGET /forbidden HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    c.raw(
        "upgrade-on-post",
        format!("POST /resp/101 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n{ws}\r\n"),
    );
    c.raw(
        "upgrade-http10",
        format!("GET /resp/101 HTTP/1.0\r\nHost: x\r\n{ws}\r\n"),
    );
    c.last(
        "upgrade-h2c",
        "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\
         HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    );
    c.last("forbidden", "GET /forbidden HTTP/1.1\r\nHost: x\r\n\r\n");

    // The response side: what the backend answers is broken or unusual.
    for fault in [
        "te-cl",
        "cl-cl",
        "cl-list",
        "cl-plus",
        "cl-space-colon",
        "bad-chunk",
        "chunk-junk",
        "chunk-huge",
        "chunk-no-crlf",
        "smuggle-in-chunk",
        "te-gzip",
        "te-chunked-chunked",
        "http10-te",
        "obs-fold",
        "nul-header",
        "bare-lf",
        "100-then-200",
        "102-then-200",
        "204-body",
        "no-length",
        "cl-short",
        "status-junk",
        "garbage",
        "close",
        "101-no-upgrade",
    ] {
        c.last(
            &format!("resp-{fault}"),
            format!("GET /resp/{fault} HTTP/1.1\r\nHost: x\r\n\r\n"),
        );
    }
    let mut seen = HashSet::new();
    for case in &c.0 {
        assert!(
            seen.insert(case.name.clone()),
            "two cases named {}",
            case.name
        );
    }
    c.0
}

// ------------------------------------------------------------ client side

/// One response as the client read it.
#[derive(Debug, Clone)]
struct Answer {
    /// The status; 0 for an HTTP/0.9 answer (a body without a head).
    status: u16,
    /// The backend event it carries (`X-Seen`), if any.
    seen: Option<u64>,
    /// The connection ended inside its body.
    truncated: bool,
}

/// How the client's reading ended.
#[derive(Debug, Clone, PartialEq)]
enum End {
    Closed,
    Reset,
    /// Nothing arrived for [`IDLE`].
    Idle,
    /// Bytes kept arriving until [`CASE_LIMIT`].
    Deadline,
    /// Bytes that are no response.
    Garbage(String),
    Failed(String),
}

/// What one exchange gave.
#[derive(Debug, Clone)]
struct Exchange {
    answers: Vec<Answer>,
    end: End,
    /// Bytes received after a `101`.
    tunneled: Option<usize>,
}

impl Exchange {
    fn statuses(&self) -> Vec<u16> {
        self.answers.iter().map(|a| a.status).collect()
    }

    /// `200 400 |closed`.
    fn summary(&self) -> String {
        let mut out = String::new();
        for a in &self.answers {
            match a.status {
                0 => out.push_str("0.9"),
                status => {
                    let _ = write!(out, "{status}");
                }
            }
            out.push_str(if a.truncated { "* " } else { " " });
        }
        if let Some(n) = self.tunneled {
            let _ = write!(out, "+tunnel({n}B) ");
        }
        out.push('|');
        match &self.end {
            End::Closed => out.push_str("closed"),
            End::Reset => out.push_str("reset"),
            End::Idle => out.push_str("idle"),
            End::Deadline => out.push_str("DEADLINE"),
            End::Garbage(g) => {
                let _ = write!(out, "garbage: {g}");
            }
            End::Failed(e) => {
                let _ = write!(out, "failed: {e}");
            }
        }
        out
    }
}

/// One parse step over received bytes.
enum Parsed {
    More,
    /// An answer, the bytes it took, whether a tunnel follows.
    One(Answer, usize, bool),
    Bad(String),
}

/// A chunked body at the start of `buf`: the bytes it takes.
fn dechunk(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut pos = 0;
    let line = |pos: usize| -> Option<(usize, &[u8])> {
        let lf = buf[pos..].iter().position(|b| *b == b'\n')?;
        let line = &buf[pos..pos + lf];
        Some((pos + lf + 1, line.strip_suffix(b"\r").unwrap_or(line)))
    };
    loop {
        let Some((next, size_line)) = line(pos) else {
            return Ok(None);
        };
        let hex: Vec<u8> = size_line
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .copied()
            .collect();
        let size = usize::from_str_radix(&String::from_utf8_lossy(&hex), 16)
            .map_err(|_| format!("chunk size line {:?}", show(size_line, 40)))?;
        pos = next;
        if size == 0 {
            loop {
                let Some((next, trailer)) = line(pos) else {
                    return Ok(None);
                };
                pos = next;
                if trailer.is_empty() {
                    return Ok(Some(pos));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        pos += size + 2;
    }
}

/// Parses one response at the start of `buf`; `eof` once the connection
/// has ended (a body delimited by the close ends there); `bodiless` for the
/// answer to a HEAD. Bytes that do not start with `HTTP/` are an HTTP/0.9
/// answer (status 0) up to the close; its `X-Seen` is the number the
/// backend's body starts with.
fn parse_one(buf: &[u8], eof: bool, bodiless: bool) -> Parsed {
    if buf.is_empty() {
        return Parsed::More;
    }
    if !buf.starts_with(b"HTTP/") {
        if buf.len() < 5 && b"HTTP/".starts_with(buf) && !eof {
            return Parsed::More;
        }
        if !eof {
            return Parsed::More;
        }
        let digits: String = buf
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|b| char::from(*b))
            .collect();
        let answer = Answer {
            status: 0,
            seen: digits.parse().ok(),
            truncated: false,
        };
        return Parsed::One(answer, buf.len(), false);
    }
    let mut slots = vec![httparse::EMPTY_HEADER; 512];
    let mut resp = httparse::Response::new(&mut slots);
    let head = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if eof => {
            return Parsed::Bad(format!("closed inside a head: {}", show(buf, 80)))
        }
        Ok(httparse::Status::Partial) => return Parsed::More,
        Err(e) => return Parsed::Bad(format!("{e}: {}", show(buf, 80))),
    };
    let status = resp.code.unwrap_or(0);
    let values = |name: &str| -> Vec<String> {
        resp.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
            .collect()
    };
    let seen = values("x-seen").first().and_then(|v| v.parse().ok());
    let answer = |truncated| Answer {
        status,
        seen,
        truncated,
    };
    if status == 101 {
        return Parsed::One(answer(false), head, true);
    }
    if (100..200).contains(&status) || status == 204 || status == 304 || bodiless {
        return Parsed::One(answer(false), head, false);
    }
    let te = values("transfer-encoding").join(",").to_ascii_lowercase();
    let body = &buf[head..];
    if te.trim_end().ends_with("chunked") {
        return match dechunk(body) {
            Ok(Some(n)) => Parsed::One(answer(false), head + n, false),
            Ok(None) if eof => Parsed::One(answer(true), buf.len(), false),
            Ok(None) => Parsed::More,
            Err(e) => Parsed::Bad(e),
        };
    }
    let lengths = values("content-length");
    if te.is_empty() && lengths.len() == 1 {
        let Ok(n) = lengths[0].parse::<usize>() else {
            return Parsed::Bad(format!("Content-Length {:?}", lengths[0]));
        };
        return if body.len() >= n {
            Parsed::One(answer(false), head + n, false)
        } else if eof {
            Parsed::One(answer(true), buf.len(), false)
        } else {
            Parsed::More
        };
    }
    if lengths.len() > 1 {
        return Parsed::Bad(format!("several Content-Length: {lengths:?}"));
    }
    if eof {
        Parsed::One(answer(false), buf.len(), false)
    } else {
        Parsed::More
    }
}

/// Takes every complete answer off the front of `buf`; `Ok(true)` once a
/// `101` switched the connection to a tunnel. `head`: the first final
/// answer is to a HEAD.
fn take_answers(
    buf: &mut Vec<u8>,
    answers: &mut Vec<Answer>,
    eof: bool,
    head: bool,
) -> Result<bool, String> {
    loop {
        let bodiless = head && !answers.iter().any(|a| a.status >= 200);
        match parse_one(buf, eof, bodiless) {
            Parsed::More => return Ok(false),
            Parsed::Bad(why) => return Err(why),
            Parsed::One(answer, used, tunnel) => {
                buf.drain(..used);
                answers.push(answer);
                if tunnel {
                    return Ok(true);
                }
            }
        }
    }
}

/// Sends `bytes` on a fresh connection to `addr` and reads answers until
/// the connection ends or stays silent for [`IDLE`]. The write side is
/// never shut down (nginx drops a request whose client half-closes) and
/// runs beside the reading, so a proxy that answers before reading a large
/// body cannot block the case.
async fn exchange(addr: SocketAddr, bytes: Vec<u8>, head: bool) -> Exchange {
    let failed = |e: String| Exchange {
        answers: Vec::new(),
        end: End::Failed(e),
        tunneled: None,
    };
    let stream = match tokio::time::timeout(CASE_LIMIT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failed(format!("connect: {e}")),
        Err(_) => return failed("connect timed out".into()),
    };
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    // The task returns the write half, which stays open until dropped here.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes).await;
        wr
    });
    let deadline = tokio::time::Instant::now() + CASE_LIMIT;
    let mut buf = Vec::new();
    let mut answers = Vec::new();
    let mut tunneled: Option<usize> = None;
    let end = loop {
        if tunneled.is_none() {
            match take_answers(&mut buf, &mut answers, false, head) {
                Ok(true) => tunneled = Some(0),
                Ok(false) => {}
                Err(why) => break End::Garbage(why),
            }
        }
        if let Some(n) = tunneled.as_mut() {
            *n += buf.len();
            buf.clear();
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break End::Deadline;
        }
        let wait = IDLE.min(deadline - now);
        match tokio::time::timeout(wait, rd.read_buf(&mut buf)).await {
            Err(_) if tokio::time::Instant::now() >= deadline => break End::Deadline,
            Err(_) => break End::Idle,
            Ok(Ok(0)) => {
                if tunneled.is_none() {
                    if let Err(why) = take_answers(&mut buf, &mut answers, true, head) {
                        break End::Garbage(why);
                    }
                }
                break End::Closed;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => break End::Reset,
            Ok(Err(e)) => break End::Failed(e.to_string()),
        }
    };
    writer.abort();
    Exchange {
        answers,
        end,
        tunneled,
    }
}

// ------------------------------------------------------------ the runs

/// How the proxies speak to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Variant {
    /// `proxy_http_version 1.1`, `keepalive 8`, WebSocket headers passed.
    Http11,
    /// nginx's default: HTTP/1.0, a connection per request.
    Http10,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Http11 => "1.1",
            Variant::Http10 => "1.0",
        }
    }
}

/// A backend and the proxy listener in front of it; runs one case at a
/// time, so that what the backend records between marks is the case's.
struct Slot {
    variant: Variant,
    backend: RawBackend,
    listen: SocketAddr,
    upstream: String,
}

impl Slot {
    fn strictness(&self) -> Strictness {
        self.backend.strictness()
    }

    /// `1.1/strict`.
    fn label(&self) -> String {
        format!("{}/{}", self.variant.label(), self.strictness())
    }
}

/// The http-context config text both proxies run: per slot, an upstream
/// with its backend and a server whose `/forbidden` answers 403 and whose
/// `/` proxies.
fn config(slots: &[Slot]) -> String {
    let mut out =
        String::from("  map $http_upgrade $connection_upgrade { default upgrade; \"\" \"\"; }\n");
    for slot in slots {
        let (keepalive, location) = match slot.variant {
            Variant::Http11 => (
                "keepalive 8; ",
                "proxy_http_version 1.1;\n      proxy_set_header Upgrade $http_upgrade;\n      \
                 proxy_set_header Connection $connection_upgrade;\n",
            ),
            Variant::Http10 => ("", ""),
        };
        let _ = write!(
            out,
            "  upstream {name} {{ server {backend}; {keepalive}}}\n  server {{\n    listen {listen};\n    \
             location = /forbidden {{ return 403; }}\n    location / {{\n      proxy_pass http://{name};\n      \
             {location}    }}\n  }}\n",
            name = slot.upstream,
            backend = slot.backend.addr(),
            listen = slot.listen,
        );
    }
    out
}

/// One case through one slot.
#[derive(Debug, Clone)]
struct Run {
    exchange: Exchange,
    /// What the backend recorded during the exchange.
    events: Vec<Seen>,
    /// Events after the exchange that were not the liveness probe's.
    late: Vec<Seen>,
    /// Whether a plain GET was answered after the case.
    alive: Result<(), String>,
}

async fn run_case(slot: &Slot, case: &Case) -> Run {
    let mark = slot.backend.mark();
    let exchange = exchange(slot.listen, case.bytes.clone(), case.head).await;
    slot.backend.settle(SETTLE).await;
    let events = slot.backend.since(mark);
    let mark = slot.backend.mark();
    let probe = exchange_alive(slot.listen).await;
    slot.backend.settle(SETTLE).await;
    let after = slot.backend.since(mark);
    let probe_seen = probe.answers.first().and_then(|a| a.seen);
    let alive = match probe.answers.first() {
        Some(a) if a.status == 200 && a.seen.is_some() => Ok(()),
        _ => Err(format!(
            "a plain GET after the case got {}",
            probe.summary()
        )),
    };
    let late = after
        .into_iter()
        .filter(|e| e.number().is_none() || e.number() != probe_seen)
        .filter(|e| !matches!(e, Seen::Aborted { .. }))
        .collect();
    Run {
        exchange,
        events,
        late,
        alive,
    }
}

async fn exchange_alive(addr: SocketAddr) -> Exchange {
    exchange(addr, ALIVE.as_bytes().to_vec(), false).await
}

type Results = HashMap<(usize, usize), Run>;

/// Runs every case through every slot: the slots of one (variant,
/// backend) pair share a queue of the cases and run at once.
async fn run_all(slots: &[Slot], cases: &[Case]) -> Results {
    let results = Mutex::new(Results::new());
    let mut groups: BTreeMap<(Variant, String), Vec<usize>> = BTreeMap::new();
    for (i, slot) in slots.iter().enumerate() {
        groups
            .entry((slot.variant, slot.strictness().to_string()))
            .or_default()
            .push(i);
    }
    // A run is stored under (case, first slot of its group).
    let mut lanes = Vec::new();
    for members in groups.values() {
        let queue = std::sync::Arc::new(Mutex::new((0..cases.len()).collect::<VecDeque<_>>()));
        let group = members[0];
        for &i in members {
            let queue = queue.clone();
            let results = &results;
            lanes.push(async move {
                loop {
                    let next = queue.lock().unwrap().pop_front();
                    let Some(case) = next else { break };
                    let run = run_case(&slots[i], &cases[case]).await;
                    results.lock().unwrap().insert((case, group), run);
                }
            });
        }
    }
    futures_util::future::join_all(lanes).await;
    results.into_inner().unwrap()
}

// ------------------------------------------------------------ properties

/// Properties 1-3 of one run: what is wrong, one line each.
fn properties(run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let numbered: Vec<&Seen> = run.events.iter().filter(|e| e.number().is_some()).collect();
    let mut cursor = 0;
    let mut unanswered: Vec<&Seen> = Vec::new();
    for answer in &run.exchange.answers {
        match answer.seen {
            Some(n) => match numbered[cursor..]
                .iter()
                .position(|e| e.number() == Some(n))
            {
                Some(i) => {
                    unanswered.extend(&numbered[cursor..cursor + i]);
                    cursor += i + 1;
                }
                None => problems.push(format!(
                    "P1 an answer carries X-Seen {n}, which is not the backend's next request"
                )),
            },
            // The proxy's own 502 for a request the backend answered badly
            // (sent again, as nginx does on a reused connection, it is
            // still one request).
            None if answer.status >= 500 => {
                if let Some(target) = numbered
                    .get(cursor)
                    .and_then(|e| e.target())
                    .filter(|t| t.starts_with("/resp/"))
                {
                    while numbered.get(cursor).and_then(|e| e.target()) == Some(target) {
                        cursor += 1;
                    }
                }
            }
            None => {}
        }
    }
    // A proxy may also give up on a broken answer by closing.
    let ended = !matches!(run.exchange.end, End::Idle | End::Deadline);
    if ended
        && numbered
            .get(cursor)
            .and_then(|e| e.target())
            .is_some_and(|t| t.starts_with("/resp/"))
    {
        cursor += 1;
    }
    unanswered.extend(&numbered[cursor..]);
    let out_of_step = !unanswered.is_empty();
    for event in unanswered {
        if let Seen::Request { .. } = event {
            problems.push(format!(
                "P1 backend framed a request no answer accounts for: {event}"
            ));
        }
    }
    for event in &run.events {
        match event {
            Seen::Rejected { .. } => problems.push(format!(
                "P1 the backend had to refuse what the proxy sent: {event}"
            )),
            Seen::Request { request, .. }
                if out_of_step && request.target.contains("/smuggled") =>
            {
                problems.push(format!(
                    "P2 SMUGGLED: {event} framed while proxy and backend disagree on boundaries"
                ))
            }
            Seen::Stuck { .. } => problems.push(format!(
                "P1 backend still waited for the rest of a message after the case: {event}"
            )),
            Seen::Request { request, .. } if request.target.contains("/forbidden") => {
                problems.push(format!("P2 past `location = /forbidden`: {event}"))
            }
            _ => {}
        }
    }
    for event in &run.late {
        problems.push(format!("P1 backend event after the case ended: {event}"));
    }
    if run.exchange.end == End::Deadline {
        problems.push(format!(
            "P3 still sending after {CASE_LIMIT:?}: {}",
            run.exchange.summary()
        ));
    }
    if let End::Failed(e) = &run.exchange.end {
        problems.push(format!("P3 the connection failed: {e}"));
    }
    if let Err(why) = &run.alive {
        problems.push(format!("P3 {why}"));
    }
    problems
}

fn events_line(events: &[Seen]) -> String {
    if events.is_empty() {
        return "(nothing)".into();
    }
    events
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_framing_matches_nginx_and_smuggles_nothing() {
    bounded(Duration::from_secs(240), async {
        let started = Instant::now();
        let cases = cases();
        let differences: HashMap<&str, &str> = DIFFERENCES.iter().copied().collect();
        for name in differences.keys() {
            assert!(
                cases.iter().any(|c| c.name == *name),
                "DIFFERENCES names {name}, which is no case"
            );
        }
        let mut slots = Vec::new();
        for variant in [Variant::Http11, Variant::Http10] {
            for strictness in [Strictness::Strict, Strictness::Lenient] {
                for lane in 0..LANES {
                    slots.push(Slot {
                        variant,
                        backend: RawBackend::start(strictness).await,
                        listen: free_addr(),
                        upstream: format!(
                            "v{}_{strictness}_{lane}",
                            variant.label().replace('.', "")
                        ),
                    });
                }
            }
        }
        let text = config(&slots);
        let via_nginx = {
            let nginx = Nginx::start_http_on(slots[0].listen, &text).await;
            for slot in &slots {
                until("nginx to listen", Duration::from_secs(10), || {
                    accepts(slot.listen)
                })
                .await;
            }
            let _ = nginx.addr();
            run_all(&slots, &cases).await
        };
        let nginx_took = started.elapsed();
        let via_edge = {
            let mut files = EdgeFiles::new();
            files.listen = slots[0].listen;
            let edge = ConfEdge::start_main(files, &text).await;
            for slot in &slots {
                until("the edge to listen", Duration::from_secs(10), || {
                    accepts(slot.listen)
                })
                .await;
            }
            let results = run_all(&slots, &cases).await;
            drop(edge);
            results
        };
        println!(
            "{} cases x {} runs per proxy; nginx phase {:?}, total {:?}",
            cases.len(),
            via_nginx.len() / cases.len(),
            nginx_took,
            started.elapsed()
        );

        let groups: Vec<usize> = {
            let mut firsts = Vec::new();
            for (i, slot) in slots.iter().enumerate() {
                if !slots[..i]
                    .iter()
                    .any(|s| s.variant == slot.variant && s.strictness() == slot.strictness())
                {
                    firsts.push(i);
                }
            }
            firsts
        };
        let mut failures = Vec::new();
        let mut nginx_notes = Vec::new();
        let mut table = String::new();
        let mut still_listed = Vec::new();
        for (ci, case) in cases.iter().enumerate() {
            let runs: Vec<(String, &Run, &Run)> = groups
                .iter()
                .map(|&g| (slots[g].label(), &via_edge[&(ci, g)], &via_nginx[&(ci, g)]))
                .collect();
            let listed = differences.contains_key(case.name.as_str());
            let verdict = judge(&runs, listed);
            let nginx_row: Vec<String> = runs
                .iter()
                .map(|(label, _, nginx)| format!("{label}={}", nginx.exchange.summary()))
                .collect();
            let _ = writeln!(table, "{}: {}", case.name, normalize(&collapse(&nginx_row)));
            for (label, _, nginx) in &runs {
                for p in properties(nginx) {
                    nginx_notes.push(format!("{} [{label}]: {p}", case.name));
                }
            }
            if listed && !verdict.differs {
                still_listed.push(case.name.clone());
            }
            if let Some(report) = verdict.report {
                failures.push(format!("{}\n{report}", case.name));
            }
        }
        println!("nginx's answers (live):\n{table}");
        if let Some(path) = std::env::var_os("HTTP1_DIFF_NGINX_TABLE") {
            std::fs::write(&path, &table).expect("write the nginx table");
        }
        if !nginx_notes.is_empty() {
            println!(
                "nginx itself breaks a property in {} runs (informative):\n{}",
                nginx_notes.len(),
                nginx_notes.join("\n")
            );
        }
        if !still_listed.is_empty() {
            println!(
                "listed in DIFFERENCES but now answered as nginx: {}",
                still_listed.join(", ")
            );
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases fail (edge vs nginx, [upstream/backend], `*` = truncated body):\n{}",
            failures.len(),
            cases.len(),
            failures.join("")
        );
    })
    .await;
}

/// What one case came to over its runs.
struct Verdict {
    /// Whether the edge's statuses differ from nginx's in some run.
    differs: bool,
    /// The failing runs, grouped where they failed alike; `None` if none.
    report: Option<String>,
}

/// Checks the edge's runs of one case, each `(label, edge, nginx)`:
/// properties 1-3, and property 4 unless the case is `listed` in
/// [`DIFFERENCES`].
fn judge(runs: &[(String, &Run, &Run)], listed: bool) -> Verdict {
    let mut differs = false;
    // (normalised key, labels, text of the first run with that key)
    let mut groups: Vec<(String, Vec<String>, String)> = Vec::new();
    for (label, edge, nginx) in runs {
        let mut problems = properties(edge);
        let same = edge.exchange.statuses() == nginx.exchange.statuses();
        differs |= !same;
        if !same {
            if edge.exchange.answers.is_empty()
                && edge.exchange.end == End::Idle
                && !nginx.exchange.answers.is_empty()
            {
                problems.push("P3 the edge neither answered nor closed; nginx answered".into());
            }
            if !listed {
                problems.push("P4 statuses differ from nginx's".into());
            }
        }
        if problems.is_empty() {
            continue;
        }
        let head = format!(
            "edge: {}  nginx: {}",
            edge.exchange.summary(),
            nginx.exchange.summary()
        );
        let mut text = head.clone();
        let only_p4 = problems.iter().all(|p| p.starts_with("P4"));
        if only_p4 {
            text.push_str("  (P4)\n");
        } else {
            let _ = writeln!(
                text,
                "\n    edge's backend:  {}\n    nginx's backend: {}",
                events_line(&edge.events),
                events_line(&nginx.events)
            );
            for p in &problems {
                let _ = writeln!(text, "    - {p}");
            }
        }
        let key = normalize(&format!("{head}{problems:?}"));
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, labels, _)) => labels.push(label.clone()),
            None => groups.push((key, vec![label.clone()], text)),
        }
    }
    let report = (!groups.is_empty()).then(|| {
        groups
            .iter()
            .map(|(_, labels, text)| format!("  [{}] {text}", labels.join(", ")))
            .collect::<String>()
    });
    Verdict { differs, report }
}

/// `text` with event and connection numbers (`#12`, `@c3`, `X-Seen: 12`)
/// replaced by `N`, so that runs failing alike compare equal.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut numbered = false;
    for ch in text.chars() {
        if numbered && ch.is_ascii_digit() {
            continue;
        }
        if numbered {
            out.push('N');
        }
        out.push(ch);
        numbered = ch == '#' || out.ends_with("@c") || out.ends_with("Seen: ");
    }
    out
}

/// A row of `label=summary` entries, as one summary when all agree.
fn collapse(row: &[String]) -> String {
    let summaries: Vec<&str> = row
        .iter()
        .map(|e| e.split_once('=').map_or("", |(_, s)| s))
        .collect();
    if summaries.iter().all(|s| *s == summaries[0]) {
        summaries[0].to_string()
    } else {
        row.join("  ")
    }
}
