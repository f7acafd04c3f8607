//! The runtime API, shaped like the NGINX Plus API
//! (`/api/N/http/upstreams/...`), without the version segment:
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/upstreams` | every upstream, keyed by name |
//! | `GET /api/upstreams/NAME` | one upstream |
//! | `GET /api/upstreams/NAME/servers` | its servers |
//! | `GET /api/upstreams/NAME/servers/ID` | one server |
//! | `PATCH /api/upstreams/NAME/servers/ID` | `{"drain": bool, "down": bool, "weight": N}` (any of them); the server after the change |
//!
//! `ID` is the server's number in the upstream (primaries then backups, in
//! config order, from 0, as NGINX Plus numbers them), or the server as
//! written in the config (`host:port`, percent-encoded as a path segment
//! needs), or its resolved address. Errors are NGINX Plus's shape:
//! `{"error":{"status":N,"code":"...","text":"..."}}`.

use super::status::{upstream_status, ServerStatus};
use crate::balance::{Tier, TierKind};
use crate::config::Balance;
use crate::health::unix_ms;
use crate::runtime::{Runtime, Upstream};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::info;

/// The largest weight the API takes: the config file's range (1 and up, as
/// a 32-bit count).
pub const MAX_WEIGHT: u64 = u32::MAX as u64;

/// An error answer: HTTP status, NGINX Plus style code, and a sentence
/// that says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Machine-readable code (NGINX Plus's where one fits).
    pub code: &'static str,
    /// For a person.
    pub text: String,
    /// The `Allow` header of a 405.
    pub allow: Option<&'static str>,
}

impl ApiError {
    /// An error without an `Allow` header.
    pub fn new(status: u16, code: &'static str, text: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            text: text.into(),
            allow: None,
        }
    }

    fn method(allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..ApiError::new(
                405,
                "MethodNotSupported",
                format!("method not supported here; allowed: {allow}"),
            )
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({ "error": { "status": self.status, "code": self.code, "text": self.text } })
    }
}

/// A request to the API: method, the path after `/api/upstreams`, body.
#[derive(Debug)]
pub struct ApiRequest<'a> {
    /// The HTTP method.
    pub method: &'a http::Method,
    /// The path after `/api/upstreams` (`""`, `/NAME`, `/NAME/servers/ID`).
    pub rest: &'a str,
    /// The request body (PATCH).
    pub body: &'a [u8],
}

/// A PATCH body: each field present is one change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerPatch {
    drain: Option<bool>,
    down: Option<bool>,
    weight: Option<u64>,
}

/// Answers one request under `/api/upstreams`: status and JSON, or an error.
pub fn handle(rt: &Runtime, req: &ApiRequest) -> Result<Value, ApiError> {
    let segments: Vec<String> = req
        .rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let get_only = || {
        (req.method == http::Method::GET || req.method == http::Method::HEAD)
            .then_some(())
            .ok_or_else(|| ApiError::method("GET, HEAD"))
    };
    match segments.as_slice() {
        [] => {
            get_only()?;
            let all: BTreeMap<String, Value> = rt
                .upstreams
                .iter()
                .map(|u| (u.name.clone(), to_value(upstream_status(u))))
                .collect();
            Ok(json!(all))
        }
        [name] => {
            get_only()?;
            Ok(to_value(upstream_status(find_upstream(rt, name)?)))
        }
        [name, "servers"] => {
            get_only()?;
            Ok(to_value(upstream_status(find_upstream(rt, name)?).servers))
        }
        [name, "servers", id] => {
            let u = find_upstream(rt, name)?;
            let (kind, index) = find_server(u, id)?;
            if req.method == http::Method::PATCH {
                patch(u, kind, index, req.body)?;
            } else if req.method != http::Method::GET && req.method != http::Method::HEAD {
                return Err(ApiError::method("GET, HEAD, PATCH"));
            }
            Ok(to_value(server_of(u, kind, index)))
        }
        _ => Err(ApiError::new(
            404,
            "PathNotFound",
            "no such path: try /api/upstreams, /api/upstreams/NAME or /api/upstreams/NAME/servers/ID",
        )),
    }
}

fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("status is serializable")
}

fn find_upstream<'a>(rt: &'a Runtime, name: &str) -> Result<&'a Arc<Upstream>, ApiError> {
    rt.upstreams.iter().find(|u| u.name == name).ok_or_else(|| {
        let known: Vec<&str> = rt.upstreams.iter().map(|u| u.name.as_str()).collect();
        ApiError::new(
            404,
            "UpstreamNotFound",
            format!(
                "upstream `{name}` not found; upstreams: {}",
                known.join(", ")
            ),
        )
    })
}

/// The server `id` names: its number, its name as written, or its address.
fn find_server(u: &Upstream, id: &str) -> Result<(TierKind, usize), ApiError> {
    let at = |n: usize| {
        if n < u.primary.len() {
            Some((TierKind::Primary, n))
        } else {
            (n < u.max_tries()).then(|| (TierKind::Backup, n - u.primary.len()))
        }
    };
    if let Ok(n) = id.parse::<usize>() {
        if let Some(found) = at(n) {
            return Ok(found);
        }
    }
    let servers = || u.primary.iter().chain(&u.backup).enumerate();
    let by_name: Vec<usize> = servers()
        .filter(|(_, s)| s.name == id)
        .map(|(n, _)| n)
        .collect();
    let matches = if by_name.is_empty() {
        servers()
            .filter(|(_, s)| s.addr.to_string() == id)
            .map(|(n, _)| n)
            .collect()
    } else {
        by_name
    };
    match matches.as_slice() {
        [n] => Ok(at(*n).expect("an index of the list")),
        [] => Err(ApiError::new(
            404,
            "UpstreamServerNotFound",
            format!(
                "upstream `{}` has no server `{id}`; use an id from 0 to {} or a server as \
                 written (GET /api/upstreams/{} lists them)",
                u.name,
                u.max_tries().saturating_sub(1),
                u.name
            ),
        )),
        several => Err(ApiError::new(
            400,
            "UpstreamServerAmbiguous",
            format!(
                "`{id}` resolves to several servers of upstream `{}` (ids {several:?}); use an id or an address",
                u.name
            ),
        )),
    }
}

/// The status of one server.
fn server_of(u: &Upstream, kind: TierKind, index: usize) -> ServerStatus {
    let id = match kind {
        TierKind::Primary => index,
        TierKind::Backup => u.primary.len() + index,
    };
    upstream_status(u)
        .servers
        .into_iter()
        .nth(id)
        .expect("the id of a server")
}

/// Applies a PATCH body to one server, logging each change once.
fn patch(u: &Upstream, kind: TierKind, index: usize, body: &[u8]) -> Result<(), ApiError> {
    let p: ServerPatch = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            400,
            "UpstreamConfFormatError",
            format!(
                "bad body: {e}; send a JSON object with any of \"drain\": true|false, \
                 \"down\": true|false, \"weight\": 1..{MAX_WEIGHT}"
            ),
        )
    })?;
    if let Some(w) = p.weight {
        if !(1..=MAX_WEIGHT).contains(&w) {
            return Err(ApiError::new(
                400,
                "UpstreamBadWeight",
                format!("weight {w} is out of range: 1..{MAX_WEIGHT}, as in the config file"),
            ));
        }
        if matches!(
            u.balance,
            Balance::Hash {
                consistent: true,
                ..
            }
        ) {
            return Err(ApiError::new(
                400,
                "UpstreamServerWeightImmutable",
                format!(
                    "upstream `{}` uses `hash ... consistent`, whose ring is built from the \
                     configured weights; change the weight in the config file and reload",
                    u.name
                ),
            ));
        }
    }
    let server = &u.server(crate::balance::Pick { tier: kind, index }).name;
    let mut pool = u.pool();
    let tier: &mut Tier = pool.tier_mut(kind);
    let log = |what: &str, old: &dyn std::fmt::Display, new: &dyn std::fmt::Display| {
        info!(upstream = %u.name, server = %server, "runtime API: {what} {old} -> {new}");
    };
    if let Some(drain) = p.drain {
        let old = tier.state[index].overrides.drain;
        if old != drain {
            tier.set_drain(index, drain);
            tier.state[index].history.last_change_unix_ms = Some(unix_ms());
            log("drain", &old, &drain);
        }
    }
    if let Some(down) = p.down {
        let old = tier.conf[index].down;
        if old != down {
            tier.set_down(index, down);
            let s = &mut tier.state[index];
            s.history
                .observe(down || s.check_down, crate::balance::now_ms());
            s.history.last_change_unix_ms = Some(unix_ms());
            log("down", &old, &down);
        }
    }
    if let Some(weight) = p.weight {
        let (old, weight) = (tier.conf[index].weight, weight as i64);
        if old != weight {
            tier.set_weight(index, weight);
            log("weight", &old, &weight);
        }
    }
    Ok(())
}
