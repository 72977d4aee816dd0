//! Issue 10: exports whose readers never read are abandoned after the write timeout, so
//! they cannot hold the export slots and block every later export; an abandoned export
//! ends with an error, never as a clean (silently short) file.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use herald_audit::export::ExportFormat;
use herald_audit::query::{Direction, EventFilter};

#[tokio::test]
async fn stalled_exports_are_abandoned_and_free_their_slots() {
    let audit = open_memory().await;
    // More than the buffer between scan and reader holds (4 chunks of 1000), so a reader
    // that never reads stalls the scan.
    let events: Vec<_> = (0..7000)
        .map(|i| event("1", JAN_7 + i, "e", &["c"], &format!("payload number {i}")))
        .collect();
    audit.recorder.record(events).await.unwrap();
    let reader = audit
        .reader
        .clone()
        .with_export_write_timeout(Some(Duration::from_millis(300)));
    let export = || {
        reader.export(
            "1",
            EventFilter::default(),
            Direction::Asc,
            ExportFormat::Ndjson,
        )
    };
    // Two exports that are never read take both slots.
    let stalled_a = export().await.unwrap();
    let stalled_b = export().await.unwrap();

    // A third one gets a slot once they are abandoned, and completes.
    let third = tokio::time::timeout(Duration::from_secs(10), async {
        // While the stalled ones still hold the slots the answer is Busy (a 503 with a
        // reason); once they are abandoned a slot is free.
        let stream = loop {
            match export().await {
                Ok(stream) => break stream,
                Err(e) => assert!(e.to_string().contains("already running"), "{e}"),
            }
        };
        let mut lines = 0;
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            lines += chunk.unwrap().iter().filter(|b| **b == b'\n').count();
        }
        lines
    })
    .await
    .expect("a later export must not wait forever for stalled ones");
    assert_eq!(third, 7000);

    // The abandoned ones end with an error after what was buffered.
    for stalled in [stalled_a, stalled_b] {
        let mut stream = std::pin::pin!(stalled);
        let mut lines = 0;
        let mut failed = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => lines += bytes.iter().filter(|b| **b == b'\n').count(),
                Err(e) => {
                    assert!(e.to_string().contains("abandoned"), "{e}");
                    failed = true;
                }
            }
        }
        assert!(failed, "an abandoned export must end with an error");
        assert!(lines < 7000, "{lines}");
    }
}

#[tokio::test]
async fn a_busy_export_slot_is_refused_after_the_timeout_with_a_reason() {
    let audit = open_memory().await;
    let events: Vec<_> = (0..7000)
        .map(|i| event("1", JAN_7 + i, "e", &["c"], "x"))
        .collect();
    audit.recorder.record(events).await.unwrap();
    // A long write timeout: the stalled exports keep their slots for the whole test.
    let reader = audit
        .reader
        .clone()
        .with_export_write_timeout(Some(Duration::from_millis(400)));
    let export = || {
        reader.export(
            "1",
            EventFilter::default(),
            Direction::Asc,
            ExportFormat::Csv,
        )
    };
    let _a = export().await.unwrap();
    let _b = export().await.unwrap();
    // Both slots are held (their scans are still within the timeout): a third waits at
    // most the timeout and is then either served or refused with a reason, never hung.
    let third = tokio::time::timeout(Duration::from_secs(5), export()).await;
    match third.expect("never hangs") {
        Ok(_) => {}
        Err(e) => assert!(e.to_string().contains("exports are already running"), "{e}"),
    }
}
