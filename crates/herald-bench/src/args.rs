//! Command-line arguments: the target, the output options and one subcommand per scenario.
//!
//! Every scenario is bounded: durations and counts have hard maxima checked in
//! [`BenchArgs::validate`], so a typo cannot start an endless load test.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};

/// Longest run any scenario accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Most WebSocket connections any scenario opens.
pub const MAX_CONNECTIONS: usize = 200_000;
/// Most HTTP requests any scenario sends.
pub const MAX_REQUESTS: u64 = 100_000_000;
/// Pusher's default limit on an event's `data` (bytes); larger payloads get 413.
pub const MAX_PAYLOAD: usize = 10_240;

/// `herald bench <scenario> [options]`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten, next_help_heading = "Target")]
    pub target: TargetArgs,
    #[command(flatten, next_help_heading = "Output")]
    pub output: OutputArgs,
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// Which server to load, and with which app credentials.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Base URL of the server's HTTP API.
    #[arg(long, global = true, default_value = "http://127.0.0.1:6001")]
    pub url: String,
    /// Base URL of the WebSocket endpoint (default: derived from --url); `/app/{key}` is appended.
    #[arg(long, global = true)]
    pub ws_url: Option<String>,
    /// App id (the path of the HTTP API: /apps/{id}/events).
    #[arg(long, global = true, default_value = "1")]
    pub app_id: String,
    /// App key (the WebSocket path and auth_key).
    #[arg(long, global = true, default_value = "app-key")]
    pub key: String,
    /// App secret, to sign HTTP requests and presence subscriptions.
    #[arg(long, global = true, default_value = "app-secret")]
    pub secret: String,
    /// Allow a target that is not a loopback address. Only load servers you run yourself.
    #[arg(long, global = true)]
    pub allow_remote: bool,
    /// Connect from this many source addresses 127.0.0.2, 127.0.0.3, … with ports chosen by
    /// the generator (IPv4 loopback targets only; default: automatic above 5,000 connections).
    #[arg(long, global = true, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub source_addresses: Option<u8>,
    /// PID of the server (on this machine): its CPU time and memory are read from /proc and
    /// reported, and `connections` reports its RSS per connection.
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
}

/// Where the results go.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Also write the result as JSON to this file (`-` for stdout).
    #[arg(long, global = true, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// N subscribers on one or more channels; triggers at a fixed rate; deliveries/s and
    /// end-to-end latency.
    Fanout(FanoutArgs),
    /// Open N idle connections at a fixed rate; handshake latency and server RSS per connection.
    Connections(ConnectionsArgs),
    /// HTTP trigger throughput and latency at a given concurrency.
    Triggers(TriggersArgs),
    /// Clients repeatedly joining and leaving presence channels.
    Presence(PresenceArgs),
}

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Subscribers (one WebSocket connection each).
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub subscribers: usize,
    /// Channels the subscribers are spread over (round robin); each trigger goes to one channel.
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Triggers per second (over all channels).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long to trigger for.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many triggers, if that comes before --duration.
    #[arg(long)]
    pub triggers: Option<u64>,
    /// Most trigger requests in flight at once (also the HTTP connection pool size).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// New WebSocket connections per second while setting up.
    #[arg(long, default_value_t = 5000.0)]
    pub connect_rate: f64,
    /// Pad the event data to about this many bytes (default: the audit event, ~250 bytes).
    #[arg(long)]
    pub payload_size: Option<usize>,
    /// How long to wait for outstanding deliveries after the last trigger.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub drain: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ConnectionsArgs {
    /// Idle connections to open.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// New connections per second.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// How long to keep them open once all are established (RSS is read after 1/3 of it).
    #[arg(long, default_value = "6s", value_parser = parse_duration)]
    pub hold: Duration,
    /// Give up on a connection whose handshake takes longer than this.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct TriggersArgs {
    /// Requests in flight at once (one keep-alive connection each).
    #[arg(long, short = 'c', default_value_t = 32)]
    pub concurrency: usize,
    /// How long to send for.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Stop after this many requests, if that comes before --duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Cap on requests per second (default: as fast as the server answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Pad the event data to about this many bytes (default: the audit event from the brief).
    #[arg(long)]
    pub payload_size: Option<usize>,
    /// Channels each trigger goes to (repeat for several).
    #[arg(long = "channel", default_value = "audit-channel")]
    pub channels: Vec<String>,
    /// Event name.
    #[arg(long, default_value = "model-change")]
    pub event: String,
}

#[derive(Debug, Clone, Args)]
pub struct PresenceArgs {
    /// Clients (one connection each), each joining and leaving in a loop.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub clients: usize,
    /// Clients per presence channel (Pusher allows at most 100 members).
    #[arg(long, default_value_t = 20)]
    pub members_per_channel: usize,
    /// How long the churn lasts.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long a client stays a member before leaving.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub hold: Duration,
    /// Pause between leaving and joining again.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub pause: Duration,
    /// New WebSocket connections per second while setting up.
    #[arg(long, default_value_t = 2000.0)]
    pub connect_rate: f64,
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fanout(_) => "fanout",
            Self::Connections(_) => "connections",
            Self::Triggers(_) => "triggers",
            Self::Presence(_) => "presence",
        }
    }

    /// File descriptors the scenario needs for its sockets.
    pub fn connections_needed(&self) -> u64 {
        let sockets = match self {
            Self::Fanout(a) => a.subscribers + a.concurrency,
            Self::Connections(a) => a.connections,
            Self::Triggers(a) => a.concurrency,
            Self::Presence(a) => a.clients,
        };
        sockets as u64
    }
}

impl BenchArgs {
    /// Refuses settings outside the sane maxima, naming the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(n) = self.target.source_addresses {
            let capacity = usize::from(n) * crate::client::source::PER_ADDRESS;
            let needed = self.scenario.connections_needed() as usize;
            if needed > capacity {
                bail!(
                    "Invalid --source-addresses: {n} address(es) give {capacity} source ports, \
                     this run opens up to {needed} connections"
                );
            }
        }
        match &self.scenario {
            Scenario::Fanout(a) => {
                check_count("--subscribers", a.subscribers, MAX_CONNECTIONS)?;
                check_count("--channels", a.channels, a.subscribers.max(1))?;
                check_rate("--rate", a.rate)?;
                check_rate("--connect-rate", a.connect_rate)?;
                check_duration("--duration", a.duration)?;
                check_duration("--drain", a.drain)?;
                check_count("--concurrency", a.concurrency, 10_000)?;
                check_requests("--triggers", a.triggers)?;
                check_payload(a.payload_size)?;
            }
            Scenario::Connections(a) => {
                check_count("--connections", a.connections, MAX_CONNECTIONS)?;
                check_rate("--rate", a.rate)?;
                check_duration("--hold", a.hold)?;
                check_duration("--handshake-timeout", a.handshake_timeout)?;
            }
            Scenario::Triggers(a) => {
                check_count("--concurrency", a.concurrency, 10_000)?;
                check_duration("--duration", a.duration)?;
                check_requests("--requests", a.requests)?;
                if let Some(rate) = a.rate {
                    check_rate("--rate", rate)?;
                }
                check_payload(a.payload_size)?;
                check_count("--channel", a.channels.len(), 100)?;
            }
            Scenario::Presence(a) => {
                check_count("--clients", a.clients, MAX_CONNECTIONS)?;
                check_count("--members-per-channel", a.members_per_channel, 100)?;
                check_duration("--duration", a.duration)?;
                check_duration("--hold", a.hold)?;
                check_duration("--pause", a.pause)?;
                check_rate("--connect-rate", a.connect_rate)?;
            }
        }
        Ok(())
    }
}

fn check_count(name: &str, value: usize, max: usize) -> anyhow::Result<()> {
    if value == 0 || value > max {
        bail!("Invalid {name}: {value} (must be between 1 and {max})");
    }
    Ok(())
}

fn check_rate(name: &str, value: f64) -> anyhow::Result<()> {
    if !(value.is_finite() && value > 0.0 && value <= 1_000_000.0) {
        bail!("Invalid {name}: {value} (must be above 0 and at most 1000000 per second)");
    }
    Ok(())
}

fn check_duration(name: &str, value: Duration) -> anyhow::Result<()> {
    if value > MAX_DURATION {
        bail!(
            "Invalid {name}: {value:?} (at most {}s)",
            MAX_DURATION.as_secs()
        );
    }
    Ok(())
}

fn check_requests(name: &str, value: Option<u64>) -> anyhow::Result<()> {
    match value {
        Some(n) if n == 0 || n > MAX_REQUESTS => {
            bail!("Invalid {name}: {n} (must be between 1 and {MAX_REQUESTS})")
        }
        _ => Ok(()),
    }
}

fn check_payload(value: Option<usize>) -> anyhow::Result<()> {
    match value {
        Some(n) if n > MAX_PAYLOAD => bail!(
            "Invalid --payload-size: {n} (Pusher refuses event data over {MAX_PAYLOAD} bytes)"
        ),
        _ => Ok(()),
    }
}

/// Parses `500ms`, `10s`, `2m`, `1h` or a bare number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (try 500ms, 10s, 2m)"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit '{other}' (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("'{text}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn target_options_work_after_the_subcommand() {
        let cli = Cli::parse_from([
            "b",
            "fanout",
            "-n",
            "20",
            "--url",
            "http://127.0.0.1:7000",
            "--json",
            "-",
        ]);
        assert_eq!(cli.bench.target.url, "http://127.0.0.1:7000");
        assert_eq!(cli.bench.target.key, "app-key");
        assert!(matches!(cli.bench.scenario, Scenario::Fanout(ref f) if f.subscribers == 20));
        cli.bench.validate().unwrap();
    }

    #[test]
    fn limits_are_enforced_with_the_setting_named() {
        let cli = Cli::parse_from(["b", "connections", "-n", "1000000"]);
        let err = cli.bench.validate().unwrap_err().to_string();
        assert!(err.contains("--connections"), "{err}");
        let cli = Cli::parse_from(["b", "fanout", "--duration", "2h"]);
        assert!(cli.bench.validate().is_err());
        let cli = Cli::parse_from(["b", "triggers", "--payload-size", "20000"]);
        assert!(cli.bench.validate().is_err());
        let cli = Cli::parse_from(["b", "connections", "-n", "20000", "--source-addresses", "1"]);
        let err = cli.bench.validate().unwrap_err().to_string();
        assert!(err.contains("--source-addresses"), "{err}");
    }
}
