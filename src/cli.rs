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
}

/// Settings that can be given on the command line; each beats its `HERALD_*` variable.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML configuration file (lowest precedence).
    #[arg(long, short = 'c', global = true)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long)]
    pub port: Option<String>,
    #[arg(long)]
    pub metrics_port: Option<String>,
    #[arg(long)]
    pub node_id: Option<String>,
    #[arg(long)]
    pub app_id: Option<String>,
    #[arg(long)]
    pub app_key: Option<String>,
    #[arg(long)]
    pub app_secret: Option<String>,
    #[arg(long)]
    pub redis_url: Option<String>,
    #[arg(long)]
    pub audit_url: Option<String>,
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
