//! A point-in-time view of every upstream and server, shared by `/metrics`
//! (gauges), `/api/status` (JSON) and `/status` (HTML).

use crate::balance::{now_ms, TierKind};
use crate::runtime::Runtime;
use serde::Serialize;

/// One server's state now.
#[derive(Debug, Serialize)]
pub struct ServerStatus {
    /// As written in the config.
    pub server: String,
    /// Resolved address.
    pub address: String,
    /// `up`, `down` (configured), `unhealthy` (active checks), or `failed` (out after max_fails).
    pub state: &'static str,
    /// Whether it is a backup server.
    pub backup: bool,
    /// Configured weight.
    pub weight: i64,
    /// Weight after failure penalties.
    pub effective_weight: i64,
    /// Requests and tunnels in flight.
    pub inflight: u32,
    /// Failures counted in the current window.
    pub fails: u32,
    /// `max_fails` / `fail_timeout` (ms) / `max_conns`.
    pub max_fails: u32,
    /// See `max_fails`.
    pub fail_timeout_ms: u64,
    /// See `max_fails`.
    pub max_conns: u32,
}

/// One upstream's state now.
#[derive(Debug, Serialize)]
pub struct UpstreamStatus {
    /// Name.
    pub name: String,
    /// Balancing method.
    pub balance: String,
    /// Its servers, primaries first.
    pub servers: Vec<ServerStatus>,
}

/// Reads every upstream's state (each pool locked briefly, one at a time).
pub fn snapshot(rt: &Runtime) -> Vec<UpstreamStatus> {
    let now = now_ms();
    rt.upstreams
        .iter()
        .map(|u| {
            let pool = u.pool();
            let mut servers = Vec::new();
            for (kind, list) in [
                (TierKind::Primary, &u.primary),
                (TierKind::Backup, &u.backup),
            ] {
                let tier = pool.tier(kind);
                for (i, s) in list.iter().enumerate() {
                    let (c, st) = (&tier.conf[i], &tier.state[i]);
                    let state = if c.down {
                        "down"
                    } else if st.check_down {
                        "unhealthy"
                    } else if tier.failed(i, now) {
                        "failed"
                    } else {
                        "up"
                    };
                    servers.push(ServerStatus {
                        server: s.name.clone(),
                        address: s.addr.to_string(),
                        state,
                        backup: kind == TierKind::Backup,
                        weight: c.weight,
                        effective_weight: st.effective_weight,
                        inflight: st.conns(),
                        fails: st.fails,
                        max_fails: c.max_fails,
                        fail_timeout_ms: c.fail_timeout,
                        max_conns: c.max_conns,
                    });
                }
            }
            UpstreamStatus {
                name: u.name.clone(),
                balance: u.balance.to_string(),
                servers,
            }
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `/status` page: one table per upstream.
pub fn html(status: &[UpstreamStatus]) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>openclaw-edge status</title>\
         <meta http-equiv=\"refresh\" content=\"5\"><style>body{font-family:sans-serif;margin:2em}\
         table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:.3em .8em;text-align:left}\
         .up{color:#070}.down{color:#777}.failed,.unhealthy{color:#b00;font-weight:bold}</style></head><body>\
         <h1>openclaw-edge</h1><p>Refreshes every 5 s. JSON: <a href=\"/api/status\">/api/status</a>, \
         metrics: <a href=\"/metrics\">/metrics</a>.</p>",
    );
    for u in status {
        out.push_str(&format!(
            "<h2>upstream {}</h2><p>balance: {}</p><table><tr><th>server</th><th>address</th><th>state</th>\
             <th>weight</th><th>effective</th><th>in flight</th><th>fails</th><th>max_fails / fail_timeout</th>\
             <th>max_conns</th><th>backup</th></tr>",
            esc(&u.name),
            esc(&u.balance)
        ));
        for s in &u.servers {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{} / {} ms</td><td>{}</td><td>{}</td></tr>",
                esc(&s.server),
                esc(&s.address),
                s.state,
                s.state,
                s.weight,
                s.effective_weight,
                s.inflight,
                s.fails,
                s.max_fails,
                s.fail_timeout_ms,
                if s.max_conns == 0 { "-".to_string() } else { s.max_conns.to_string() },
                if s.backup { "yes" } else { "" }
            ));
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}
