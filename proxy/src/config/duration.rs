//! Durations written the way nginx writes them: `500ms`, `10s`, `1h 30m`, `2d`.
//!
//! A bare number means seconds, as in nginx (`proxy_read_timeout 60;`). The
//! same parser serves the YAML model and the nginx translation, so both accept
//! exactly the same spellings.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// A duration from the config, kept with the text it was written as so that
/// messages and `convert` can show it back unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ConfDuration(pub Duration);

impl ConfDuration {
    /// Builds one from whole seconds (used for defaults).
    pub const fn secs(s: u64) -> Self {
        ConfDuration(Duration::from_secs(s))
    }
}

/// Parses `1h 30m`, `500ms`, `10s`, `10` (seconds). Units: ms s m h d w M y,
/// as nginx's `ngx_parse_time`. Each unit may appear once, largest first.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration: write e.g. `10s`, `500ms` or `1h 30m`".into());
    }
    let mut total: u128 = 0;
    let mut last_rank = usize::MAX;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!(
                "invalid duration `{s}`: expected a number before the unit, e.g. `10s`"
            ));
        }
        let n: u128 = s[start..i]
            .parse()
            .map_err(|_| format!("invalid duration `{s}`: number too large"))?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        // (rank, milliseconds per unit); rank enforces nginx's largest-first order.
        let (rank, ms) = match unit {
            "y" => (0, 365 * 86_400_000),
            "M" => (1, 30 * 86_400_000),
            "w" => (2, 7 * 86_400_000),
            "d" => (3, 86_400_000),
            "h" => (4, 3_600_000),
            "m" => (5, 60_000),
            "s" | "" => (6, 1_000),
            "ms" => (7, 1),
            other => {
                return Err(format!(
                    "invalid duration `{s}`: unknown unit `{other}` (use ms, s, m, h, d, w, M, y)"
                ))
            }
        };
        if rank <= last_rank && last_rank != usize::MAX {
            return Err(format!(
                "invalid duration `{s}`: units must go from largest to smallest, each once"
            ));
        }
        last_rank = rank;
        total = total
            .checked_add(n * ms)
            .filter(|t| *t <= u64::MAX as u128)
            .ok_or_else(|| format!("invalid duration `{s}`: too large"))?;
    }
    Ok(Duration::from_millis(total as u64))
}

impl<'de> Deserialize<'de> for ConfDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ConfDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `10s`, `500ms` or `1h 30m`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ConfDuration(Duration::from_secs(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(|v| ConfDuration(Duration::from_secs(v)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_duration(v).map(ConfDuration).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for ConfDuration {
    /// Prints the shortest nginx spelling (`90s` -> `1m 30s`), used by `convert`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        let mut parts = Vec::new();
        for (unit, size) in [
            ("d", 86_400_000u128),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if ms >= size {
                parts.push(format!("{}{unit}", ms / size));
                ms %= size;
            }
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nginx_spellings() {
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(
            parse_duration("1m 500ms").unwrap(),
            Duration::from_millis(60_500)
        );
    }

    #[test]
    fn rejects_bad_spellings_with_a_hint() {
        for bad in ["", "s", "10x", "5m 1h", "1s 2s", "-1s", "ten"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn displays_round_trip() {
        for text in ["0s", "500ms", "10s", "1m 30s", "1h", "2d 3h"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(ConfDuration(d).to_string(), text);
            assert_eq!(parse_duration(&ConfDuration(d).to_string()).unwrap(), d);
        }
    }
}
