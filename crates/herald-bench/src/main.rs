//! `herald-bench`: the load generator as a standalone binary, so it can run against any
//! Pusher-compatible server without installing herald (`herald bench` is the same code).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "herald-bench",
    version,
    about = "Load generator for Pusher-compatible servers"
)]
struct Cli {
    #[command(flatten)]
    bench: herald_bench::BenchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    herald_bench::run(Cli::parse().bench).await
}
