//! A small HTTP/1.1 client, written for the tests rather than taken from a
//! library, because the tests need what general clients hide: choosing the
//! source address of the socket (127.a.b.c, so that `ip_hash` sees many
//! clients from one machine), sending arbitrary header lines, and sending raw
//! bytes that are not HTTP at all.
//!
//! One request per connection (`Connection: close`), so every request is an
//! independent client as far as the proxy is concerned.

use serde_json::Value;
use std::io;
use std::net::{IpAddr, SocketAddr};
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
        head.into_bytes()
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
    let mut buf = Vec::with_capacity(4096);
    let (status, headers, head_len) = loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(bad(format!(
                "connection closed before a complete response head ({} bytes: {:?})",
                buf.len(),
                String::from_utf8_lossy(&buf)
            )));
        }
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut slots);
        if let httparse::Status::Complete(n) = parsed.parse(&buf).map_err(|e| bad(e.to_string()))? {
            let headers = parsed
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).into_owned();
                    (h.name.to_ascii_lowercase(), value)
                })
                .collect::<Vec<_>>();
            break (parsed.code.unwrap_or(0), headers, n);
        }
    };
    let mut body = buf.split_off(head_len);
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let chunked =
        find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        body = read_chunked(stream, body).await?;
    } else if let Some(len) = find("content-length") {
        let len: usize = len.trim().parse().map_err(|_| bad("bad content-length"))?;
        while body.len() < len {
            if stream.read_buf(&mut body).await? == 0 {
                return Err(bad(format!("body ended at {} of {len} bytes", body.len())));
            }
        }
        body.truncate(len);
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        stream.read_to_end(&mut body).await?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Decodes a chunked body; `pending` holds bytes already read past the head.
async fn read_chunked(stream: &mut TcpStream, mut pending: Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if stream.read_buf(&mut pending).await? == 0 {
                return Err(bad("chunked body ended early"));
            }
        };
        let size_text = String::from_utf8_lossy(&pending[..line_end]).into_owned();
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| bad(format!("bad chunk size {size_text:?}")))?;
        pending.drain(..line_end + 2);
        if size == 0 {
            return Ok(body);
        }
        while pending.len() < size + 2 {
            if stream.read_buf(&mut pending).await? == 0 {
                return Err(bad("chunk ended early"));
            }
        }
        body.extend_from_slice(&pending[..size]);
        pending.drain(..size + 2);
    }
}
