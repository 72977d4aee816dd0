//! Export encodings: CSV (one header line, one line per event, RFC 4180 quoting) and NDJSON
//! (one full event object per line). Encoding works on chunks of records, so an export of
//! any size is produced piece by piece and never held in memory.
//!
//! NDJSON values are written exactly as recorded: it is the export that reproduces the
//! trail. CSV is what gets opened in a spreadsheet, and payloads come from whoever can
//! trigger events, so a CSV cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return (which spreadsheets evaluate as a formula: `=HYPERLINK(…)`, `@SUM(…)`) is
//! neutralised as OWASP recommends, by prefixing a `'`. The cell then reads as text, and the
//! `'` is the only change; use NDJSON for the exact values.

use std::fmt::Write as _;

use bytes::Bytes;

use crate::event::EventRecord;
use crate::query::ParamError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Ndjson,
}

impl ExportFormat {
    pub fn parse(value: &str) -> Result<Self, ParamError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "ndjson" | "jsonl" | "json" => Ok(Self::Ndjson),
            other => Err(ParamError::new(
                "format",
                format_args!("must be csv or ndjson, got {other:?}"),
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }

    /// What precedes the first record.
    pub fn preamble(self) -> Bytes {
        match self {
            Self::Csv => Bytes::from(format!("{}\r\n", CSV_COLUMNS.join(","))),
            Self::Ndjson => Bytes::new(),
        }
    }

    /// Encodes a chunk of records.
    pub fn encode(self, records: &[EventRecord]) -> Bytes {
        let mut out = String::with_capacity(records.len() * 512);
        for r in records {
            match self {
                Self::Csv => csv_line(r, &mut out),
                Self::Ndjson => {
                    // Serialising our own structs cannot fail.
                    out.push_str(&serde_json::to_string(r).unwrap_or_default());
                    out.push('\n');
                }
            }
        }
        Bytes::from(out)
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "seq",
    "received_at",
    "app_id",
    "name",
    "channels",
    "action",
    "model",
    "object_id",
    "object_repr",
    "user",
    "timestamp",
    "severity",
    "status",
    "error",
    "changes",
    "ip",
    "socket_id",
    "client_ip",
    "user_agent",
    "library",
    "auth_key",
    "idempotency_key",
    "data",
];

fn csv_line(r: &EventRecord, out: &mut String) {
    let s = &r.summary;
    let changes = s
        .changes
        .as_ref()
        .map(|c| serde_json::to_string(c).unwrap_or_default());
    // Channel names cannot contain spaces (Pusher's naming rules), so a space separates
    // them unambiguously.
    let channels = s.channels.join(" ");
    let _ = write!(out, "{}", s.seq);
    let cells: [Option<&str>; 22] = [
        Some(&s.received_at),
        Some(&r.app_id),
        Some(&s.name),
        Some(&channels),
        s.action.as_deref(),
        s.model.as_deref(),
        s.object_id.as_deref(),
        s.object_repr.as_deref(),
        s.user.as_deref(),
        s.timestamp.as_deref(),
        s.severity.as_deref(),
        s.status.as_deref(),
        s.error.as_deref(),
        changes.as_deref(),
        s.ip.as_deref(),
        r.socket_id.as_deref(),
        r.client_ip.as_deref(),
        r.user_agent.as_deref(),
        r.library.as_deref(),
        Some(&r.auth_key),
        r.idempotency_key.as_deref(),
        Some(&r.data),
    ];
    for cell in cells {
        out.push(',');
        csv_cell(cell.unwrap_or(""), out);
    }
    out.push_str("\r\n");
}

/// Characters that make a spreadsheet read a cell as a formula when they start it.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// RFC 4180: quote a cell holding a comma, quote, CR or LF (or edge spaces, which some
/// readers trim), doubling the quotes inside. A would-be formula gets a leading `'` first.
fn csv_cell(value: &str, out: &mut String) {
    let neutralised;
    let value = if value.starts_with(FORMULA_STARTS) {
        neutralised = format!("'{value}");
        neutralised.as_str()
    } else {
        value
    };
    let needs_quotes =
        value.contains([',', '"', '\r', '\n']) || value.starts_with(' ') || value.ends_with(' ');
    if needs_quotes {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_only_when_needed() {
        let mut out = String::new();
        for v in ["plain", "a,b", "say \"hi\"", "two\nlines", " edge", ""] {
            csv_cell(v, &mut out);
            out.push('|');
        }
        assert_eq!(
            out,
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\" edge\"||"
        );
    }

    #[test]
    fn would_be_formulas_are_neutralised() {
        let mut out = String::new();
        for v in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "a=b",
        ] {
            csv_cell(v, &mut out);
            out.push('|');
        }
        assert_eq!(
            out,
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"|'+1|'-2+3|'@SUM(A1)|'\tx|a=b|"
        );
    }

    #[test]
    fn format_names_are_checked() {
        assert_eq!(ExportFormat::parse("CSV").unwrap(), ExportFormat::Csv);
        assert_eq!(ExportFormat::parse("xml").unwrap_err().param, "format");
    }
}
