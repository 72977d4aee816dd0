//! herald-bench: a load generator that speaks the Pusher protocol to herald or to any
//! Pusher-compatible server (soketi, …) given its URL, app id, key and secret.
//!
//! Four scenarios, one module each under [`scenario`]: `fanout` (deliveries/s and end-to-end
//! latency), `connections` (connect rate, handshake latency, server RSS per idle connection),
//! `triggers` (HTTP trigger throughput) and `presence` (join/leave churn). Every run is
//! bounded in time and count, prints a progress line each second, a summary table at the end,
//! and optionally a JSON result.
//!
//! The generator is built to measure the server rather than itself: small WebSocket buffers,
//! no JSON parsing of deliveries (a byte scan finds the send timestamp), sharded counters and
//! histograms, and it reports its own CPU use so a reader can tell whether it was the
//! bottleneck.

#![forbid(unsafe_code)]

pub mod args;
pub mod client;
pub mod pacing;
pub mod payload;
pub mod progress;
pub mod report;
pub mod scan;
pub mod scenario;
pub mod stats;
pub mod sysinfo;
pub mod target;

pub use args::{BenchArgs, Scenario};

use anyhow::Context as _;

/// Runs one benchmark scenario to completion, prints the summary table to stdout (stderr when
/// the JSON goes to stdout) and writes the JSON result if asked.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let report = execute(&args).await?;
    let json_to_stdout = args.output.json.as_deref() == Some(std::path::Path::new("-"));
    if json_to_stdout {
        // Keep stdout pure JSON for pipes; the table goes to stderr instead.
        report.print_table(&mut std::io::stderr().lock())?;
    } else {
        report.print_table(&mut std::io::stdout().lock())?;
    }
    if let Some(path) = &args.output.json {
        report
            .write_json(path)
            .with_context(|| format!("writing the JSON result to {}", path.display()))?;
    }
    Ok(())
}

/// Runs one scenario and returns its report without printing it: resolves and checks the
/// target, raises the file-descriptor limit, runs, and adds the generator's own CPU use.
pub async fn execute(args: &BenchArgs) -> anyhow::Result<report::Report> {
    args.validate()?;
    let target = target::Target::resolve(&args.target).await?;
    let fd = sysinfo::raise_fd_limit(args.scenario.connections_needed());
    let probe = sysinfo::Probe::start(target.server_pid, fd.soft);

    let mut report = scenario::run(args, &target).await?;

    if let Some(note) = fd.warning {
        report.warnings.push(note);
    }
    let usage = probe.finish();
    report.load_generator = usage.load_generator;
    report.server = usage.server;
    report.machine = usage.machine;
    Ok(report)
}
