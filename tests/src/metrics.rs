//! Reading the Prometheus text format the edge serves on `/metrics`, so a
//! test can compare the edge's own account (in-flight, tunnels, codes) with
//! what the backends observed.

use std::collections::BTreeMap;

/// One sample: a metric name, its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (`openclaw_edge_requests_total`, `..._bucket`...).
    pub name: String,
    /// Label names to values.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// Every sample of one scrape.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// In the order served.
    pub samples: Vec<Sample>,
}

impl Metrics {
    /// Parses the text format; comment lines and malformed lines are skipped.
    pub fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Metrics { samples }
    }

    /// Samples of `name` whose labels include every pair of `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The value of the one sample of `name` with `labels`, if there is one.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.matching(name, labels).next().map(|s| s.value)
    }

    /// The sum over every sample of `name` with `labels` (0 if none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }
}

/// `name{a="x",b="y"} 1.5` or `name 1.5`.
fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y"`, with `\"`, `\\` and `\n` escapes in values.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').trim().to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_values_and_comments() {
        let m = Metrics::parse(
            "# HELP x y\n# TYPE x counter\n\
             openclaw_edge_requests_total{code=\"2xx\",server=\"127.0.0.1:1\",upstream=\"u\"} 3\n\
             openclaw_edge_websocket_tunnels 2\n\
             odd{v=\"a\\\"b\"} 1\n",
        );
        assert_eq!(
            m.get(
                "openclaw_edge_requests_total",
                &[("upstream", "u"), ("code", "2xx")]
            ),
            Some(3.0)
        );
        assert_eq!(m.get("openclaw_edge_websocket_tunnels", &[]), Some(2.0));
        assert_eq!(m.get("odd", &[("v", "a\"b")]), Some(1.0));
    }
}
