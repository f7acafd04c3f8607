//! Request params checked against the official gateway's own schemas.
//!
//! The official OpenClaw gateway (npm `openclaw` 2026.9.6) validates every
//! request's params with TypeBox schemas and reports failures in one line
//! (`invalid chat.send params: at /deliver: must be boolean`). Clients rely on
//! both: they send every field those schemas allow, and some recognise the
//! messages. So this node takes the schemas themselves as the contract:
//! `official-schemas.json` is exported from the official package by
//! `scripts/export-official-schemas.mjs`, and [`check`] walks the subset of
//! JSON Schema they use, producing the official messages in the official
//! order (per object: the first missing required property, the first
//! unexpected property, then each property in schema order; repeated messages
//! once).

use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The exported schemas, by method name (`connect` included).
const OFFICIAL: &str = include_str!("official-schemas.json");

fn schemas() -> &'static Map<String, Value> {
    static SCHEMAS: OnceLock<Map<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| match serde_json::from_str(OFFICIAL) {
        Ok(Value::Object(m)) => m,
        _ => panic!("protocol/official-schemas.json is not a JSON object: re-export it"),
    })
}

/// Checks `params` against the official schema for `method`. `Ok` when the
/// method has no schema here; `Err` is the official message without the
/// `invalid <method> params: ` prefix.
pub fn check(method: &str, params: &Value) -> Result<(), String> {
    let Some(schema) = schemas().get(schema_of(method)) else {
        return Ok(());
    };
    let mut errors = Vec::new();
    walk(schema, params, "", &mut errors);
    let mut unique: Vec<String> = Vec::new();
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    if unique.is_empty() {
        Ok(())
    } else {
        Err(unique.join("; "))
    }
}

/// The official schema for `method`, if this node has it (for tests and docs).
pub fn has_schema(method: &str) -> bool {
    schemas().contains_key(schema_of(method))
}

/// The schema a method's params are checked with: its own, except where the
/// official handler validates with another method's (`sessions.subscribe`
/// takes `sessions.list`'s params). `chat.startup` with a `sessionKey` is
/// answered as `chat.history` (its own schema's `shortId` / `slugHint` links
/// are not supported here), so its params are those of `chat.history`.
fn schema_of(method: &str) -> &str {
    match method {
        "sessions.subscribe" => "sessions.list",
        "chat.startup" => "chat.history",
        other => other,
    }
}

fn at(path: &str, message: impl std::fmt::Display) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("at {path}: {message}")
    }
}

fn number(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// Appends the errors of `value` against `schema` at `path`.
fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let mut branch_errors = Vec::new();
        for b in branches {
            let before = branch_errors.len();
            walk(b, value, path, &mut branch_errors);
            if branch_errors.len() == before {
                return;
            }
        }
        errors.extend(branch_errors);
        errors.push(at(path, "must match a schema in anyOf"));
        return;
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        if !type_matches(kind, value) {
            errors.push(at(path, format!("must be {kind}")));
            return;
        }
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            errors.push(at(path, "must be equal to constant"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(at(path, "must be equal to one of the allowed values"));
            return;
        }
    }
    match value {
        Value::String(s) => string(schema, s, path, errors),
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = number(schema, "minimum").filter(|m| n < *m) {
                errors.push(at(path, format!("must be >= {}", fmt_num(min))));
            }
            if let Some(max) = number(schema, "maximum").filter(|m| n > *m) {
                errors.push(at(path, format!("must be <= {}", fmt_num(max))));
            }
        }
        Value::Array(items) => array(schema, items, path, errors),
        Value::Object(obj) => object(schema, obj, path, errors),
        _ => {}
    }
    // `allOf` of `not`s: combinations a schema forbids (`models.list`:
    // `preparedOnly` with `refresh`, `sessionKey` with `authProfileId`).
    for branch in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk(branch, value, path, errors);
    }
    if let Some(forbidden) = schema.get("not") {
        let mut inner = Vec::new();
        walk(forbidden, value, path, &mut inner);
        if inner.is_empty() {
            errors.push(at(path, "must not be valid"));
        }
    }
}

fn string(schema: &Value, s: &str, path: &str, errors: &mut Vec<String>) {
    let len = s.chars().count() as f64;
    if let Some(min) = number(schema, "minLength").filter(|m| len < *m) {
        errors.push(at(
            path,
            format!("must not have fewer than {} characters", fmt_num(min)),
        ));
    }
    if let Some(max) = number(schema, "maxLength").filter(|m| len > *m) {
        errors.push(at(
            path,
            format!("must not have more than {} characters", fmt_num(max)),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        if !regex::Regex::new(pattern).is_ok_and(|r| r.is_match(s)) {
            errors.push(at(path, format!("must match pattern \"{pattern}\"")));
        }
    }
}

fn array(schema: &Value, items: &[Value], path: &str, errors: &mut Vec<String>) {
    let n = items.len() as f64;
    if let Some(min) = number(schema, "minItems").filter(|m| n < *m) {
        errors.push(at(
            path,
            format!("must not have fewer than {} items", fmt_num(min)),
        ));
    }
    if let Some(max) = number(schema, "maxItems").filter(|m| n > *m) {
        errors.push(at(
            path,
            format!("must not have more than {} items", fmt_num(max)),
        ));
    }
    if schema.get("uniqueItems") == Some(&Value::Bool(true))
        && items
            .iter()
            .enumerate()
            .any(|(i, a)| items[..i].contains(a))
    {
        errors.push(at(path, "must not have duplicate items"));
    }
    if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
        for (i, item) in items.iter().enumerate() {
            walk(item_schema, item, &format!("{path}/{i}"), errors);
        }
    }
}

fn object(schema: &Value, obj: &Map<String, Value>, path: &str, errors: &mut Vec<String>) {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required = schema.get("required").and_then(Value::as_array);
    if let Some(missing) = required
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|r| !obj.contains_key(*r))
    {
        errors.push(at(path, format!("must have required property '{missing}'")));
    }
    if let Some(max) = number(schema, "maxProperties").filter(|m| obj.len() as f64 > *m) {
        errors.push(at(
            path,
            format!("must not have more than {} properties", fmt_num(max)),
        ));
    }
    let patterns = schema.get("patternProperties").and_then(Value::as_object);
    let pattern_for = |key: &str| {
        patterns.into_iter().flatten().find_map(|(p, s)| {
            regex::Regex::new(p)
                .is_ok_and(|r| r.is_match(key))
                .then_some(s)
        })
    };
    let additional = schema.get("additionalProperties");
    if additional == Some(&Value::Bool(false)) {
        if let Some(extra) = obj
            .keys()
            .find(|k| !properties.contains_key(*k) && pattern_for(k).is_none())
        {
            let where_ = if path.is_empty() { "root" } else { path };
            errors.push(format!("at {where_}: unexpected property '{extra}'"));
        }
    }
    for (name, sub) in properties {
        if let Some(v) = obj.get(name) {
            walk(sub, v, &format!("{path}/{name}"), errors);
        }
    }
    for (key, v) in obj {
        if properties.contains_key(key) {
            continue;
        }
        if let Some(sub) = pattern_for(key) {
            walk(sub, v, &format!("{path}/{key}"), errors);
        } else if let Some(sub) = additional.filter(|a| a.is_object()) {
            walk(sub, v, &format!("{path}/{key}"), errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Messages as the official gateway 2026.9.6 gave them for the same params
    /// (recorded with its own validators).
    #[test]
    fn official_messages() {
        let cases = [
            ("chat.send", json!({"sessionKey":"main","message":"x","idempotencyKey":"k","deliver":"no"}), "at /deliver: must be boolean"),
            ("chat.send", json!({"sessionKey":"main","message":"x"}), "must have required property 'idempotencyKey'"),
            ("chat.send", json!({"sessionKey":"main","message":"x","idempotencyKey":"k","timeoutMs":-1}), "at /timeoutMs: must be >= 0"),
            ("chat.send", json!({"sessionKey":"main","message":"x","idempotencyKey":"","foo":1}), "at root: unexpected property 'foo'; at /idempotencyKey: must not have fewer than 1 characters"),
            ("chat.history", json!({"sessionKey":"main","limit":1001}), "at /limit: must be <= 1000"),
            ("chat.history", json!({"sessionKey":"main","limit":1.5}), "at /limit: must be integer"),
            ("chat.history", json!({"sessionKey":"m","inputRunIds":["a","a"]}), "at /inputRunIds: must not have duplicate items"),
            ("sessions.list", json!({"limit":0,"includeGlobal":"x"}), "at /limit: must be >= 1; at /includeGlobal: must be boolean"),
            ("sessions.list", json!({"archived":"x"}), "at /archived: must be boolean; at /archived: must be equal to constant; at /archived: must match a schema in anyOf"),
            ("sessions.reset", json!({"key":"main","reason":"x"}), "at /reason: must be equal to constant; at /reason: must match a schema in anyOf"),
            ("models.list", json!({"preparedOnly":true,"refresh":true}), "must not be valid"),
            ("models.list", json!({"sessionKey":"main","authProfileId":"x"}), "must not be valid"),
            ("commands.list", json!({"scope":"x"}), "at /scope: must be equal to constant; at /scope: must match a schema in anyOf"),
            ("sessions.subscribe", json!({"limit":0}), "at /limit: must be >= 1"),
            ("agents.list", json!({"x":1}), "at root: unexpected property 'x'"),
            ("chat.send", json!({"zzz":1,"message":2,"aaa":3}), "must have required property 'sessionKey'; at root: unexpected property 'zzz'; at /message: must be string"),
            ("connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"1","platform":"p","mode":"zz","extra":1},"auth":{"tok":1},"scopes":"x"}),
             "at /client: unexpected property 'extra'; at /client/mode: must be equal to one of the allowed values; at /scopes: must be array; at /auth: unexpected property 'tok'"),
        ];
        for (method, params, expected) in cases {
            assert_eq!(
                check(method, &params).unwrap_err(),
                expected,
                "{method} {params}"
            );
        }
    }

    #[test]
    fn what_the_official_clients_send_passes() {
        let tui = json!({"sessionKey":"agent:main:main","message":"hi","thinking":"low","deliver":false,"timeoutMs":30000,"idempotencyKey":"abc"});
        assert_eq!(check("chat.send", &tui), Ok(()));
        let list = json!({"includeGlobal":true,"includeUnknown":true,"limit":50});
        assert_eq!(check("sessions.list", &list), Ok(()));
        assert_eq!(check("no.such.method", &json!({"x":1})), Ok(()));
        assert!(has_schema("connect"));
    }
}
