//! The edge's HTTP/1.x server on one listen address, run by Pingora's
//! listener and server lifecycle (graceful stop, binary upgrade): reads
//! requests off a client connection one after another, serves each, and
//! accounts for it in metrics and the access log.

use super::ctx::RequestCtx;
use super::downstream::{self, Counted, Downstream, HeadFail};
use super::exchange::{Exchange, Outcome};
use super::respond;
use super::tunnel;
use crate::access_log;
use crate::config::OnLeaderChange;
use crate::http1::{HeadError, RequestHead};
use crate::leader::CLOSE_LEADER_CHANGED;
use crate::runtime::{Runtime, Upstream};
use crate::tls::{ClientStream, MaybeTls, UpStream};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::protocols::Stream;
use pingora_core::server::ShutdownWatch;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The proxy of one listen address.
pub struct EdgeApp {
    /// Index of this listener in [`Runtime::listeners`].
    pub listener: usize,
    /// The current tables; replaced whole on reload. Each request takes a
    /// snapshot, so a reload never changes a request midway.
    pub runtime: Arc<ArcSwap<Runtime>>,
}

#[async_trait]
impl ServerApp for EdgeApp {
    async fn process_new(self: &Arc<Self>, io: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let counted = Counted::accepted();
        let (client, local) = downstream::addresses(&io);
        let io = self.handshake(io, client).await?;
        let mut down = Downstream::new(io, client, local, counted);
        loop {
            let limits = self.runtime.load().listeners[self.listener].client;
            let head = match down.read_head(&limits).await {
                Ok(head) => head,
                Err(HeadFail::Gone) => return None,
                Err(HeadFail::Bad(e)) => {
                    refuse(&mut down, e).await;
                    return None;
                }
            };
            // nginx closes after `keepalive_requests`, or at once when
            // `keepalive_timeout` is 0.
            let last =
                down.requests >= limits.keepalive_requests || limits.keepalive_timeout.is_zero();
            let mut ctx = RequestCtx::new();
            let closing = *shutdown.borrow() || last;
            let outcome = Exchange {
                down: &mut down,
                head: &head,
                ctx: &mut ctx,
                closing,
            }
            .run(self.listener, self.runtime.load_full())
            .await;
            if let Some(server) = ctx.upgraded.take() {
                // A tunnel can live for days: it gets a task of its own
                // holding only what it needs, and this (larger) one ends.
                tokio::spawn(run_tunnel(down, server, head, ctx, outcome));
                return None;
            }
            finish(&head, &down, &ctx, outcome);
            if !outcome.keep {
                return None;
            }
        }
    }
}

impl EdgeApp {
    /// The TLS handshake on a TLS listener (within `client_header_timeout`,
    /// as nginx 1.22 times it); a clear-text listener's connection as is.
    /// `None` when the handshake failed: the connection is closed.
    async fn handshake(&self, io: Stream, client: Option<SocketAddr>) -> Option<ClientStream> {
        let (acceptor, limit) = {
            let rt = self.runtime.load();
            let l = &rt.listeners[self.listener];
            match &l.tls {
                Some(config) => (TlsAcceptor::from(config.clone()), l.client.header_timeout),
                None => return Some(MaybeTls::Plain(io)),
            }
        };
        match tokio::time::timeout(limit, acceptor.accept(io)).await {
            Ok(Ok(tls)) => Some(MaybeTls::Tls(Box::new(tls))),
            Ok(Err(e)) => {
                tracing::info!(client = ?client, "TLS handshake failed: {e}");
                None
            }
            Err(_) => {
                tracing::info!(client = ?client, "TLS handshake timed out after {limit:?}");
                None
            }
        }
    }
}

/// Relays the tunnel a 101 opened, then accounts for it like any request
/// (its log line and duration cover the tunnel's whole life, as nginx's).
async fn run_tunnel(
    mut down: Downstream,
    mut server: UpStream,
    head: RequestHead,
    ctx: RequestCtx,
    outcome: Outcome,
) {
    let idle = ctx.route.as_deref().and_then(|r| r.tunnel_idle_timeout);
    if let Some(upstream) = ctx.upstream() {
        let evict = leader_eviction(upstream, &ctx, &head);
        tunnel::run(&mut down, &mut server, idle, &upstream.meters, evict).await;
    }
    finish(&head, &down, &ctx, outcome);
}

/// With a leader-aware upstream set to `on_change: close`, a WebSocket
/// tunnel is closed (1012) once another node holds the lease, so its
/// client reconnects to the new leader.
fn leader_eviction(
    upstream: &Upstream,
    ctx: &RequestCtx,
    head: &RequestHead,
) -> Option<tunnel::Evict> {
    let route = upstream
        .leader
        .as_ref()
        .filter(|l| l.on_change == OnLeaderChange::Close)?;
    let websocket = head
        .fields
        .get("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"websocket"));
    if !websocket {
        return None;
    }
    let server = upstream.server(ctx.last_pick?);
    let moved = route
        .follower
        .clone()
        .moved_away(server.name.clone(), server.addr);
    Some(tunnel::Evict {
        signal: Box::pin(moved),
        frame: CLOSE_LEADER_CHANGED,
    })
}

/// The metrics and the access log line of a request that ended.
fn finish(head: &RequestHead, down: &Downstream, ctx: &RequestCtx, outcome: Outcome) {
    account(ctx, outcome);
    if ctx.route.as_deref().is_none_or(|r| r.access_log) {
        access_log::log(head, ctx.client.or(down.client), ctx, outcome.status);
    }
}

/// Answers a head the edge will not read (and logs why, as nginx logs
/// "client sent invalid ..." at info level).
async fn refuse(down: &mut Downstream, e: HeadError) {
    tracing::info!(client = ?down.client, "refused a request: {}", e.why);
    let mut out = Vec::new();
    respond::write_local(&mut out, e.reject.status(), e.reject.body(), false, 1, &[]);
    let _ = down.write(&out).await;
}

/// Counts the request in the metrics of its server, its upstream, or the
/// edge's own answers. An upgrade request lasts until its 101: the tunnel's
/// life is counted apart (see [`super::ctx::TunnelGuard`]).
fn account(ctx: &RequestCtx, outcome: Outcome) {
    let end = ctx.tunnel.as_ref().map(|t| t.opened);
    let seconds = end
        .map_or_else(|| ctx.start.elapsed(), |end| end - ctx.start)
        .as_secs_f64();
    match ctx.upstream() {
        Some(upstream) => {
            match ctx.last_pick {
                Some(p) => upstream.server(p).codes.count(outcome.status),
                None => upstream.unserved.count(outcome.status),
            }
            upstream.duration.observe(seconds);
        }
        None => {
            if let Some(rt) = &ctx.runtime {
                rt.local_codes.count(outcome.status);
                rt.local_duration.observe(seconds);
            }
        }
    }
}
