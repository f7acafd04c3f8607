//! A method's params, checked against the official schema (see
//! `protocol::schema`) before a method reads them, so every field an official
//! client sends is accepted and every fault is reported with the official
//! message: `invalid <method> params: <what>`. Methods the official gateway
//! does not validate (`health`, `status`, `system-presence`) accept any params.

use crate::protocol::frames::ErrorShape;
use crate::protocol::schema;
use serde_json::Value;

/// A method's params with the method name for messages.
pub struct Params<'a> {
    method: &'static str,
    value: &'a Value,
}

impl<'a> Params<'a> {
    /// Checks `value` against the official schema of `method`.
    pub fn new(method: &'static str, value: &'a Value) -> Result<Self, ErrorShape> {
        let p = Params { method, value };
        schema::check(method, value).map_err(|what| p.error(&what))?;
        Ok(p)
    }

    /// An error about these params.
    pub fn error(&self, what: &str) -> ErrorShape {
        ErrorShape::invalid(format!("invalid {} params: {what}", self.method))
    }

    /// A required string that is not blank (the schema checked its type; a
    /// blank one would name no session or run).
    pub fn string(&self, name: &str) -> Result<&'a str, ErrorShape> {
        match self.value.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            None => Err(self.error(&format!("must have required property '{name}'"))),
            Some(_) => Err(self.error(&format!("at /{name}: must be a non-empty string"))),
        }
    }

    /// An optional string (its type was checked by the schema).
    pub fn opt_string(&self, name: &str) -> Option<&'a str> {
        self.value.get(name).and_then(Value::as_str)
    }

    /// An optional boolean (its type was checked by the schema).
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.value.get(name).and_then(Value::as_bool)
    }

    /// An optional whole number (range checked by the schema), at most `cap`:
    /// the official gateway has no upper bound where ours bounds the work.
    pub fn opt_u64(&self, name: &str, cap: u64) -> Option<u64> {
        self.value
            .get(name)
            .and_then(Value::as_u64)
            .map(|n| n.min(cap))
    }
}
