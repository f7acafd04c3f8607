//! Where requests really come from, behind reverse proxies: the official
//! gateway's client attribution (`gateway.trustedProxies`,
//! `gateway.allowRealIpFallback`). The attributed client, not the proxy, is
//! what presence reports and failed-auth limits count.

pub mod address;
pub mod attribution;

pub use address::TrustedProxies;
pub use attribution::{Attribution, IngressPolicy};

/// The refusal's `type`, as the official gateway names it.
pub const REFUSED_TYPE: &str = "proxy_attribution_required";

/// What an operator must do, in the official words.
pub const GUIDANCE: &str = "Configure gateway.trustedProxies narrowly and make the proxy overwrite or safely rebuild forwarded client headers.";

/// The official 403 body for proxy traffic that cannot be attributed.
pub fn refused_body() -> String {
    serde_json::json!({"error": {
        "message": format!("Proxy client attribution is required. {GUIDANCE}"),
        "type": REFUSED_TYPE,
    }})
    .to_string()
}
