//! Checking request params the way OpenClaw reports them: unknown properties
//! and wrong types are `INVALID_REQUEST` errors naming the method and property.

use crate::protocol::frames::ErrorShape;
use serde_json::Value;

/// A method's params with the method name for messages.
pub struct Params<'a> {
    method: &'static str,
    value: &'a Value,
}

impl<'a> Params<'a> {
    /// Checks that only `allowed` properties are present.
    pub fn new(
        method: &'static str,
        value: &'a Value,
        allowed: &[&str],
    ) -> Result<Self, ErrorShape> {
        let p = Params { method, value };
        if let Some(obj) = value.as_object() {
            if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(p.error(&format!("at root: unexpected property '{extra}'")));
            }
        }
        Ok(p)
    }

    /// An error about these params.
    pub fn error(&self, what: &str) -> ErrorShape {
        ErrorShape::invalid(format!("invalid {} params: {what}", self.method))
    }

    /// A required non-empty string.
    pub fn string(&self, name: &str) -> Result<&'a str, ErrorShape> {
        match self.value.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            None => Err(self.error(&format!("must have required property '{name}'"))),
            Some(_) => Err(self.error(&format!("at /{name}: must be a non-empty string"))),
        }
    }

    /// An optional string.
    pub fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ErrorShape> {
        match self.value.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.error(&format!("at /{name}: must be string"))),
        }
    }

    /// An optional whole number within `min..=max`.
    pub fn opt_int(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ErrorShape> {
        match self.value.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(self.error(&format!(
                    "at /{name}: must be an integer from {min} to {max}"
                ))),
            },
        }
    }
}
