//! One `chat.send`: claim the idempotency key, record the user's message, answer
//! at once with the run id, then stream the agent's reply as `chat` and `agent`
//! events and record it. The same idempotency key never runs twice, on any node.

use crate::clock::now_ms;
use crate::node::Node;
use crate::protocol::frames::ErrorShape;
use crate::sessions::key::SessionKey;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The least time between two delta events of one run. Each `chat` delta
/// carries the whole text so far, so this keeps a long reply's cost in bytes
/// near linear; `final` always has the whole text.
const DELTA_INTERVAL: Duration = Duration::from_millis(100);

/// What `chat.send` asks for.
pub struct RunRequest {
    pub key: SessionKey,
    pub message: String,
    pub idempotency_key: String,
    /// The client's `client.id`, recorded with the user's message.
    pub client_id: String,
    /// `timeoutMs`: bounds this run instead of the agent's configured timeout.
    pub timeout: Option<Duration>,
}

/// Starts a run; the value is the `chat.send` response.
pub async fn start(node: &Arc<Node>, run: RunRequest) -> Result<Value, ErrorShape> {
    let RunRequest {
        key,
        message,
        idempotency_key,
        client_id,
        timeout,
    } = run;
    let claim = node
        .timed("claim_run", node.store.claim_run(&idempotency_key))
        .await
        .map_err(|e| ErrorShape::unavailable(format!("session store unavailable: {e}")))?;
    if let Some(status) = claim {
        let status = if status == "running" {
            "in_flight".to_string()
        } else {
            status
        };
        return Ok(json!({"runId": idempotency_key, "status": status, "cached": true}));
    }
    let user = json!({
        "role": "user",
        "content": message,
        "timestamp": now_ms(),
        "idempotencyKey": format!("{idempotency_key}:user"),
        "__openclaw": {
            "id": uuid::Uuid::new_v4().to_string(),
            "transport": {"clients": [{"id": client_id}]},
            "node": node.settings.node,
        },
    });
    let meta = match node
        .timed("append", node.store.append(&key.key, &key.agent_id, &user))
        .await
    {
        Ok(meta) => meta,
        Err(e) => {
            let _ = node.store.finish_run(&idempotency_key, "error").await;
            return Err(ErrorShape::unavailable(format!(
                "session store unavailable: {e}"
            )));
        }
    };
    node.bus.emit(
        "sessions.changed",
        &json!({"sessionKey": key.key, "reason": "message", "version": meta.version, "ts": now_ms()}),
    );
    let guard = node.run_started();
    let node = node.clone();
    let run_id = idempotency_key.clone();
    tokio::spawn(async move {
        let _guard = guard;
        drive(&node, &key, &message, &run_id, timeout).await;
    });
    Ok(json!({"runId": idempotency_key, "status": "started"}))
}

/// Numbers a run's events; `chat` and `agent` events share the sequence.
struct RunEvents<'a> {
    node: &'a Node,
    key: &'a SessionKey,
    run_id: &'a str,
    seq: u64,
}

impl RunEvents<'_> {
    fn chat(&mut self, state: &str, extra: Value) {
        self.seq += 1;
        let mut payload = json!({
            "runId": self.run_id, "sessionKey": self.key.key, "agentId": self.key.agent_id,
            "seq": self.seq, "state": state,
        });
        merge(&mut payload, extra);
        self.node.bus.emit("chat", &payload);
    }

    fn agent(&mut self, stream: &str, data: Value) {
        self.seq += 1;
        self.node.bus.emit(
            "agent",
            &json!({
                "runId": self.run_id, "sessionKey": self.key.key, "agentId": self.key.agent_id,
                "stream": stream, "data": data, "seq": self.seq, "ts": now_ms(), "isHeartbeat": false,
            }),
        );
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

fn assistant(text: &str) -> Value {
    json!({"role": "assistant", "content": [{"type": "text", "text": text}], "timestamp": now_ms()})
}

async fn drive(
    node: &Node,
    key: &SessionKey,
    message: &str,
    run_id: &str,
    timeout: Option<Duration>,
) {
    let mut spec = node.settings.agent(&key.agent_id);
    if let Some(t) = timeout {
        spec.timeout = t;
    }
    let mut events = RunEvents {
        node,
        key,
        run_id,
        seq: 0,
    };
    let started_at = now_ms();
    events.agent(
        "lifecycle",
        json!({"phase": "start", "startedAt": started_at}),
    );
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let env = [
        ("OPENCLAW_SESSION_KEY", key.key.as_str()),
        ("OPENCLAW_AGENT_ID", key.agent_id.as_str()),
        ("OPENCLAW_RUN_ID", run_id),
    ];
    let answer = crate::agent::answer(&spec, &node.settings.workspace, &env, message, tx);
    tokio::pin!(answer);
    let mut text = String::new();
    // Text not yet announced: events are spaced out (see DELTA_INTERVAL), so a
    // fast agent makes a few large events instead of a flood of small ones.
    let mut unsent = String::new();
    let mut outcome = None;
    let mut last_delta: Option<Instant> = None;
    loop {
        let chunk = tokio::select! {
            r = &mut answer, if outcome.is_none() => {
                outcome = Some(r);
                continue;
            }
            chunk = rx.recv() => match chunk {
                Some(chunk) => chunk,
                None if outcome.is_some() => break,
                None => continue,
            },
        };
        text.push_str(&chunk);
        unsent.push_str(&chunk);
        if last_delta.is_none_or(|t| t.elapsed() >= DELTA_INTERVAL) {
            events.agent("assistant", json!({"delta": unsent}));
            events.chat("delta", json!({"message": assistant(&text)}));
            unsent.clear();
            last_delta = Some(Instant::now());
        }
    }
    if !unsent.is_empty() {
        events.agent("assistant", json!({"delta": unsent}));
    }
    let meta = json!({"id": uuid::Uuid::new_v4().to_string(), "runId": run_id, "node": node.settings.node});
    let outcome = match outcome.expect("loop ends with an outcome") {
        Ok(()) => {
            let mut reply = json!({"role": "assistant", "content": text, "timestamp": now_ms(), "__openclaw": meta});
            match node
                .timed("append", node.store.append(&key.key, &key.agent_id, &reply))
                .await
            {
                Ok(_) => {
                    reply["content"] = json!([{"type": "text", "text": text}]);
                    if let Some(m) = reply.as_object_mut() {
                        m.remove("__openclaw");
                    }
                    events.chat("final", json!({"message": reply}));
                    Ok(())
                }
                Err(e) => Err(format!("the reply could not be saved: {e}")),
            }
        }
        Err(e) => {
            let record = json!({
                "role": "custom", "customType": "run-error", "display": true,
                "content": format!("This turn ended with an error: {e}"),
                "timestamp": now_ms(), "__openclaw": meta,
            });
            let _ = node
                .timed(
                    "append",
                    node.store.append(&key.key, &key.agent_id, &record),
                )
                .await;
            Err(e)
        }
    };
    let result = match &outcome {
        Ok(()) => {
            events.agent(
                "lifecycle",
                json!({"phase": "end", "startedAt": started_at, "endedAt": now_ms()}),
            );
            "ok"
        }
        Err(e) => {
            events.agent(
                "lifecycle",
                json!({"phase": "error", "startedAt": started_at, "endedAt": now_ms(), "error": e}),
            );
            events.chat("error", json!({"errorMessage": e}));
            "error"
        }
    };
    if let Err(e) = node
        .timed("finish_run", node.store.finish_run(run_id, result))
        .await
    {
        tracing::warn!(run_id, error = %e, "run outcome not recorded");
    }
    node.metrics.runs.with_label_values(&[result]).inc();
    node.bus.emit(
        "sessions.changed",
        &json!({"sessionKey": key.key, "reason": "message", "ts": now_ms()}),
    );
}
