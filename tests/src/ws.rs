//! A WebSocket client for tunnels through the edge, with every receive
//! bounded in time so a tunnel that silently died fails the test quickly.

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long one message may take to arrive.
const RECV_LIMIT: Duration = Duration::from_secs(5);

/// An open WebSocket to a test backend (see [`crate::backend`]).
#[derive(Debug)]
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The backend that greeted us (`hello NAME`).
    pub backend: String,
}

impl WsClient {
    /// Opens `ws://addr/ws` and reads the backend's greeting.
    pub async fn connect(addr: SocketAddr) -> WsClient {
        let url = format!("ws://{addr}/ws");
        let (stream, resp) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("WebSocket handshake with {url}: {e}"));
        assert_eq!(resp.status(), 101, "upgrade answer: {resp:?}");
        let mut client = WsClient {
            stream,
            backend: String::new(),
        };
        let hello = client.recv_text().await;
        client.backend = match hello.strip_prefix("hello ") {
            Some(name) => name.to_string(),
            None => panic!("expected the backend's greeting, got {hello:?}"),
        };
        client
    }

    /// Sends a message.
    pub async fn send(&mut self, msg: Message) {
        self.stream
            .send(msg)
            .await
            .unwrap_or_else(|e| panic!("WebSocket send: {e}"));
    }

    /// The next data message (control frames skipped).
    pub async fn recv(&mut self) -> Message {
        loop {
            let next = tokio::time::timeout(RECV_LIMIT, self.stream.next()).await;
            match next {
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(msg))) => return msg,
                Ok(Some(Err(e))) => panic!("WebSocket receive: {e}"),
                Ok(None) => panic!("WebSocket closed while a message was expected"),
                Err(_) => panic!("no WebSocket message within {RECV_LIMIT:?}"),
            }
        }
    }

    /// The next message, which must be text.
    pub async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Message::Text(t) => t.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Sends `text` and returns the echo.
    pub async fn echo(&mut self, text: &str) -> String {
        self.send(Message::text(text)).await;
        self.recv_text().await
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
