//! A small HTTP/1.1 client, written for the tests rather than taken from a
//! library, because the tests need what general clients hide: choosing the
//! source address of the socket (127.a.b.c, so that `ip_hash` sees many
//! clients from one machine), sending arbitrary header lines, and sending raw
//! bytes that are not HTTP at all.
//!
//! [`Request`] makes one request per connection (`Connection: close`), so
//! every request is an independent client as far as the proxy is concerned.
//! [`Conn`] is the other way round: one connection driven by hand, for what
//! happens between requests (keep-alive, pipelining, `100 Continue`, HEAD,
//! when the proxy closes), every read bounded by [`READ_LIMIT`].

use serde_json::Value;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected a JSON body ({e}); status {}: {}",
                self.status,
                self.text()
            )
        })
    }

    /// The name of the test backend that answered (see [`crate::backend`]).
    pub fn backend(&self) -> String {
        match self.json().get("name").and_then(Value::as_str) {
            Some(name) => name.to_string(),
            None => panic!("not a test backend's answer: {}", self.text()),
        }
    }

    /// Every value of request header `name` as the answering backend received it.
    pub fn received_header(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        let json = self.json();
        let headers = json["headers"].as_array().cloned().unwrap_or_default();
        headers
            .iter()
            .filter(|pair| pair[0].as_str() == Some(name.as_str()))
            .filter_map(|pair| pair[1].as_str().map(str::to_string))
            .collect()
    }
}

/// A request to send; build it, then [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    target: SocketAddr,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    source: Option<IpAddr>,
    body: Vec<u8>,
}

impl Request {
    /// `GET path` to `target`, with `Host: localhost`.
    pub fn get(target: SocketAddr, path: &str) -> Request {
        Request {
            target,
            method: "GET".to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            source: None,
            body: Vec::new(),
        }
    }

    /// Sets the method.
    pub fn method(mut self, method: &str) -> Request {
        self.method = method.to_string();
        self
    }

    /// Adds a header line (a `Host` given here replaces the default one).
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sends `body` with its `Content-Length`.
    pub fn body(mut self, body: &[u8]) -> Request {
        self.headers
            .push(("Content-Length".to_string(), body.len().to_string()));
        self.body = body.to_vec();
        self
    }

    /// Sends from this local address (any of 127.0.0.0/8 works on Linux).
    pub fn from_ip(mut self, ip: IpAddr) -> Request {
        self.source = Some(ip);
        self
    }

    /// The request's bytes.
    fn encode(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        if !self
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            head.push_str("Host: localhost\r\n");
        }
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Connects, sends, and reads the whole response.
    pub async fn send(&self) -> io::Result<Response> {
        let stream = connect(self.target, self.source).await?;
        exchange(stream, &self.encode()).await
    }
}

/// Sends `n` GETs for `/` one after another and returns which backend
/// answered each; panics on any error or non-200 answer.
pub async fn backend_sequence(target: SocketAddr, n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let resp = Request::get(target, "/")
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} to {target}: {e}"));
        assert_eq!(resp.status, 200, "request {i} to {target}: {}", resp.text());
        names.push(resp.backend());
    }
    names
}

/// `n` distinct client addresses in 127.0.0.0/8 whose first three octets
/// also differ (ip_hash keys on those): 127.a.b.c with (a, b) unique.
pub fn client_ips(n: usize) -> Vec<IpAddr> {
    assert!(
        n <= 250 * 200,
        "at most 50000 distinct /24 prefixes are generated"
    );
    (0..n)
        .map(|i| {
            let a = 1 + i / 200;
            let b = i % 200;
            let c = 1 + (i * 37) % 250;
            IpAddr::from([127, a as u8, b as u8, c as u8])
        })
        .collect()
}

/// For each client address, the backend that answered a GET for `/` sent
/// from it (32 clients at a time); panics on any error or non-200 answer.
pub async fn backend_per_client(target: SocketAddr, clients: &[IpAddr]) -> Vec<String> {
    use futures_util::stream::{self, StreamExt};
    stream::iter(clients.iter().copied())
        .map(|ip| async move {
            let resp = Request::get(target, "/")
                .from_ip(ip)
                .send()
                .await
                .unwrap_or_else(|e| panic!("request from {ip} to {target}: {e}"));
            assert_eq!(
                resp.status,
                200,
                "request from {ip} to {target}: {}",
                resp.text()
            );
            resp.backend()
        })
        .buffered(32)
        .collect()
        .await
}

/// A TCP connection to `target`, from `source` if given.
pub async fn connect(target: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(target).await;
    };
    let socket = match ip {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(target).await
}

/// Sends `bytes` as they are (garbage included) and reads one response.
pub async fn raw(target: SocketAddr, bytes: &[u8]) -> io::Result<Response> {
    exchange(TcpStream::connect(target).await?, bytes).await
}

async fn exchange(mut stream: TcpStream, bytes: &[u8]) -> io::Result<Response> {
    stream.write_all(bytes).await?;
    read_response(&mut stream).await
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads one response: head, then a body delimited by Content-Length,
/// chunked encoding, or the end of the connection.
pub async fn read_response(stream: &mut TcpStream) -> io::Result<Response> {
    let mut reader = Reader {
        stream,
        buf: Vec::with_capacity(4096),
        limit: None,
    };
    reader.message(false).await
}

/// How long each read of a [`Conn`] may wait for bytes.
pub const READ_LIMIT: Duration = Duration::from_secs(10);

/// One client connection driven by hand: send any bytes, read responses one
/// at a time. Bytes read past a response stay buffered for the next one, so
/// pipelined and keep-alive responses come out one by one. Every read gives
/// up after [`READ_LIMIT`] with an error that shows what had arrived.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `target`.
    pub async fn open(target: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(target).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    fn reader(&mut self) -> Reader<'_> {
        Reader {
            stream: &mut self.stream,
            buf: std::mem::take(&mut self.buf),
            limit: Some(READ_LIMIT),
        }
    }

    /// Reads the next response, interim ones (`100 Continue`) included: a
    /// 1xx, 204 or 304 has no body, others are delimited by Content-Length,
    /// chunked encoding (trailers read and dropped) or the connection's end.
    pub async fn response(&mut self) -> io::Result<Response> {
        self.read(false).await
    }

    /// Reads the next response as the answer to a `HEAD`: a head only,
    /// whatever its Content-Length or Transfer-Encoding say.
    pub async fn head_response(&mut self) -> io::Result<Response> {
        self.read(true).await
    }

    async fn read(&mut self, bodiless: bool) -> io::Result<Response> {
        let mut reader = self.reader();
        let result = reader.message(bodiless).await;
        self.buf = reader.buf;
        result
    }

    /// Waits until the peer closes the connection and returns the bytes
    /// that arrived before the end (buffered ones included); a reset counts
    /// as a close. An error if the connection is still open after
    /// [`READ_LIMIT`].
    pub async fn closed(&mut self) -> io::Result<Vec<u8>> {
        let mut reader = self.reader();
        let result = loop {
            match reader.fill().await {
                Ok(0) => break Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let rest = std::mem::take(&mut reader.buf);
        result.map(|()| rest)
    }
}

/// Reads messages from a stream through a buffer that keeps what follows
/// the message read.
struct Reader<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
    /// A bound on each read.
    limit: Option<Duration>,
}

impl Reader<'_> {
    /// Reads more bytes into the buffer; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        let read = self.stream.read_buf(&mut self.buf);
        let Some(limit) = self.limit else {
            return read.await;
        };
        match tokio::time::timeout(limit, read).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "nothing more arrived within {limit:?}; {} bytes pending: {:?}",
                    self.buf.len(),
                    String::from_utf8_lossy(&self.buf[..self.buf.len().min(2048)])
                ),
            )),
        }
    }

    /// Reads one response; `bodiless` for the answer to a HEAD.
    async fn message(&mut self, bodiless: bool) -> io::Result<Response> {
        let (status, headers) = self.head().await?;
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let chunked =
            find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body = if bodiless || status == 204 || status == 304 || (100..200).contains(&status) {
            Vec::new()
        } else if chunked {
            self.chunked().await?
        } else if let Some(len) = find("content-length") {
            let len: usize = len.trim().parse().map_err(|_| bad("bad content-length"))?;
            while self.buf.len() < len {
                if self.fill().await? == 0 {
                    return Err(bad(format!(
                        "body ended at {} of {len} bytes",
                        self.buf.len()
                    )));
                }
            }
            self.buf.drain(..len).collect()
        } else {
            while self.fill().await? > 0 {}
            std::mem::take(&mut self.buf)
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Reads and consumes a response head: the status and header lines.
    async fn head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        loop {
            if !self.buf.is_empty() {
                let mut slots = [httparse::EMPTY_HEADER; 64];
                let mut parsed = httparse::Response::new(&mut slots);
                let status = parsed.parse(&self.buf).map_err(|e| {
                    bad(format!(
                        "{e} in a response head: {:?}",
                        String::from_utf8_lossy(&self.buf[..self.buf.len().min(2048)])
                    ))
                })?;
                if let httparse::Status::Complete(n) = status {
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            let value = String::from_utf8_lossy(h.value).into_owned();
                            (h.name.to_ascii_lowercase(), value)
                        })
                        .collect::<Vec<_>>();
                    let code = parsed.code.unwrap_or(0);
                    self.buf.drain(..n);
                    return Ok((code, headers));
                }
            }
            if self.fill().await? == 0 {
                return Err(bad(format!(
                    "connection closed before a complete response head ({} bytes: {:?})",
                    self.buf.len(),
                    String::from_utf8_lossy(&self.buf)
                )));
            }
        }
    }

    /// Consumes one CRLF-terminated line and returns it without the CRLF.
    async fn line(&mut self, what: &str) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(bad(format!("the connection ended inside {what}")));
            }
        }
    }

    /// Decodes a chunked body, consuming its trailer section too.
    async fn chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let size_line = self.line("a chunk size line").await?;
            let size_text = String::from_utf8_lossy(&size_line).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| bad(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                while !self.line("the trailer section").await?.is_empty() {}
                return Ok(body);
            }
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err(bad("chunk ended early"));
                }
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(bad(format!("chunk of {size} bytes not followed by CRLF")));
            }
            body.extend(self.buf.drain(..size + 2).take(size));
        }
    }
}
