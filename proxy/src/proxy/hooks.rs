//! The Pingora hooks, in the order Pingora calls them.

use super::ctx::{RequestCtx, TryFailure, TunnelGuard};
use super::errors::{answer, classify};
use super::vars::{client_ip, maps_of, SessionVars};
use crate::access_log;
use crate::balance::PickInput;
use crate::config::Balance;
use crate::routing::uri;
use crate::runtime::{Action, Route, Routed, Runtime, Upstream};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorSource, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use std::borrow::Cow;
use std::sync::Arc;

/// The proxy of one listen address.
pub struct EdgeProxy {
    /// Index of this listener in [`Runtime::listeners`].
    pub listener: usize,
    /// The current tables; replaced whole on reload.
    pub runtime: Arc<ArcSwap<Runtime>>,
}

fn proxied(route: &Route) -> Option<(&Arc<Upstream>, &Option<String>)> {
    match &route.action {
        Action::Proxy { upstream, uri } => Some((upstream, uri)),
        Action::Return { .. } => None,
    }
}

/// nginx's `auto_redirect` answer: `http://HOST[:PORT]PATH/[?ARGS]`, the
/// port being the listener's unless 80.
fn add_slash_location(session: &Session, host: &str, path: &str) -> String {
    let port = session
        .server_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.port())
        .filter(|p| *p != 80)
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let query = session
        .req_header()
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    format!("http://{host}{port}{path}/{query}")
}

/// The client closed its connection before the response was complete.
fn client_closed(e: &Error) -> bool {
    *e.esource() == ErrorSource::Downstream
        && matches!(
            e.etype(),
            ErrorType::ConnectionClosed | ErrorType::ReadError | ErrorType::WriteError
        )
}

/// nginx's non-idempotent methods, never retried unless configured.
fn idempotent(m: &Method) -> bool {
    !matches!(m.as_str(), "POST" | "PATCH" | "LOCK")
}

impl EdgeProxy {
    /// Whether the request may move on to another server after a failed try.
    fn may_retry(&self, session: &Session, ctx: &RequestCtx, failure: TryFailure) -> bool {
        let Some(route) = ctx.route.as_ref() else {
            return false;
        };
        let Some((upstream, _)) = proxied(route) else {
            return false;
        };
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
            && ctx.tries < limit
            && (next.non_idempotent || idempotent(&session.req_header().method))
            && next.timeout.is_none_or(|t| ctx.start.elapsed() < t)
            && !session.as_ref().retry_buffer_truncated()
    }

    async fn respond_local(&self, session: &mut Session, status: u16, body: Bytes) -> Result<bool> {
        let mut resp = ResponseHeader::build(status, Some(3))?;
        if (301..=308).contains(&status) {
            resp.insert_header(http::header::LOCATION, body.as_ref())?;
            session.write_response_header(Box::new(resp), true).await?;
        } else {
            resp.insert_header(http::header::CONTENT_TYPE, "text/plain")?;
            resp.insert_header(http::header::CONTENT_LENGTH, body.len())?;
            session
                .write_response_header(Box::new(resp), body.is_empty())
                .await?;
            if !body.is_empty() {
                session.write_response_body(Some(body), true).await?;
            }
        }
        Ok(true)
    }
}

#[async_trait]
impl ProxyHttp for EdgeProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    /// No downstream modules: Pingora's default adds a disabled compression
    /// module that still runs on every request; the edge does not compress.
    fn init_downstream_modules(&self, _modules: &mut pingora_core::modules::http::HttpModules) {}

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let runtime = self.runtime.load_full();
        // Route while the request header is borrowed (no copies of host or
        // path); what the edge answers itself comes out as (status, body).
        let routed = {
            let req = session.req_header();
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri.host())
                .unwrap_or("");
            let host = crate::vars::host_of(host);
            match uri::normalize(req.uri.path()) {
                None => Err((400, Bytes::from_static(b"400 Bad Request\n"))),
                Some(path) => match runtime.route(self.listener, &host, &path) {
                    Routed::Route(r) => {
                        if let Cow::Owned(normalized) = path {
                            ctx.uri = Some(normalized);
                        }
                        Ok(r.clone())
                    }
                    Routed::AddSlash => {
                        Err((301, add_slash_location(session, &host, &path).into()))
                    }
                    Routed::NotFound => Err((404, Bytes::from_static(b"404 Not Found\n"))),
                },
            }
        };
        ctx.runtime = Some(runtime);
        let route = match routed {
            Ok(route) => route,
            Err((status, body)) => return self.respond_local(session, status, body).await,
        };
        if let Action::Return { status, body } = &route.action {
            let vars = SessionVars {
                session,
                proxy_host: "",
                maps: maps_of(&ctx.runtime),
            };
            let (status, body) = (*status, Bytes::from(body.expand(&vars)));
            ctx.route = Some(route);
            return self.respond_local(session, status, body).await;
        }
        ctx.upgrade = session.is_upgrade_req();
        if ctx.upgrade {
            // A tunnel is not an HTTP request: the client's silence is not a timeout.
            session.set_read_timeout(route.tunnel_idle_timeout);
        }
        if route.next.on_error || route.next.on_timeout {
            session.enable_retry_buffering();
        }
        ctx.route = Some(route);
        Ok(false)
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let route = ctx
            .route
            .clone()
            .expect("request_filter routed the request");
        let (upstream, _) = proxied(&route).expect("only proxy routes reach upstream_peer");
        if let Balance::Hash { key, .. } = &upstream.balance {
            if ctx.hash_key.is_empty() {
                let vars = SessionVars {
                    session,
                    proxy_host: &upstream.name,
                    maps: maps_of(&ctx.runtime),
                };
                key.expand_into(&vars, &mut ctx.hash_key);
            }
        }
        let sticky = upstream.sticky.as_ref();
        let pinned = match sticky {
            Some(st) if ctx.tries == 0 => {
                let cookies = session.req_header().headers.get_all(http::header::COOKIE);
                st.lookup(cookies.iter().filter_map(|v| v.to_str().ok()))
                    .and_then(|pick| upstream.pick_exact(pick, &mut ctx.tried))
            }
            _ => None,
        };
        let lease = match pinned {
            Some(lease) => lease,
            None => {
                ctx.sticky_new = sticky.is_some();
                let input = PickInput {
                    client: client_ip(session),
                    key: &ctx.hash_key,
                };
                let Some(lease) = upstream.pick(&input, &mut ctx.tried) else {
                    ctx.no_live_server = true;
                    return Err(Error::explain(
                        ErrorType::ConnectNoRoute,
                        format!("no live server in upstream {}", upstream.name),
                    ));
                };
                lease
            }
        };
        ctx.tries += 1;
        ctx.last_pick = Some(lease.pick);
        ctx.try_start = Some(std::time::Instant::now());
        let mut peer = HttpPeer::new(lease.server().addr, false, String::new());
        ctx.lease = Some(lease);
        let o = &mut peer.options;
        o.connection_timeout = Some(route.connect_timeout);
        o.write_timeout = Some(route.send_timeout);
        o.read_timeout = if ctx.upgrade {
            route.tunnel_idle_timeout
        } else {
            Some(route.read_timeout)
        };
        o.idle_timeout = Some(upstream.keepalive_timeout);
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        let failure = classify(&e);
        ctx.failure = Some(failure);
        if let Some(lease) = ctx.lease.take() {
            lease.fail();
        }
        e.set_retry(self.may_retry(session, ctx, failure));
        e
    }

    fn error_while_proxy(
        &self,
        _peer: &HttpPeer,
        session: &mut Session,
        mut e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let client_gone = *e.esource() == ErrorSource::Downstream;
        if client_gone || session.response_written().is_some() || ctx.upstream_status.is_some() {
            // The client went away, or response bytes already went out: never
            // retried, and nothing the server is to blame for.
            e.set_retry(false);
            return e;
        }
        let failure = classify(&e);
        ctx.failure = Some(failure);
        let stale_keepalive = client_reused && failure == TryFailure::Error;
        if let Some(lease) = ctx.lease.take() {
            if !stale_keepalive {
                // A closed idle keep-alive connection is not the server's fault.
                lease.fail();
            }
        }
        e.set_retry(self.may_retry(session, ctx, failure));
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let route = ctx.route.as_ref().expect("routed");
        let (upstream, uri) = proxied(route).expect("proxy route");
        if let (Some(uri), Some(prefix)) = (uri, &route.prefix) {
            // nginx swaps the prefix inside the normalized path, escapes the
            // result, and appends the arguments when there are any.
            let path = ctx.uri.as_deref().unwrap_or(req.uri.path());
            let rest = path.get(prefix.len()..).unwrap_or("");
            let mut new = format!("{uri}{}", uri::escape(rest));
            if let Some(q) = req.uri.query().filter(|q| !q.is_empty()) {
                new.push('?');
                new.push_str(q);
            }
            req.set_uri(new.parse().map_err(|_| {
                Error::explain(ErrorType::InvalidHTTPHeader, "rewritten URI is invalid")
            })?);
        }
        let vars = SessionVars {
            session,
            proxy_host: &upstream.name,
            maps: maps_of(&ctx.runtime),
        };
        let mut value = String::new();
        let mut connection_set = false;
        for (name, template) in &route.headers {
            value.clear();
            template.expand_into(&vars, &mut value);
            if value.is_empty() {
                req.remove_header(name);
            } else {
                connection_set |= name == http::header::CONNECTION;
                req.insert_header(name.clone(), value.as_str())?;
            }
        }
        if route.http10 {
            req.set_version(http::Version::HTTP_10);
        }
        // Without keep-alive, ask the server to close, unless the location
        // set Connection itself (nginx sends what the config says).
        if !upstream.keepalive && !ctx.upgrade && !connection_set {
            req.insert_header(http::header::CONNECTION, "close")?;
        }
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let status = resp.status.as_u16();
        ctx.upstream_status = Some(status);
        if status == 101 && ctx.upgrade {
            ctx.tunnel = Some(TunnelGuard::open());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if !ctx.sticky_new {
            return Ok(());
        }
        let upstream = ctx.route.as_deref().and_then(proxied).map(|(u, _)| u);
        if let (Some(u), Some(pick)) = (upstream, ctx.last_pick) {
            if let Some(st) = &u.sticky {
                resp.append_header(
                    http::header::SET_COOKIE,
                    st.set_cookie(&u.server(pick).cookie),
                )?;
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        FailToProxy {
            error_code: answer(session, ctx, e).await,
            can_reuse_downstream: false,
        }
    }

    /// A client that hangs up is not an error of the edge (nginx logs it as
    /// 499 at info level); it still shows in the access log and metrics.
    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, e: &Error) -> bool {
        client_closed(e)
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = match (session.response_written(), e) {
            (Some(r), _) => r.status.as_u16(),
            (None, Some(e)) if client_closed(e) => 499,
            _ => 0,
        };
        let route = ctx.route.as_deref();
        match route.and_then(proxied) {
            Some((upstream, _)) => {
                match ctx.last_pick {
                    Some(p) => upstream.server(p).codes.count(status),
                    None => upstream.unserved.count(status),
                }
                upstream.duration.observe(ctx.start.elapsed().as_secs_f64());
            }
            None => {
                if let Some(rt) = &ctx.runtime {
                    rt.local_codes.count(status);
                    rt.local_duration.observe(ctx.start.elapsed().as_secs_f64());
                }
            }
        }
        if route.is_none_or(|r| r.access_log) {
            access_log::log(session, ctx, status);
        }
    }
}
