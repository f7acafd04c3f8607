//! Durations as the seed writes them: `500ms`, `10s`, `30m`, `24h`, `7d`.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// A config duration. A bare number is refused: the unit is what makes `30` readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// Parses `<number><unit>` with unit `ms`, `s`, `m`, `h` or `d`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let expected = "expected a number and a unit, like 500ms, 10s, 30m, 24h or 7d";
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: {expected}"))?;
        let ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(format!("`{text}` has no known unit: {expected}")),
        };
        n.checked_mul(ms)
            .map(|ms| ConfigDuration(Duration::from_millis(ms)))
            .ok_or_else(|| format!("`{text}` is too long"))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ConfigDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        let ms = |t: &str| ConfigDuration::parse(t).unwrap().0.as_millis();
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("10s"), 10_000);
        assert_eq!(ms("30m"), 1_800_000);
        assert_eq!(ms("24h"), 86_400_000);
        assert_eq!(ms("2d"), 172_800_000);
    }

    #[test]
    fn refuses_bare_numbers_and_unknown_units() {
        assert!(ConfigDuration::parse("30")
            .unwrap_err()
            .contains("no known unit"));
        assert!(ConfigDuration::parse("5w").is_err());
        assert!(ConfigDuration::parse("s")
            .unwrap_err()
            .contains("not a duration"));
    }
}
