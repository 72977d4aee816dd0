//! Command-line interface: `herald [serve]` with flags that override environment and file.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError, Layer, env_layer, file_layer};

#[derive(Debug, Parser)]
#[command(
    name = "herald",
    version,
    about = "Pusher-compatible realtime server with an audit recorder"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags for `serve` are also accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Load-test herald or any Pusher-compatible server.
    Bench(herald_bench::BenchArgs),
    /// Query, show, export and summarise the audit trail (reads the store directly).
    #[command(subcommand)]
    Audit(herald_audit::cli::AuditCommand),
}

/// Settings that can be given on the command line; each beats its `HERALD_*` variable.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML configuration file (lowest precedence).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Address to listen on [env: HERALD_HOST; default 0.0.0.0, or 127.0.0.1 while the
    /// default app secret is in use].
    #[arg(long)]
    pub host: Option<String>,
    /// HTTP and WebSocket port [env: HERALD_PORT; default 6001].
    #[arg(long)]
    pub port: Option<String>,
    /// Port serving Prometheus `/metrics` [env: HERALD_METRICS_PORT; default: off].
    #[arg(long)]
    pub metrics_port: Option<String>,
    /// This node's name in a cluster [env: HERALD_NODE_ID].
    #[arg(long)]
    pub node_id: Option<String>,
    /// Id of the single app [env: HERALD_APP_ID; default 1].
    #[arg(long)]
    pub app_id: Option<String>,
    /// Key of the single app [env: HERALD_APP_KEY; default app-key].
    #[arg(long)]
    pub app_key: Option<String>,
    /// Secret of the single app [env: HERALD_APP_SECRET; default app-secret].
    #[arg(long)]
    pub app_secret: Option<String>,
    /// Redis URL; set to run several nodes as one [env: HERALD_REDIS_URL].
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and topic, so clusters can share one Redis
    /// [env: HERALD_REDIS_PREFIX; default herald].
    #[arg(long)]
    pub redis_prefix: Option<String>,
    /// Audit store: sqlite://PATH [env: HERALD_AUDIT_URL; default sqlite://./data/herald-audit.db].
    #[arg(long)]
    pub audit_url: Option<String>,
    /// durable (default), async or off [env: HERALD_AUDIT_MODE].
    #[arg(long)]
    pub audit_mode: Option<String>,
}

impl ServeArgs {
    fn layer(&self) -> Layer {
        Layer {
            host: self.host.clone(),
            port: self.port.clone(),
            metrics_port: self.metrics_port.clone(),
            node_id: self.node_id.clone(),
            app_id: self.app_id.clone(),
            app_key: self.app_key.clone(),
            app_secret: self.app_secret.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            audit_url: self.audit_url.clone(),
            audit_mode: self.audit_mode.clone(),
            ..Layer::default()
        }
    }

    /// Resolves flags > environment > file > defaults.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        let mut layers = vec![self.layer(), env_layer(&vars)];
        let file = self
            .config
            .clone()
            .or_else(|| vars.get("HERALD_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            layers.push(file_layer(&path)?);
        }
        Config::from_layers(&layers)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_serve_flag_has_its_own_help() {
        let help = Cli::command().render_long_help().to_string();
        let line_of = |flag: &str| {
            let at = help
                .find(flag)
                .unwrap_or_else(|| panic!("{flag} missing: {help}"));
            help[at..].split("\n\n").next().unwrap().to_owned()
        };
        assert!(line_of("--redis-prefix").contains("HERALD_REDIS_PREFIX"));
        assert!(line_of("--audit-url").contains("HERALD_AUDIT_URL"));
        assert!(line_of("--audit-mode").contains("HERALD_AUDIT_MODE"));
        for flag in [
            "--host",
            "--port",
            "--metrics-port",
            "--node-id",
            "--redis-url",
        ] {
            let env = format!("HERALD_{}", flag[2..].replace('-', "_").to_uppercase());
            assert!(line_of(flag).contains(&env), "{flag}: {}", line_of(flag));
        }
    }
}
