//! Benchmark harness for the audit store at scale: fills a file store with N audit events
//! through the real recorder (durable, many concurrent callers, as the trigger API would),
//! reports the recording rate, then times filtered queries against it.
//!
//! ```text
//! cargo run --release -p herald-audit --example fill_and_query -- \
//!     --events 1000000 --db /tmp/herald-audit-1m.db [--producers 64] [--batch 1] [--skip-fill]
//! ```
//!
//! The numbers it prints are recorded in `crates/herald-audit/BENCHMARKS.md`.

use std::time::{Duration, Instant};

use herald_audit::query::{EventFilter, PageRequest, Params};
use herald_audit::stats::StatsRequest;
use herald_audit::{AuditConfig, Durability, timefmt};
use tokio_util::sync::CancellationToken;

#[path = "../benches/support/mod.rs"]
mod support;

struct Args {
    events: u64,
    db: String,
    producers: u64,
    batch: u64,
    skip_fill: bool,
    durability: Durability,
    fill_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        events: 1_000_000,
        db: "/tmp/herald-audit-bench.db".into(),
        producers: 64,
        batch: 1,
        skip_fill: false,
        durability: Durability::Durable,
        fill_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("flag needs a value");
        match flag.as_str() {
            "--events" => a.events = value().parse().unwrap(),
            "--db" => a.db = value(),
            "--producers" => a.producers = value().parse().unwrap(),
            "--batch" => a.batch = value().parse().unwrap(),
            "--skip-fill" => a.skip_fill = true,
            "--fill-only" => a.fill_only = true,
            "--async" => a.durability = Durability::Async,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    if !a.skip_fill {
        let _ = std::fs::remove_file(&a.db);
        let _ = std::fs::remove_file(format!("{}-wal", a.db));
        let _ = std::fs::remove_file(format!("{}-shm", a.db));
    }
    let shutdown = CancellationToken::new();
    let audit = herald_audit::open(
        AuditConfig {
            url: format!("sqlite://{}", a.db),
            durability: a.durability,
            ..AuditConfig::default()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    if !a.skip_fill {
        let started = Instant::now();
        let saturated =
            support::record_all(&audit.recorder, 0, a.events, a.events, a.producers, a.batch).await;
        let secs = started.elapsed().as_secs_f64();
        let n = a.events;
        // Bytes this process made the kernel write (WAL, checkpoints): the cost that limits
        // a durable recorder on a small disk.
        let written = std::fs::read_to_string("/proc/self/io")
            .ok()
            .and_then(|io| {
                io.lines()
                    .find_map(|l| l.strip_prefix("write_bytes: ")?.parse::<u64>().ok())
            })
            .unwrap_or(0);
        println!(
            "disk writes: {:.0} MB ({:.1} KB per event)",
            written as f64 / 1e6,
            written as f64 / 1e3 / n as f64
        );
        println!(
            "recorded {n} events in {secs:.1} s: {:.0} events/s durable ({} producers, {} event(s) per call, {saturated} saturated retries)",
            n as f64 / secs,
            a.producers,
            a.batch
        );
    }
    if a.fill_only {
        shutdown.cancel();
        audit.writer.await.unwrap();
        return;
    }
    let size = std::fs::metadata(&a.db).map(|m| m.len()).unwrap_or(0);
    println!("store size: {:.0} MB", size as f64 / 1e6);

    let queries = [
        "",
        "action=deleted",
        "model=model7",
        "user=user42@example.com",
        "channel=model-model3",
        "channel=user-user42@example.com",
        "object_id=4242",
        "action=created&model=model5",
        "from=2025-02-01&to=2025-02-07",
        "from=2025-02-01&to=2025-02-07&action=approved",
        "q=user42",
        "q=model7",
        "q=item+123",
        "ordering=seq&limit=100",
    ];
    println!(
        "\n{:<48} {:>10} {:>9} {:>9} {:>9}",
        "GET /events?…", "count", "p50 ms", "p95 ms", "max ms"
    );
    for q in queries {
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..21 {
            let mut p = Params::from_query(Some(q)).unwrap();
            let filter = EventFilter::from_params(&mut p, timefmt::now_micros()).unwrap();
            let page = PageRequest::from_params(&mut p, Default::default()).unwrap();
            let t = Instant::now();
            let r = audit.reader.list("1", filter, page).await.unwrap();
            times.push(t.elapsed());
            count = r.count;
        }
        report(
            if q.is_empty() { "(no filter)" } else { q },
            count,
            &mut times,
        );
    }
    // A deep page: follow the cursor 20 pages into a filter.
    let mut times = Vec::new();
    let mut cursor = None;
    for _ in 0..21 {
        let mut p = Params::from_query(Some(&format!(
            "action=updated&limit=50{}",
            cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default()
        )))
        .unwrap();
        let filter = EventFilter::from_params(&mut p, 0).unwrap();
        let page = PageRequest::from_params(&mut p, Default::default()).unwrap();
        let t = Instant::now();
        let r = audit.reader.list("1", filter, page).await.unwrap();
        times.push(t.elapsed());
        cursor = r.next;
    }
    report("action=updated, following `next` 21 pages", 0, &mut times);

    let mut times = Vec::new();
    for i in 0..21 {
        let t = Instant::now();
        audit.reader.get("1", 1 + i * 40_000).await.unwrap();
        times.push(t.elapsed());
    }
    report("GET /events/{seq}", 1, &mut times);

    for q in [
        "days=30000",
        "from=2025-02-01&to=2025-02-07",
        "user=user42@example.com",
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let mut p = Params::from_query(Some(q)).unwrap();
            let req = StatsRequest::from_params(&mut p, timefmt::now_micros()).unwrap();
            let t = Instant::now();
            audit.reader.stats("1", req).await.unwrap();
            times.push(t.elapsed());
        }
        report(&format!("GET /stats?{q}"), 0, &mut times);
    }

    let t = Instant::now();
    let mut bytes = 0usize;
    let stream = audit
        .reader
        .export(
            "1",
            EventFilter::default(),
            herald_audit::query::Direction::Asc,
            herald_audit::export::ExportFormat::Csv,
        )
        .await
        .unwrap();
    let mut stream = std::pin::pin!(stream);
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.unwrap().len();
    }
    println!(
        "\nexport csv of every event: {:.0} MB in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    shutdown.cancel();
    audit.writer.await.unwrap();
}

fn report(label: &str, count: u64, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
    println!(
        "{label:<48} {count:>10} {:>9.2} {:>9.2} {:>9.2}",
        ms(times[times.len() / 2]),
        ms(p95),
        ms(*times.last().unwrap())
    );
}
