//! One request through the edge: route it, answer it locally or proxy it
//! with nginx's `proxy_next_upstream` rules, and say whether the client's
//! connection can carry another request.

use super::answer;
use super::ctx::{RequestCtx, TryFailure, TunnelGuard};
use super::downstream::Downstream;
use super::forward::{self, field, BodyFraming};
use super::io::Fail;
use super::respond::{self, RelayFail};
use super::upstream::{ResponseFail, UpConn};
use super::vars::RequestView;
use crate::admin::RetryReason;
use crate::balance::PickInput;
use crate::config::Balance;
use crate::http1::chunked::{write_chunk, LAST_CHUNK};
use crate::http1::{BodyMeter, Framing, Reject, RequestHead, ResponseHead};
use crate::routing::uri;
use crate::runtime::{Action, ClientLimits, Lease, Route, Routed, Runtime, Upstream};
use bytes::Buf;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

/// Request body bytes held before the first try, so that a retry can send
/// them again (Pingora's retry buffer size). A longer body streams, and a
/// request whose body was partly sent is not retried.
const RETRY_BUFFER: usize = 64 * 1024;

/// Most of a chunked body held to send it to an HTTP/1.0 server (which
/// cannot take chunks) when `client_max_body_size` sets no lower limit.
const HOLD_LIMIT: usize = 64 * 1024 * 1024;

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

    /// The server answered something the edge will not relay: a 502,
    /// never retried (nginx's `invalid_header` is not in the default
    /// `proxy_next_upstream`), counted against the server.
    fn invalid(what: String) -> TryFail {
        TryFail {
            kind: TryFailure::Invalid,
            what,
            stale: false,
            sent: true,
        }
    }
}

enum TryEnd {
    Done(Outcome),
    Failed(TryFail),
}

/// A request body on its way to the server, past what was held before
/// the first try.
struct StreamedBody {
    meter: BodyMeter,
    /// Payload bytes read so far (for `client_max_body_size`).
    read: u64,
    /// Sent as chunks the edge writes.
    chunked: bool,
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
            client: self.ctx.client,
            local: self.down.local,
            https: self.down.io.is_tls(),
            proxy_host,
            maps: self.ctx.runtime.as_deref().map_or(&[], |rt| &rt.maps),
        }
    }

    async fn local(&mut self, status: u16, body: &[u8], keep: bool) -> Outcome {
        let keep = keep && !self.closing && self.head.keep_alive();
        let mut extra = Vec::new();
        self.added_fields(status, &mut extra);
        let mut out = Vec::with_capacity(160 + body.len());
        respond::write_local(&mut out, status, body, keep, self.head.minor, &extra);
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
        let framing = self.head.framing();
        // A body the edge does not read leaves the connection unusable.
        let bodiless = framing == Framing::Empty;
        let host = crate::vars::host_of(self.head.host());
        let Some(path) = uri::normalize(self.head.path()) else {
            return self.refuse(Reject::BadRequest).await;
        };
        self.ctx.client = self.down.client;
        let route = match rt.route(listener, &host, &path) {
            Routed::Route(r) => {
                if let (Some(realip), Some(peer)) = (&r.real_ip, self.down.client) {
                    self.ctx.client = Some(realip.client(peer, self.head));
                }
                r.clone()
            }
            Routed::AddSlash => {
                let location = answer::add_slash_location(
                    self.head,
                    &host,
                    &path,
                    self.down.local,
                    self.down.io.is_tls(),
                );
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
        let limits = route.client;
        if let Framing::Length(n) = framing {
            if limits.body_too_large(n) {
                return self.refuse(Reject::BodyTooLarge).await;
            }
        }
        // As nginx, `100 Continue` goes out whenever a body is expected,
        // even if some of it came with the head.
        let continued = self.head.expects_continue() && framing != Framing::Empty;
        if continued
            && self
                .down
                .write(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return Outcome::closed(499);
        }
        // The body is held before the first try, enough to send it again on
        // a retry; a chunked body for an HTTP/1.0 server, whole.
        let chunked = framing == Framing::Chunked;
        let hold = match (chunked && route.http10, limits.max_body_size) {
            (false, _) => RETRY_BUFFER,
            (true, 0) => HOLD_LIMIT,
            (true, max) => (max as usize).saturating_add(1),
        };
        let mut body = BodyMeter::new(framing);
        let mut payload = Vec::new();
        let mut read = 0;
        while !body.done() && payload.len() < hold {
            if let Err(outcome) = self
                .body_into(&mut body, &mut payload, &mut read, &limits)
                .await
            {
                return outcome;
            }
        }
        let sent_framing = match framing {
            Framing::Length(n) => BodyFraming::Length(n),
            Framing::Chunked if body.done() => BodyFraming::Length(payload.len() as u64),
            Framing::Chunked if route.http10 => return self.refuse(Reject::BodyTooLarge).await,
            Framing::Chunked => BodyFraming::Chunked,
            Framing::Empty | Framing::UntilClose => BodyFraming::None,
        };
        // The request as sent upstream, built once for every try.
        let mut out = Vec::with_capacity(1024 + payload.len());
        {
            let vars = self.view(&upstream.name);
            forward::write_head(
                &mut out,
                &vars,
                route,
                upstream,
                uri_part,
                self.ctx.uri.as_deref(),
                sent_framing,
            );
        }
        if sent_framing == BodyFraming::Chunked {
            write_chunk(&mut out, &payload);
        } else {
            out.extend_from_slice(&payload);
        }
        drop(payload);
        let mut streamed = StreamedBody {
            meter: body,
            read,
            chunked: sent_framing == BodyFraming::Chunked,
        };
        let mut last: Option<TryFail> = None;
        // A kept-alive connection the server had already closed says nothing
        // about the server: the same server gets the request once more, on a
        // new connection (as nginx does for a cached connection).
        let mut again: Option<Lease> = None;
        // Why the next try is a retry, counted once it is made.
        let mut retry: Option<RetryReason> = None;
        loop {
            let fresh = again.is_some();
            let Some(lease) = again.take().or_else(|| self.pick(upstream)) else {
                let keep = streamed.meter.done();
                return self.fail(upstream, last.as_ref(), keep).await;
            };
            if let Some(reason) = retry.take() {
                upstream.meters.retries.count(reason);
            }
            self.ctx.try_start = Some(Instant::now());
            self.ctx.tries += 1;
            self.ctx.last_pick = Some(lease.pick);
            self.ctx.lease = Some(lease);
            match self
                .try_server(route, upstream, &out, &mut streamed, fresh)
                .await
            {
                TryEnd::Done(outcome) => return outcome,
                TryEnd::Failed(f) => {
                    let resendable = streamed.meter.done() || !f.sent;
                    if let Some(lease) = self.ctx.lease.take() {
                        if f.stale && !fresh && resendable {
                            self.ctx.tries -= 1;
                            again = Some(lease);
                            retry = Some(RetryReason::KeepaliveClosed);
                            continue;
                        }
                        if !f.stale {
                            lease.fail();
                        }
                    }
                    let server = &upstream.server(self.ctx.last_pick.expect("picked")).name;
                    tracing::error!(upstream = %upstream.name, server = %server, "{}", f.what);
                    if !(self.may_retry(route, upstream, f.kind) && resendable) {
                        let keep = streamed.meter.done();
                        return self.fail(upstream, Some(&f), keep).await;
                    }
                    retry = Some(match f.kind {
                        TryFailure::Timeout => RetryReason::Timeout,
                        _ => RetryReason::Error,
                    });
                    last = Some(f);
                }
            }
        }
    }

    /// Refuses the request with nginx's status for `reject`, and closes.
    async fn refuse(&mut self, reject: Reject) -> Outcome {
        self.local(reject.status(), reject.body(), false).await
    }

    /// Appends the next payload bytes of the request body to `into`
    /// (chunks unwrapped), reading from the client when none are buffered;
    /// `read` counts the payload against `client_max_body_size`. A client
    /// that leaves ends the request (499), one that stalls past
    /// `client_body_timeout` is closed without an answer (408, as nginx);
    /// a broken chunked body is a 400, a body over the limit a 413.
    async fn body_into(
        &mut self,
        body: &mut BodyMeter,
        into: &mut Vec<u8>,
        read: &mut u64,
        limits: &ClientLimits,
    ) -> Result<(), Outcome> {
        if self.down.buf.is_empty() {
            match self.down.read_more(limits.body_timeout).await {
                Ok(n) if n > 0 => {}
                Err(Fail::Timeout) => return Err(Outcome::closed(408)),
                _ => return Err(Outcome::closed(499)),
            }
        }
        let before = into.len();
        match body.take(&self.down.buf, Some(into)) {
            Ok(n) => self.down.buf.advance(n),
            Err(_) => return Err(self.refuse(Reject::BadRequest).await),
        }
        *read += (into.len() - before) as u64;
        if limits.body_too_large(*read) {
            return Err(self.refuse(Reject::BodyTooLarge).await);
        }
        Ok(())
    }

    /// Streams the rest of a long request body to the server, re-chunked
    /// by the edge when it was chunked.
    async fn stream_body(
        &mut self,
        body: &mut StreamedBody,
        up: &mut UpConn<'_>,
        route: &Route,
    ) -> Result<(), TryEnd> {
        let (mut part, mut framed) = (Vec::new(), Vec::new());
        while !body.meter.done() {
            part.clear();
            self.body_into(&mut body.meter, &mut part, &mut body.read, &route.client)
                .await
                .map_err(TryEnd::Done)?;
            let bytes = if body.chunked {
                framed.clear();
                write_chunk(&mut framed, &part);
                if body.meter.done() {
                    framed.extend_from_slice(LAST_CHUNK);
                }
                &framed
            } else {
                &part
            };
            if let Err(f) = up.write(bytes, route.send_timeout).await {
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

    /// A server for the next try: a followed cluster's leader, else the
    /// sticky cookie's on the first try, else the balancer's choice among
    /// those not tried yet.
    fn pick(&mut self, upstream: &Arc<Upstream>) -> Option<Lease> {
        if let Some(lease) = upstream.pick_leader(&mut self.ctx.tried) {
            return Some(lease);
        }
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
            client: self.ctx.client.map(|a| a.ip()),
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
            TryFailure::Invalid => false,
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

    /// One try at the leased server (`fresh`: on a new connection, not an
    /// idle one).
    async fn try_server(
        &mut self,
        route: &Route,
        upstream: &Upstream,
        out: &[u8],
        body: &mut StreamedBody,
        fresh: bool,
    ) -> TryEnd {
        let server = upstream.server(self.ctx.last_pick.expect("picked"));
        let mut up = match UpConn::open(
            server,
            upstream.keepalive_timeout,
            route.connect_timeout,
            fresh,
            route.upstream_tls.as_ref(),
            &upstream.meters,
        )
        .await
        {
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
            Err(ResponseFail::Bad(why)) => {
                return TryEnd::Failed(TryFail::invalid(format!("the server sent {why}")))
            }
        };
        self.ctx.upstream_status = Some(resp.status);
        if resp.status == 101 && !self.upgrade_accepted(&resp) {
            return TryEnd::Failed(TryFail::invalid(
                "the server switched protocols for a request that did not ask for it".into(),
            ));
        }
        if (100..200).contains(&resp.status) && resp.status != 101 {
            return TryEnd::Failed(TryFail::invalid(format!(
                "the server sent an interim {} response",
                resp.status
            )));
        }
        let head_request = self.head.method() == "HEAD";
        let framing = match resp.framing(head_request) {
            Ok(f) => f,
            Err(why) => return TryEnd::Failed(TryFail::invalid(format!("the server sent {why}"))),
        };
        let mut extra = Vec::new();
        if let Some(cookie) = self.sticky_cookie(upstream) {
            field(&mut extra, "set-cookie", cookie.as_bytes());
        }
        self.added_fields(resp.status, &mut extra);
        let mut reply = Vec::with_capacity(512 + up.buf.len());
        if resp.status == 101 {
            self.ctx.tunnel = Some(TunnelGuard::open(server, &upstream.meters));
            respond::write_head(
                &mut reply,
                &resp,
                false,
                self.head.minor,
                Framing::Empty,
                &extra,
            );
            reply.extend_from_slice(&up.buf.split());
            if self.down.write(&reply).await.is_err() {
                return TryEnd::Done(Outcome::closed(499));
            }
            // The tunnel runs once this request's state is gone (see app.rs).
            self.ctx.upgraded = Some(up.into_stream());
            return TryEnd::Done(Outcome::closed(101));
        }
        // An HTTP/1.1 client gets chunks for a chunked or close-delimited
        // body (so its connection stays usable, as with nginx); an HTTP/1.0
        // client gets the bytes, ended by close.
        let close_delimited =
            self.head.minor == 0 && matches!(framing, Framing::Chunked | Framing::UntilClose);
        let keep = self.head.keep_alive() && !self.closing && !close_delimited;
        respond::write_head(&mut reply, &resp, keep, self.head.minor, framing, &extra);
        let relayed = respond::relay_body(
            self.down,
            &mut up,
            reply,
            framing,
            self.head.minor,
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

    /// Whether a `101` answers what the client asked for: an upgrade
    /// request, to a protocol it offered.
    fn upgrade_accepted(&self, resp: &ResponseHead) -> bool {
        let offered = resp
            .fields
            .get_str("upgrade")
            .map(str::trim)
            .is_some_and(|p| !p.is_empty() && self.head.fields.has_token("upgrade", p));
        self.head.is_upgrade() && offered
    }

    /// The sticky `Set-Cookie` that pins a newly placed client.
    /// The location's `add_header` fields that apply to an answer with
    /// `status` (nginx's list, or any status with `always`), expanded.
    fn added_fields(&self, status: u16, out: &mut Vec<u8>) {
        let Some(route) = self.ctx.route.as_deref() else {
            return;
        };
        let listed = matches!(
            status,
            200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
        );
        let mut value = String::new();
        for h in route.add_header.iter().filter(|h| h.always || listed) {
            value.clear();
            h.value.expand_into(&self.view(""), &mut value);
            if !value.is_empty() {
                field(out, &h.name, value.as_bytes());
            }
        }
    }

    fn sticky_cookie(&self, upstream: &Upstream) -> Option<String> {
        let st = upstream.sticky.as_ref().filter(|_| self.ctx.sticky_new)?;
        let pick = self.ctx.last_pick?;
        Some(st.set_cookie(&upstream.server(pick).cookie))
    }

    /// Answers after the final failed try (or when no server was left);
    /// the connection stays usable (`keep`) when the whole request body
    /// was read, as nginx keeps it after a 502.
    async fn fail(&mut self, upstream: &Upstream, f: Option<&TryFail>, keep: bool) -> Outcome {
        let server = self
            .ctx
            .last_pick
            .map(|p| upstream.server(p).name.as_str())
            .unwrap_or("-");
        let (status, body) =
            answer::upstream_failed(&upstream.name, server, f.map(|f| (f.kind, f.what.as_str())));
        self.local(status, body.as_bytes(), keep).await
    }
}
