//! A WebSocket (any `101 Switching Protocols`) tunnel: bytes both ways
//! until either side closes, or both stay silent for the idle limit.

use super::downstream::Downstream;
use super::upstream::UpConn;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHUNK: usize = 16 * 1024;

/// Relays between the client and the server. Bytes the client sent after
/// its upgrade request go to the server first.
pub async fn run(down: &mut Downstream, up: &mut UpConn, idle: Option<Duration>) {
    let early = down.buf.split();
    let server = up.stream();
    if !early.is_empty() && server.write_all(&early).await.is_err() {
        return;
    }
    let (mut from_client, mut from_server) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    loop {
        let either = async {
            tokio::select! {
                r = down.io.read(&mut from_client) => (true, r),
                r = server.read(&mut from_server) => (false, r),
            }
        };
        let (client_spoke, read) = match idle {
            Some(limit) => match tokio::time::timeout(limit, either).await {
                Ok(r) => r,
                Err(_) => return,
            },
            None => either.await,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let sent = if client_spoke {
            server.write_all(&from_client[..n]).await
        } else {
            async {
                down.io.write_all(&from_server[..n]).await?;
                down.io.flush().await
            }
            .await
        };
        if sent.is_err() {
            return;
        }
    }
}
