//! One request through the edge: route it, answer it locally or proxy it
//! with nginx's `proxy_next_upstream` rules, and say whether the client's
//! connection can carry another request.

use super::answer;
use super::ctx::{RequestCtx, TryFailure, TunnelGuard};
use super::downstream::Downstream;
use super::forward;
use super::io::Fail;
use super::respond::{self, RelayFail};
use super::tunnel;
use super::upstream::{ResponseFail, UpConn};
use super::vars::RequestView;
use crate::balance::PickInput;
use crate::config::Balance;
use crate::http1::{BodyMeter, Framing, RequestHead};
use crate::routing::uri;
use crate::runtime::{Action, Lease, Route, Routed, Runtime, Upstream};
use bytes::BytesMut;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

/// Request body bytes held before the first try, so that a retry can send
/// them again (Pingora's retry buffer size). A longer body streams, and a
/// request whose body was partly sent is not retried.
const RETRY_BUFFER: usize = 64 * 1024;

/// How a request ended, for the log and the connection.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Status the client got (499: it left first; 0: nothing was sent).
    pub status: u16,
    /// The connection may carry another request.
    pub keep: bool,
}

impl Outcome {
    fn closed(status: u16) -> Self {
        Outcome {
            status,
            keep: false,
        }
    }
}

/// nginx's non-idempotent methods, never retried unless configured.
fn idempotent(method: &str) -> bool {
    !matches!(method, "POST" | "PATCH" | "LOCK")
}

/// A failed try at one server, before any of its response reached the client.
struct TryFail {
    kind: TryFailure,
    /// What happened, for the 502/504 body and the error log.
    what: String,
    /// A reused idle connection failed before any response byte: the
    /// server closed it, which says nothing about the server's health.
    stale: bool,
    /// Request bytes went out (a streamed body cannot be sent again).
    sent: bool,
}

impl TryFail {
    fn new(f: Fail, doing: &str, up: Option<&UpConn>, sent: bool) -> TryFail {
        let kind = match f {
            Fail::Timeout => TryFailure::Timeout,
            _ => TryFailure::Error,
        };
        TryFail {
            kind,
            what: format!("{doing}: {f}"),
            stale: kind == TryFailure::Error && up.is_some_and(|u| u.reused && u.received == 0),
            sent,
        }
    }
}

enum TryEnd {
    Done(Outcome),
    Failed(TryFail),
}

/// Everything one request needs, borrowed for its lifetime.
pub struct Exchange<'a> {
    /// The client's connection.
    pub down: &'a mut Downstream,
    /// The request.
    pub head: &'a RequestHead,
    /// Its state.
    pub ctx: &'a mut RequestCtx,
    /// The edge is stopping: answer this request, then close.
    pub closing: bool,
}

impl Exchange<'_> {
    fn view<'v>(&'v self, proxy_host: &'v str) -> RequestView<'v> {
        RequestView {
            head: self.head,
            client: self.down.client,
            local: self.down.local,
            proxy_host,
            maps: self.ctx.runtime.as_deref().map_or(&[], |rt| &rt.maps),
        }
    }

    async fn local(&mut self, status: u16, body: &[u8], keep: bool) -> Outcome {
        let keep = keep && !self.closing && self.head.keep_alive();
        let mut out = Vec::with_capacity(160 + body.len());
        respond::write_local(&mut out, status, body, keep, self.head.minor);
        match self.down.write(&out).await {
            Ok(()) => {
                self.ctx.body_sent = body.len() as u64;
                Outcome { status, keep }
            }
            Err(_) => Outcome::closed(499),
        }
    }

    /// Routes the request with the tables of `rt` and serves it.
    pub async fn run(&mut self, listener: usize, rt: Arc<Runtime>) -> Outcome {
        let framing = match self.head.framing() {
            Ok(f) => f,
            Err(_) => return self.local(400, answer::BAD_REQUEST, false).await,
        };
        // A body the edge does not read leaves the connection unusable.
        let bodiless = framing == Framing::Empty;
        if self.head.minor == 1 && self.head.host().is_empty() {
            return self.local(400, answer::BAD_REQUEST, false).await;
        }
        let host = crate::vars::host_of(self.head.host());
        let Some(path) = uri::normalize(self.head.path()) else {
            return self.local(400, answer::BAD_REQUEST, bodiless).await;
        };
        let route = match rt.route(listener, &host, &path) {
            Routed::Route(r) => r.clone(),
            Routed::AddSlash => {
                let location = answer::add_slash_location(self.head, &host, &path, self.down.local);
                return self.local(301, location.as_bytes(), bodiless).await;
            }
            Routed::NotFound => return self.local(404, answer::NOT_FOUND, bodiless).await,
        };
        if let Cow::Owned(normalized) = path {
            self.ctx.uri = Some(normalized);
        }
        self.ctx.runtime = Some(rt);
        self.ctx.route = Some(route.clone());
        match &route.action {
            Action::Return { status, body } => {
                let body = body.expand(&self.view(""));
                self.local(*status, body.as_bytes(), bodiless).await
            }
            Action::Proxy { upstream, uri } => {
                self.proxy(&route, upstream, uri.as_deref(), framing).await
            }
        }
    }

    async fn proxy(
        &mut self,
        route: &Route,
        upstream: &Arc<Upstream>,
        uri_part: Option<&str>,
        framing: Framing,
    ) -> Outcome {
        let continued =
            self.head.expects_continue() && framing != Framing::Empty && self.down.buf.is_empty();
        if continued
            && self
                .down
                .write(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return Outcome::closed(499);
        }
        // The request as sent upstream, built once for every try.
        let mut out = Vec::with_capacity(1024);
        {
            let vars = self.view(&upstream.name);
            forward::write_head(
                &mut out,
                &vars,
                route,
                upstream,
                uri_part,
                self.ctx.uri.as_deref(),
                continued,
            );
        }
        let mut body = BodyMeter::new(framing);
        let limit = out.len() + RETRY_BUFFER;
        if let Err(outcome) = self.buffer_body(&mut body, &mut out, limit).await {
            return outcome;
        }
        let mut last: Option<TryFail> = None;
        loop {
            let Some(lease) = self.pick(upstream) else {
                return self.fail(upstream, last.as_ref()).await;
            };
            self.ctx.try_start = Some(Instant::now());
            self.ctx.tries += 1;
            self.ctx.last_pick = Some(lease.pick);
            self.ctx.lease = Some(lease);
            match self.try_server(route, upstream, &out, &mut body).await {
                TryEnd::Done(outcome) => return outcome,
                TryEnd::Failed(f) => {
                    if let Some(lease) = self.ctx.lease.take() {
                        if !f.stale {
                            lease.fail();
                        }
                    }
                    let server = &upstream.server(self.ctx.last_pick.expect("picked")).name;
                    tracing::error!(upstream = %upstream.name, server = %server, "{}", f.what);
                    if !(self.may_retry(route, upstream, f.kind) && (body.done() || !f.sent)) {
                        return self.fail(upstream, Some(&f)).await;
                    }
                    last = Some(f);
                }
            }
        }
    }

    /// The next bytes of the request body, read from the client when none
    /// are buffered. A client that leaves ends the request (499); a broken
    /// chunked body is answered with a 400.
    async fn body_part(&mut self, body: &mut BodyMeter) -> Result<BytesMut, Outcome> {
        if self.down.buf.is_empty() {
            match self.down.read_more().await {
                Ok(n) if n > 0 => {}
                _ => return Err(Outcome::closed(499)),
            }
        }
        match body.take(&self.down.buf, None) {
            Ok(n) => Ok(self.down.buf.split_to(n)),
            Err(_) => Err(self.local(400, answer::BAD_REQUEST, false).await),
        }
    }

    /// Reads the request body into `out` until it ends or `out` reaches `limit`.
    async fn buffer_body(
        &mut self,
        body: &mut BodyMeter,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), Outcome> {
        while !body.done() && out.len() < limit {
            out.extend_from_slice(&self.body_part(body).await?);
        }
        Ok(())
    }

    /// Streams the rest of a long request body to the server.
    async fn stream_body(
        &mut self,
        body: &mut BodyMeter,
        up: &mut UpConn,
        route: &Route,
    ) -> Result<(), TryEnd> {
        while !body.done() {
            let part = self.body_part(body).await.map_err(TryEnd::Done)?;
            if let Err(f) = up.write(&part, route.send_timeout).await {
                return Err(TryEnd::Failed(TryFail::new(
                    f,
                    "sending the request body",
                    Some(up),
                    true,
                )));
            }
        }
        Ok(())
    }

    /// A server for the next try: the sticky cookie's on the first try,
    /// else the balancer's choice among those not tried yet.
    fn pick(&mut self, upstream: &Arc<Upstream>) -> Option<Lease> {
        if let Balance::Hash { key, .. } = &upstream.balance {
            if self.ctx.hash_key.is_empty() {
                let mut k = String::new();
                key.expand_into(&self.view(&upstream.name), &mut k);
                self.ctx.hash_key = k;
            }
        }
        let sticky = upstream.sticky.as_ref();
        if let (Some(st), 0) = (sticky, self.ctx.tries) {
            let cookies = self
                .head
                .fields
                .all("cookie")
                .filter_map(|v| std::str::from_utf8(v).ok());
            if let Some(lease) = st
                .lookup(cookies)
                .and_then(|p| upstream.pick_exact(p, &mut self.ctx.tried))
            {
                return Some(lease);
            }
        }
        self.ctx.sticky_new = sticky.is_some();
        let input = PickInput {
            client: self.down.client.map(|a| a.ip()),
            key: &self.ctx.hash_key,
        };
        upstream.pick(&input, &mut self.ctx.tried)
    }

    /// Whether the request may move on to another server after a failed try.
    fn may_retry(&self, route: &Route, upstream: &Upstream, failure: TryFailure) -> bool {
        let next = &route.next;
        let wanted = match failure {
            TryFailure::Error => next.on_error,
            TryFailure::Timeout => next.on_timeout,
        };
        let limit = match next.tries {
            0 => upstream.max_tries(),
            n => n.min(upstream.max_tries()),
        };
        wanted
            && self.ctx.tries < limit
            && (next.non_idempotent || idempotent(self.head.method()))
            && next.timeout.is_none_or(|t| self.ctx.start.elapsed() < t)
    }

    /// One try at the leased server.
    async fn try_server(
        &mut self,
        route: &Route,
        upstream: &Upstream,
        out: &[u8],
        body: &mut BodyMeter,
    ) -> TryEnd {
        let server = upstream.server(self.ctx.last_pick.expect("picked"));
        let mut up =
            match UpConn::open(server, upstream.keepalive_timeout, route.connect_timeout).await {
                Ok(up) => up,
                Err(f) => {
                    return TryEnd::Failed(TryFail::new(
                        f,
                        &format!("connecting to {}", server.addr),
                        None,
                        false,
                    ))
                }
            };
        if let Err(f) = up.write(out, route.send_timeout).await {
            return TryEnd::Failed(TryFail::new(f, "sending the request", Some(&up), true));
        }
        if let Err(end) = self.stream_body(body, &mut up, route).await {
            return end;
        }
        let resp = match up.read_head(route.read_timeout).await {
            Ok(r) => r,
            Err(ResponseFail::Io(f)) => {
                return TryEnd::Failed(TryFail::new(
                    f,
                    "reading the response header",
                    Some(&up),
                    true,
                ))
            }
            Err(ResponseFail::Bad) => {
                return TryEnd::Failed(TryFail {
                    kind: TryFailure::Error,
                    what: "the server sent an invalid response header".into(),
                    stale: false,
                    sent: true,
                })
            }
        };
        self.ctx.upstream_status = Some(resp.status);
        let head_request = self.head.method() == "HEAD";
        let Ok(framing) = resp.framing(head_request) else {
            return TryEnd::Failed(TryFail {
                kind: TryFailure::Error,
                what: "the server sent an invalid Content-Length".into(),
                stale: false,
                sent: true,
            });
        };
        let cookie = self.sticky_cookie(upstream);
        let mut reply = Vec::with_capacity(512 + up.buf.len());
        if resp.status == 101 {
            self.ctx.tunnel = Some(TunnelGuard::open());
            respond::write_head(
                &mut reply,
                &resp,
                false,
                self.head.minor,
                false,
                cookie.as_deref(),
            );
            reply.extend_from_slice(&up.buf.split());
            if self.down.write(&reply).await.is_err() {
                return TryEnd::Done(Outcome::closed(499));
            }
            tunnel::run(self.down, &mut up, route.tunnel_idle_timeout).await;
            return TryEnd::Done(Outcome::closed(101));
        }
        let decode = framing == Framing::Chunked && self.head.minor == 0;
        let keep =
            self.head.keep_alive() && !self.closing && !decode && framing != Framing::UntilClose;
        respond::write_head(
            &mut reply,
            &resp,
            keep,
            self.head.minor,
            decode,
            cookie.as_deref(),
        );
        let relayed = respond::relay_body(
            self.down,
            &mut up,
            reply,
            framing,
            decode,
            route.read_timeout,
            &mut self.ctx.body_sent,
        )
        .await;
        match relayed {
            Ok(()) => {
                if resp.keep_alive() && framing != Framing::UntilClose {
                    up.release(server, upstream.keepalive);
                }
                TryEnd::Done(Outcome {
                    status: resp.status,
                    keep,
                })
            }
            Err(RelayFail::Client) => TryEnd::Done(Outcome::closed(resp.status)),
            Err(RelayFail::Upstream(what)) => {
                tracing::error!(upstream = %upstream.name, server = %server.name, "{what}");
                TryEnd::Done(Outcome::closed(resp.status))
            }
        }
    }

    /// The sticky `Set-Cookie` that pins a newly placed client.
    fn sticky_cookie(&self, upstream: &Upstream) -> Option<String> {
        let st = upstream.sticky.as_ref().filter(|_| self.ctx.sticky_new)?;
        let pick = self.ctx.last_pick?;
        Some(st.set_cookie(&upstream.server(pick).cookie))
    }

    /// Answers after the final failed try (or when no server was left).
    async fn fail(&mut self, upstream: &Upstream, f: Option<&TryFail>) -> Outcome {
        let server = self
            .ctx
            .last_pick
            .map(|p| upstream.server(p).name.as_str())
            .unwrap_or("-");
        let (status, body) =
            answer::upstream_failed(&upstream.name, server, f.map(|f| (f.kind, f.what.as_str())));
        self.local(status, body.as_bytes(), false).await
    }
}
