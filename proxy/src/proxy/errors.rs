//! What the client sees when proxying fails: nginx's status codes (502 for
//! errors, 504 for timeouts, 400 for bad requests) with a short body that
//! names the upstream, so an operator reading it knows where to look.

use super::ctx::{RequestCtx, TryFailure};
use crate::runtime::Action;
use pingora_error::{Error, ErrorSource, ErrorType};
use pingora_proxy::Session;

/// Whether a Pingora error is a timeout (nginx's `timeout` condition) or an error.
pub fn classify(e: &Error) -> TryFailure {
    match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            TryFailure::Timeout
        }
        _ => TryFailure::Error,
    }
}

/// Answers the client after the final failure; returns the status sent (0 when
/// the client connection is already gone).
pub async fn answer(session: &mut Session, ctx: &RequestCtx, e: &Error) -> u16 {
    let upstream = ctx.route.as_ref().and_then(|r| match &r.action {
        Action::Proxy { upstream, .. } => Some(upstream.clone()),
        Action::Return { .. } => None,
    });
    let name = upstream.as_ref().map(|u| u.name.as_str()).unwrap_or("-");
    let server = match (&upstream, ctx.last_pick) {
        (Some(u), Some(p)) => u.server(p).name.clone(),
        _ => "-".to_string(),
    };
    let (code, body) = if ctx.no_live_server && ctx.failure.is_none() {
        (
            502,
            format!("502 Bad Gateway: no live server in upstream \"{name}\"\n"),
        )
    } else {
        match (e.etype(), e.esource()) {
            (ErrorType::HTTPStatus(code), _) => (*code, String::new()),
            (_, ErrorSource::Upstream) | (_, ErrorSource::Unset) if ctx.failure.is_some() || upstream.is_some() => {
                match ctx.failure {
                    Some(TryFailure::Timeout) => {
                        (504, format!("504 Gateway Timeout: upstream \"{name}\" (last server {server}) timed out\n"))
                    }
                    _ => (502, format!("502 Bad Gateway: upstream \"{name}\" (last server {server}): {}\n", e.etype().as_str())),
                }
            }
            (ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed, ErrorSource::Downstream) => {
                (0, String::new())
            }
            (_, ErrorSource::Downstream) => (400, "400 Bad Request\n".to_string()),
            _ => (500, "500 Internal Server Error\n".to_string()),
        }
    };
    if code > 0 {
        let _ = session.respond_error_with_body(code, body.into()).await;
    }
    code
}
