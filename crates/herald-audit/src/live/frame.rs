//! The stream's Server-Sent Events messages. Each is a complete SSE block (ending in a
//! blank line), encoded once: an event's frame is built by its app's tail and shared by
//! every reader it goes to.

use bytes::Bytes;
use serde_json::json;

use crate::event::EventRecord;

/// How long a browser's `EventSource` waits before reconnecting, in milliseconds.
pub const RETRY_MS: u64 = 1000;

/// Keeps proxies and load balancers from closing an idle stream.
pub const HEARTBEAT: &[u8] = b": heartbeat\n\n";

/// One recorded event: `id` is its seq, so a reconnecting reader resumes after it.
pub fn event(record: &EventRecord) -> Bytes {
    // Serialising our own struct cannot fail, and compact JSON has no raw newline, so the
    // record is one `data:` line.
    let json = serde_json::to_string(record).unwrap_or_default();
    Bytes::from(format!(
        "id: {}\nevent: audit\ndata: {json}\n\n",
        record.summary.seq
    ))
}

/// The first block: the reconnection delay, and (as an `id` with no data, which sets a
/// client's last event id without dispatching anything) the seq the stream starts after.
pub fn opening(after: i64) -> Bytes {
    Bytes::from(format!(
        ": herald audit stream\nretry: {RETRY_MS}\nid: {after}\n\n"
    ))
}

/// The last block of a stream herald ends on purpose: why, and where to resume.
pub fn cutoff(reason: &str, resume_after: i64) -> Bytes {
    let data = json!({"reason": reason, "resume_after": resume_after});
    Bytes::from(format!("event: cutoff\ndata: {data}\n\n"))
}
