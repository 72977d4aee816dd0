//! Query latency on a store of 200 000 events (built once per run through the recorder):
//! the filters an audit dashboard uses, full-text search, a time range, one event, and
//! statistics over a week. The 1-million-event figures come from the `fill_and_query`
//! example; this bench tracks regressions at a size that builds in seconds.
//!
//! `cargo bench -p herald-audit --bench query`

mod support;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use herald_audit::query::{Direction, EventFilter, PageRequest, Params};
use herald_audit::stats::StatsRequest;
use herald_audit::{AuditConfig, Durability, timefmt};
use tokio_util::sync::CancellationToken;

const EVENTS: u64 = 200_000;

fn queries(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let audit = rt
        .block_on(herald_audit::open(
            AuditConfig {
                url: format!("sqlite://{}/bench.db", dir.path().display()),
                // Only the reading is measured here; filling is faster without fsyncs.
                durability: Durability::Async,
                ..AuditConfig::default()
            },
            shutdown.clone(),
        ))
        .unwrap();
    rt.block_on(support::record_all(
        &audit.recorder,
        0,
        EVENTS,
        EVENTS,
        256,
        10,
    ));

    let mut g = c.benchmark_group("query_200k");
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    for q in [
        "",
        "action=deleted",
        "user=user42@example.com",
        "channel=model-model3",
        "object_id=4242",
        "action=created&model=model5",
        "from=2025-02-01&to=2025-02-07&action=approved",
        "q=user42",
        "q=model7+item",
    ] {
        let name = if q.is_empty() { "events" } else { q };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut p = Params::from_query(Some(q)).unwrap();
                let filter = EventFilter::from_params(&mut p, 0).unwrap();
                let page = PageRequest::from_params(&mut p, Direction::Desc).unwrap();
                rt.block_on(audit.reader.list("1", filter, page)).unwrap()
            })
        });
    }
    g.bench_function("event_by_seq", |b| {
        b.iter(|| rt.block_on(audit.reader.get("1", 123_456)).unwrap())
    });
    g.bench_function("stats_one_week", |b| {
        b.iter(|| {
            let mut p = Params::from_query(Some("from=2025-02-01&to=2025-02-07")).unwrap();
            let req = StatsRequest::from_params(&mut p, timefmt::now_micros()).unwrap();
            rt.block_on(audit.reader.stats("1", req)).unwrap()
        })
    });
    g.finish();
    shutdown.cancel();
    rt.block_on(audit.writer).unwrap();
}

criterion_group!(benches, queries);
criterion_main!(benches);
