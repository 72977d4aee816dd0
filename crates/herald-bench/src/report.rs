//! The result of a run: ordered sections of named figures, rendered as a readable table for
//! people and as JSON for machines.
//!
//! Sections keep their entries in insertion order and serialise straight to the writer, so
//! the JSON reads in the same order as the table (without turning on serde_json's
//! `preserve_order` for the whole workspace).

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct};

use crate::stats::LatencySummary;

/// One figure. The variant decides how it is printed; JSON gets the plain number or string.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Count(u64),
    /// Events per second.
    Rate(f64),
    Secs(f64),
    Millis(f64),
    Percent(f64),
    Bytes(u64),
    Text(String),
}

impl Value {
    fn display(&self) -> String {
        match self {
            Self::Count(n) => group_thousands(*n),
            Self::Rate(r) => format!("{} /s", group_thousands(r.round() as u64)),
            Self::Secs(s) => format!("{s:.2} s"),
            Self::Millis(ms) => format!("{ms:.2} ms"),
            Self::Percent(p) => format!("{p:.1} %"),
            Self::Bytes(b) => human_bytes(*b),
            Self::Text(t) => t.clone(),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) | Self::Bytes(n) => s.serialize_u64(*n),
            // Rounded so the JSON does not carry float noise.
            Self::Rate(f) | Self::Secs(f) | Self::Millis(f) | Self::Percent(f) => {
                s.serialize_f64((f * 1000.0).round() / 1000.0)
            }
            Self::Text(t) => s.serialize_str(t),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// JSON key (snake_case).
    pub key: &'static str,
    /// Label in the table.
    pub label: &'static str,
    pub value: Value,
}

/// An ordered list of figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    entries: Vec<Entry>,
}

impl Section {
    pub fn push(&mut self, key: &'static str, label: &'static str, value: Value) {
        self.entries.push(Entry { key, label, value });
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }
}

impl Serialize for Section {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for e in &self.entries {
            map.serialize_entry(e.key, &e.value)?;
        }
        map.end()
    }
}

/// A named latency distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub key: &'static str,
    pub label: &'static str,
    pub summary: LatencySummary,
}

struct Latencies<'a>(&'a [Latency]);

impl Serialize for Latencies<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for l in self.0 {
            map.serialize_entry(l.key, &l.summary)?;
        }
        map.end()
    }
}

/// Everything a run found out.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub scenario: &'static str,
    pub target: Section,
    pub parameters: Section,
    pub results: Section,
    pub latencies: Vec<Latency>,
    pub load_generator: Section,
    /// The server's CPU and memory, when its PID was given.
    pub server: Section,
    pub machine: Section,
    pub warnings: Vec<String>,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Report", 10)?;
        st.serialize_field("scenario", self.scenario)?;
        st.serialize_field(
            "generator",
            concat!("herald-bench ", env!("CARGO_PKG_VERSION")),
        )?;
        st.serialize_field("target", &self.target)?;
        st.serialize_field("parameters", &self.parameters)?;
        st.serialize_field("results", &self.results)?;
        st.serialize_field("latency_ms", &Latencies(&self.latencies))?;
        st.serialize_field("load_generator", &self.load_generator)?;
        st.serialize_field("server", &self.server)?;
        st.serialize_field("machine", &self.machine)?;
        st.serialize_field("warnings", &self.warnings)?;
        st.end()
    }
}

impl Report {
    pub fn new(scenario: &'static str) -> Self {
        Self {
            scenario,
            ..Self::default()
        }
    }

    pub fn latency(&mut self, key: &'static str, label: &'static str, summary: LatencySummary) {
        self.latencies.push(Latency {
            key,
            label,
            summary,
        });
    }

    /// Writes the JSON result to `path`, or to stdout when `path` is `-`.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        if path.as_os_str() == "-" {
            std::io::stdout().lock().write_all(text.as_bytes())?;
        } else {
            std::fs::write(path, text)?;
        }
        Ok(())
    }

    /// The human-readable summary.
    pub fn print_table(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out)?;
        writeln!(out, "herald-bench {}", self.scenario)?;
        for (title, section) in [
            ("target", &self.target),
            ("parameters", &self.parameters),
            ("results", &self.results),
        ] {
            write_section(out, title, section)?;
        }
        if !self.latencies.is_empty() {
            writeln!(
                out,
                "\nlatency (ms)                {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "count", "mean", "p50", "p90", "p99", "p99.9", "max"
            )?;
            for l in &self.latencies {
                let s = &l.summary;
                writeln!(
                    out,
                    "  {:<26}{:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                    l.label, s.count, s.mean_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
                )?;
            }
        }
        write_section(out, "load generator (this process)", &self.load_generator)?;
        write_section(out, "server", &self.server)?;
        write_section(out, "machine during the run", &self.machine)?;
        if !self.warnings.is_empty() {
            writeln!(out, "\nwarnings")?;
            for w in &self.warnings {
                writeln!(out, "  ! {w}")?;
            }
        }
        Ok(())
    }
}

fn write_section(out: &mut impl Write, title: &str, section: &Section) -> std::io::Result<()> {
    if section.entries.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title}")?;
    for e in &section.entries {
        match &e.value {
            // Text (URLs, names) can be long: left-aligned, numbers right-aligned.
            Value::Text(t) => writeln!(out, "  {:<32} {t}", e.label)?,
            v => writeln!(out, "  {:<32} {:>16}", e.label, v.display())?,
        }
    }
    Ok(())
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 10 * 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{LatencySummary, new_histogram};

    fn sample() -> Report {
        let mut r = Report::new("fanout");
        r.target.push(
            "url",
            "HTTP API",
            Value::Text("http://127.0.0.1:6001".into()),
        );
        r.parameters
            .push("subscribers", "subscribers", Value::Count(10_000));
        r.results
            .push("deliveries", "deliveries", Value::Count(1_234_567));
        r.results.push(
            "deliveries_per_s",
            "deliveries/s",
            Value::Rate(301_234.567_89),
        );
        r.results.push(
            "rss_per_connection_bytes",
            "RSS per connection",
            Value::Bytes(11_800),
        );
        let mut h = new_histogram();
        h.record(1500).unwrap();
        r.latency(
            "end_to_end",
            "end-to-end",
            LatencySummary::from_histogram(&h),
        );
        r.load_generator
            .push("cpu_percent_of_one_core", "cpu", Value::Percent(87.25));
        r.warnings.push("something to know".into());
        r
    }

    #[test]
    fn json_shape_is_stable_and_ordered() {
        let text = serde_json::to_string(&sample()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["scenario"], "fanout");
        assert_eq!(v["parameters"]["subscribers"], 10_000);
        assert_eq!(v["results"]["deliveries"], 1_234_567);
        assert_eq!(v["results"]["deliveries_per_s"], 301_234.568);
        assert_eq!(v["latency_ms"]["end_to_end"]["count"], 1);
        assert_eq!(v["latency_ms"]["end_to_end"]["p99_ms"], 1.5);
        assert_eq!(v["load_generator"]["cpu_percent_of_one_core"], 87.25);
        assert_eq!(v["warnings"][0], "something to know");
        // Sections keep insertion order in the text.
        let a = text.find("\"deliveries\"").unwrap();
        let b = text.find("\"deliveries_per_s\"").unwrap();
        assert!(a < b);
        for key in [
            "scenario",
            "generator",
            "target",
            "parameters",
            "results",
            "latency_ms",
            "load_generator",
            "warnings",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
    }

    #[test]
    fn table_is_readable() {
        let mut out = Vec::new();
        sample().print_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("1,234,567"), "{text}");
        assert!(text.contains("301,235 /s"), "{text}");
        assert!(text.contains("11.5 KiB"), "{text}");
        assert!(text.contains("end-to-end"), "{text}");
        assert!(text.contains("87.2 %") || text.contains("87.3 %"), "{text}");
    }

    #[test]
    fn number_formatting() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(12 * 1024), "12.0 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
