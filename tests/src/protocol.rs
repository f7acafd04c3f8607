//! An OpenClaw protocol v4 client for tests: raw frames when a test needs to
//! misbehave, and `hello` / `call` / `event` when it needs a well-behaved one.
//! Events that arrive while a response is awaited are kept for later reads.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one frame may take to arrive.
const FRAME_LIMIT: Duration = Duration::from_secs(10);

/// The `client` block the official CLI sends (recorded): mode `cli`, which
/// gateways leave out of presence.
pub fn cli_client() -> Value {
    json!({"id": "cli", "version": "2026.9.6", "platform": "linux", "deviceFamily": "Linux",
           "mode": "cli", "instanceId": "45e0f912-9784-45e1-abf6-2af40088a6b7"})
}

/// The `client` block of `openclaw tui` (mode `ui`: listed in presence).
pub fn tui_client(instance_id: &str) -> Value {
    json!({"id": "openclaw-tui", "version": "2026.9.6", "platform": "linux", "mode": "ui",
           "instanceId": instance_id})
}

/// The `connect` params the official CLI sends (recorded), with `token` and `scopes`.
pub fn connect_params(token: &str, scopes: &[&str]) -> Value {
    json!({
        "minProtocol": 4, "maxProtocol": 4,
        "client": cli_client(),
        "caps": [], "auth": {"token": token}, "role": "operator", "scopes": scopes,
    })
}

/// An upgrade that got an HTTP answer instead of a 101 (status 0: no
/// answer at all, with the error as the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

impl Refused {
    /// A connection that failed below HTTP.
    pub fn transport(error: &str) -> Refused {
        Refused {
            status: 0,
            body: error.to_string(),
        }
    }
}

/// The upgrade request for `url` with extra headers.
fn upgrade_request(
    url: &str,
    headers: &[(&str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderName;
    let mut request = url.into_client_request().expect("valid ws url");
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    request
}

/// One protocol connection.
pub struct ProtoClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    events: VecDeque<Value>,
    next_id: u64,
    /// The `connect.challenge` payload.
    pub challenge: Value,
    /// Response headers of the upgrade (the edge's sticky cookie is there).
    pub upgrade_headers: Vec<(String, String)>,
}

/// How a connection ended.
#[derive(Debug, PartialEq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl ProtoClient {
    /// Opens `url` (e.g. `ws://127.0.0.1:PORT`) and reads the challenge.
    pub async fn open(url: &str) -> ProtoClient {
        ProtoClient::open_with(url, None).await
    }

    /// Opens `url` sending `cookie`, and reads the challenge.
    pub async fn open_with(url: &str, cookie: Option<&str>) -> ProtoClient {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        ProtoClient::open_with_headers(url, &headers).await
    }

    /// Opens `url` sending these extra upgrade headers (`Origin`, `cookie`),
    /// and reads the challenge.
    pub async fn open_with_headers(url: &str, headers: &[(&str, &str)]) -> ProtoClient {
        let request = upgrade_request(url, headers);
        let (ws, resp) =
            tokio::time::timeout(FRAME_LIMIT, tokio_tungstenite::connect_async(request))
                .await
                .unwrap_or_else(|_| {
                    panic!("no WebSocket upgrade from {url} within {FRAME_LIMIT:?}")
                })
                .unwrap_or_else(|e| panic!("WebSocket upgrade with {url}: {e}"));
        ProtoClient::upgraded(ws, &resp).await
    }

    /// Opens the protocol over a connection made elsewhere (from inside a
    /// network namespace): the client after the challenge, or how the
    /// upgrade was refused.
    pub async fn over(
        stream: TcpStream,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<ProtoClient, Refused> {
        use tokio_tungstenite::tungstenite::Error;
        let request = upgrade_request(url, headers);
        let upgrade = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream));
        match tokio::time::timeout(FRAME_LIMIT, upgrade).await {
            Err(_) => Err(Refused::transport("no upgrade answer in time")),
            Ok(Ok((ws, resp))) => Ok(ProtoClient::upgraded(ws, &resp).await),
            Ok(Err(Error::Http(resp))) => Err(Refused {
                status: resp.status().as_u16(),
                body: String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default())
                    .into_owned(),
            }),
            Ok(Err(e)) => Err(Refused::transport(&e.to_string())),
        }
    }

    /// After the 101: reads the challenge.
    async fn upgraded(
        ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
        resp: &tokio_tungstenite::tungstenite::handshake::client::Response,
    ) -> ProtoClient {
        let upgrade_headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut c = ProtoClient {
            ws,
            events: VecDeque::new(),
            next_id: 1,
            challenge: Value::Null,
            upgrade_headers,
        };
        let first = c.frame().await.expect("the challenge, not a close");
        assert_eq!(first["event"], "connect.challenge", "first frame: {first}");
        c.challenge = first["payload"].clone();
        c
    }

    /// Opens `url` and completes `connect` with `token` and every operator scope.
    pub async fn hello(url: &str, token: &str) -> (ProtoClient, Value) {
        ProtoClient::hello_as(url, token, cli_client()).await
    }

    /// [`ProtoClient::hello`] as another client (`client` block of `connect`).
    pub async fn hello_as(url: &str, token: &str, client: Value) -> (ProtoClient, Value) {
        let mut c = ProtoClient::open(url).await;
        let mut params = connect_params(
            token,
            &["operator.admin", "operator.read", "operator.write"],
        );
        params["client"] = client;
        let hello = c
            .call("connect", params)
            .await
            .unwrap_or_else(|e| panic!("connect refused: {e}"));
        assert_eq!(hello["type"], "hello-ok", "{hello}");
        (c, hello)
    }

    /// Sends a Close frame with `code` and returns the server's answer: its
    /// Close frame, or code 1006 if it dropped the connection without one.
    pub async fn close_with(&mut self, code: u16) -> Closed {
        use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        self.ws
            .send(Message::Close(Some(frame)))
            .await
            .expect("WebSocket close");
        loop {
            match self.frame().await {
                Ok(_) => continue,
                Err(closed) => return closed,
            }
        }
    }

    /// Sends a text frame as is.
    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .expect("WebSocket send");
    }

    /// The next frame, or how the connection closed.
    pub async fn frame(&mut self) -> Result<Value, Closed> {
        loop {
            let next = tokio::time::timeout(FRAME_LIMIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no frame within {FRAME_LIMIT:?}"));
            return match next {
                Some(Ok(Message::Text(t))) => {
                    Ok(serde_json::from_str(t.as_str()).expect("frames are JSON"))
                }
                Some(Ok(Message::Close(f))) => Err(Closed {
                    code: f.as_ref().map(|f| u16::from(f.code)).unwrap_or(1005),
                    reason: f.map(|f| f.reason.to_string()).unwrap_or_default(),
                }),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Err(Closed {
                    code: 1006,
                    reason: e.to_string(),
                }),
                None => Err(Closed {
                    code: 1006,
                    reason: "end of stream".into(),
                }),
            };
        }
    }

    /// Sends a request and waits for its response: `Ok(payload)` or `Err(error)`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = format!("{}:{method}", self.next_id);
        self.next_id += 1;
        let req = json!({"type": "req", "id": id, "method": method, "params": params});
        self.send_text(&req.to_string()).await;
        self.response(&id).await
    }

    /// Waits for the response with `id`, keeping events for later.
    pub async fn response(&mut self, id: &str) -> Result<Value, Value> {
        loop {
            let f = self
                .frame()
                .await
                .unwrap_or_else(|c| panic!("closed while awaiting {id}: {c:?}"));
            if f["type"] == "res" && f["id"] == id {
                return if f["ok"] == true {
                    Ok(f["payload"].clone())
                } else {
                    Err(f["error"].clone())
                };
            }
            assert_eq!(f["type"], "event", "unexpected frame: {f}");
            self.events.push_back(f);
        }
    }

    /// The next event frame named `name` that satisfies `pred`; other events are dropped.
    pub async fn event(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let f = match self.events.pop_front() {
                Some(f) => f,
                None => self
                    .frame()
                    .await
                    .unwrap_or_else(|c| panic!("closed while awaiting event {name}: {c:?}")),
            };
            if f["type"] == "event" && f["event"] == name && pred(&f["payload"]) {
                return f;
            }
        }
    }

    /// The error frame and close a refused client gets.
    pub async fn refused(&mut self) -> (Value, Closed) {
        let f = self.frame().await.expect("an error frame before the close");
        assert_eq!(
            (f["type"].as_str(), f["ok"].as_bool()),
            (Some("res"), Some(false)),
            "{f}"
        );
        let closed = loop {
            match self.frame().await {
                Err(c) => break c,
                Ok(f) => assert_eq!(f["type"], "event", "after the error: {f}"),
            }
        };
        (f, closed)
    }
}
