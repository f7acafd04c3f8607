//! The three frame shapes of protocol v4: `req`, `res` and `event`.

use serde::Serialize;
use serde_json::{json, Value};

/// The protocol version this node speaks.
pub const PROTOCOL_VERSION: u64 = 4;

/// A request from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: String,
    pub method: String,
    pub params: Value,
}

/// An error as the protocol carries it in `res.error`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorShape {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Boxed: errors travel in `Result`s on every request path, and an
    /// order-preserving `Value` would make each of them large.
    pub details: Option<Box<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// The request was malformed, unauthorised or named an unknown method.
pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
/// The node cannot answer now (store down, shutting down); retrying may work.
pub const UNAVAILABLE: &str = "UNAVAILABLE";
/// The client is connected but its scopes do not allow the method.
pub const FORBIDDEN: &str = "FORBIDDEN";
/// The client presented no credential the gateway can check (the official
/// gateway's answer to a `connect` without a token or a paired device).
pub const NOT_PAIRED: &str = "NOT_PAIRED";

impl ErrorShape {
    /// An `INVALID_REQUEST` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        ErrorShape {
            code: INVALID_REQUEST,
            message: message.into(),
            details: None,
            retryable: None,
            retry_after_ms: None,
        }
    }

    /// An `UNAVAILABLE` error the client may retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ErrorShape {
            code: UNAVAILABLE,
            message: message.into(),
            details: None,
            retryable: Some(true),
            retry_after_ms: Some(1000),
        }
    }

    /// A `FORBIDDEN` error for a method the client's scopes do not allow.
    pub fn missing_scope(scope: &str) -> Self {
        ErrorShape {
            code: FORBIDDEN,
            message: format!("missing scope: {scope}"),
            details: Some(Box::new(
                serde_json::json!({"code": "MISSING_SCOPE", "missingScope": scope}),
            )),
            retryable: None,
            retry_after_ms: None,
        }
    }

    /// Adds `details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }
}

/// Why a text frame is not a request.
#[derive(Debug, PartialEq)]
pub enum ParseError {
    NotJson(String),
    /// JSON, but not a request frame as the official schema defines it: `id`
    /// is the frame's own id when it has a string one (the error answers it),
    /// `why` the official validation message.
    NotRequest {
        id: Option<String>,
        why: String,
    },
}

/// Parses a client frame against the official request frame schema; only
/// `req` frames are valid from clients. `params` may be any JSON value here:
/// each method's own schema decides.
pub fn parse_request(text: &str) -> Result<Request, ParseError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let id = value.get("id").and_then(Value::as_str).map(str::to_string);
    if let Err(why) = super::schema::check("request frame", &value) {
        return Err(ParseError::NotRequest { id, why });
    }
    let Value::Object(mut obj) = value else {
        unreachable!("the frame schema requires an object");
    };
    let method = obj["method"].as_str().unwrap_or_default().to_string();
    let params = obj
        .remove("params")
        .unwrap_or(Value::Object(Default::default()));
    Ok(Request {
        id: id.unwrap_or_default(),
        method,
        params,
    })
}

/// A successful response frame.
pub fn ok_frame(id: &str, payload: &Value) -> String {
    json!({"type": "res", "id": id, "ok": true, "payload": payload}).to_string()
}

/// A failed response frame.
pub fn error_frame(id: &str, error: &ErrorShape) -> String {
    json!({"type": "res", "id": id, "ok": false, "error": error}).to_string()
}

/// An event frame. `payload` is already-serialised JSON so an event fanned out to
/// many connections is serialised once; `seq` is the connection's own counter.
pub fn event_frame(event: &str, payload: &str, seq: Option<u64>) -> String {
    let name = serde_json::to_string(event).expect("string serialises");
    match seq {
        Some(seq) => {
            format!(r#"{{"type":"event","event":{name},"payload":{payload},"seq":{seq}}}"#)
        }
        None => format!(r#"{{"type":"event","event":{name},"payload":{payload}}}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_recorded_requests() {
        let r = parse_request(
            r#"{"type": "req", "id": "2:b948", "method": "sessions.list", "params": {}}"#,
        )
        .unwrap();
        assert_eq!(
            (r.id.as_str(), r.method.as_str()),
            ("2:b948", "sessions.list")
        );
        let r = parse_request(r#"{"type":"req","id":"3","method":"health"}"#).unwrap();
        assert!(r.params.as_object().unwrap().is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_request() {
        assert!(matches!(
            parse_request("{nope"),
            Err(ParseError::NotJson(_))
        ));
        assert!(matches!(
            parse_request(r#"{"type":"res","id":"1"}"#),
            Err(ParseError::NotRequest { id: Some(_), .. })
        ));
        assert_eq!(
            parse_request(r#"{"type":"event","event":"x"}"#),
            Err(ParseError::NotRequest {
                id: None,
                why: "must have required property 'id'; at root: unexpected property 'event'; at /type: must be equal to constant".into()
            })
        );
        assert!(parse_request(r#"[1]"#).is_err());
    }

    #[test]
    fn event_frames_are_json() {
        let f = event_frame("tick", r#"{"ts":1}"#, Some(7));
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(
            v,
            json!({"type":"event","event":"tick","payload":{"ts":1},"seq":7})
        );
    }
}
