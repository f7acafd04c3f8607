//! The follower's own thread: subscribed to the cluster's control channel,
//! it reads the lease and the node records at every message and every
//! refresh period, and stores what it found. It ends once no upstream holds
//! its follower (a reload dropped the last one).

use super::{Follower, Member, NodeInfo, View};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The longest one connect, subscribe or read may take.
const CALL_LIMIT: Duration = Duration::from_secs(2);

/// How long a resolved `host:port` is reused.
const RESOLVE_TTL: Duration = Duration::from_secs(30);

/// Starts following on a thread of its own (its own small runtime, so it
/// needs none from the caller and outlives config generations).
pub(super) fn spawn(follower: &Arc<Follower>, url: String, key: String) {
    let weak = Arc::downgrade(follower);
    let spawned = std::thread::Builder::new()
        .name("leader-follow".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => rt.block_on(run(weak, url, key)),
                Err(e) => warn!("leader follower: no runtime: {e}"),
            }
        });
    if let Err(e) = spawned {
        warn!("leader follower: no thread: {e}");
    }
}

/// Follows until the follower is dropped: connects (again after a
/// failure, backing off up to the refresh period), then reads at every
/// message and every refresh period.
async fn run(weak: Weak<Follower>, url: String, key: String) {
    let (source, refresh) = match weak.upgrade() {
        Some(f) => (f.source.clone(), f.refresh),
        None => return,
    };
    let client = match redis::Client::open(url.as_str()) {
        Ok(c) => c,
        Err(e) => return warn!(cluster = %source, "leader follower: {e}"),
    };
    // The first tables are built before logging starts: wait for it (a
    // little), so that an unreachable cluster is not reported to nobody.
    for _ in 0..100 {
        if crate::logging::ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    info!(cluster = %source, "following the cluster's leader lease");
    let channel = format!("{key}:control");
    let mut names = Resolver::default();
    let mut backoff = Duration::from_millis(100);
    let mut outage: Option<String> = None;
    loop {
        let connected = tokio::time::timeout(CALL_LIMIT, async {
            let conn = client.get_multiplexed_async_connection().await?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>((conn, pubsub))
        })
        .await;
        let why = match connected {
            Ok(Ok((mut conn, pubsub))) => {
                let mut messages = pubsub.into_on_message();
                loop {
                    let Some(f) = weak.upgrade() else { return };
                    match read(&mut conn, &key, &mut names).await {
                        Ok(view) => {
                            if let Some(was) = outage.take() {
                                info!(cluster = %source, "cluster reachable again (was: {was})");
                            }
                            backoff = Duration::from_millis(100);
                            let holder = view.holder.clone();
                            if f.store(view) {
                                announce(&f.source, &holder);
                            }
                        }
                        Err(e) => break e,
                    }
                    drop(f);
                    tokio::select! {
                        m = messages.next() => if m.is_none() {
                            break "control channel closed".to_string();
                        },
                        _ = tokio::time::sleep(refresh) => {}
                    }
                }
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {CALL_LIMIT:?}"),
        };
        if outage.is_none() {
            warn!(cluster = %source, reason = %why,
                "cluster unreachable: routing on health checks until it answers");
            outage = Some(why);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(refresh);
        if weak.strong_count() == 0 {
            return;
        }
    }
}

/// Logs a change of holder (once: the caller saw it change).
fn announce(source: &str, holder: &Option<(Member, u64)>) {
    match holder {
        Some((m, epoch)) => info!(cluster = %source, node = %m.node, address = %m.address,
            epoch, "cluster leader: new connections go to it"),
        None => info!(cluster = %source, "cluster leader: none (lease free)"),
    }
}

/// One read of the lease and the node records.
async fn read(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
    names: &mut Resolver,
) -> Result<View, String> {
    let (lease, nodes, (secs, micros)): (Option<String>, Vec<String>, (u64, u64)) =
        tokio::time::timeout(
            CALL_LIMIT,
            redis::pipe()
                .get(key)
                .hvals(format!("{key}:nodes"))
                .cmd("TIME")
                .query_async(conn),
        )
        .await
        .map_err(|_| format!("no answer within {CALL_LIMIT:?}"))?
        .map_err(|e| e.to_string())?;
    let mut holder = None;
    if let Some((node, address, epoch)) = lease.as_deref().and_then(parse_lease) {
        let addrs = names.resolve(&address).await;
        holder = Some((
            Member {
                node,
                address,
                addrs,
            },
            epoch,
        ));
    }
    let now_ms = secs * 1000 + micros / 1000;
    let mut records: Vec<NodeInfo> = nodes
        .iter()
        .filter_map(|r| parse_record(r, now_ms))
        .collect();
    records.sort_by(|a, b| a.node.cmp(&b.node));
    let mut out = Vec::new();
    for r in &records {
        let running = |n: &NodeInfo| n.state == "running";
        let shared = records.iter().any(|n| running(n) && n.address == r.address);
        if !running(r) && !shared {
            let addrs = names.resolve(&r.address).await;
            out.push(Member {
                node: r.node.clone(),
                address: r.address.clone(),
                addrs,
            });
        }
    }
    Ok(View {
        holder,
        was: None,
        out,
        nodes: records,
    })
}

/// `(node, address, epoch)` of a lease value.
fn parse_lease(raw: &str) -> Option<(String, String, u64)> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    Some((
        v.get("node")?.as_str()?.to_string(),
        v.get("address")?.as_str()?.to_string(),
        v.get("epoch")?.as_u64()?,
    ))
}

/// A heartbeat record (gateway `NodeRecord`), read at Redis time `now_ms`.
fn parse_record(raw: &str, now_ms: u64) -> Option<NodeInfo> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let number = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
    let flag = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let seen_ms_ago = now_ms.saturating_sub(number("lastSeen"));
    let state = v.get("state")?.as_str()?.to_string();
    Some(NodeInfo {
        node: v.get("node")?.as_str()?.to_string(),
        address: v.get("address")?.as_str()?.to_string(),
        role: text("role"),
        priority: number("priority"),
        // As the nodes judge each other (`NodeRecord::live`).
        live: state == "running" && seen_ms_ago <= 2 * number("intervalMs") + 250,
        state,
        leader: flag("leader"),
        ready: flag("ready"),
        config_hash: text("configHash"),
        version: text("version"),
        seen_ms_ago,
    })
}

/// `host:port` -> addresses, cached a while (nodes rarely move).
#[derive(Default)]
struct Resolver {
    cache: HashMap<String, (Vec<SocketAddr>, Instant)>,
}

impl Resolver {
    async fn resolve(&mut self, address: &str) -> Vec<SocketAddr> {
        if let Ok(a) = address.parse::<SocketAddr>() {
            return vec![a];
        }
        if let Some((addrs, at)) = self.cache.get(address) {
            if at.elapsed() < RESOLVE_TTL {
                return addrs.clone();
            }
        }
        let addrs: Vec<SocketAddr> =
            match tokio::time::timeout(CALL_LIMIT, tokio::net::lookup_host(address)).await {
                Ok(Ok(found)) => found.collect(),
                _ => Vec::new(),
            };
        self.cache
            .insert(address.to_string(), (addrs.clone(), Instant::now()));
        addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_and_records_as_the_nodes_write_them() {
        let lease = r#"{"node":"gw2","role":"secondary","priority":50,"epoch":7,"address":"127.0.0.1:18790","since":1}"#;
        assert_eq!(
            parse_lease(lease),
            Some(("gw2".into(), "127.0.0.1:18790".into(), 7))
        );
        assert_eq!(parse_lease("not json"), None);
        let rec = r#"{"node":"gw1","address":"gw1:18789","state":"running","lastSeen":5000,
            "intervalMs":1000,"role":"primary","priority":100,"leader":true,"configHash":"ab"}"#;
        let r = parse_record(rec, 7000).unwrap();
        assert_eq!((r.node.as_str(), r.address.as_str()), ("gw1", "gw1:18789"));
        assert!(r.live && r.leader && r.priority == 100 && r.seen_ms_ago == 2000);
        assert!(
            !parse_record(rec, 7300).unwrap().live,
            "two beats and 250 ms late"
        );
        let stopped = rec.replace("running", "stopped");
        assert!(!parse_record(&stopped, 5000).unwrap().live);
    }
}
