//! The `herald` binary: parse the command line, set up logging, dispatch.

use clap::Parser;
use herald::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Bench(args)) => herald_bench::run(args).await,
        Some(Command::Audit(herald_audit::cli::AuditCommand::Prune(args))) => {
            herald::retention::prune_command(args).await
        }
        Some(Command::Audit(cmd)) => herald_audit::cli::run(cmd).await,
        None => serve(cli.serve).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("herald: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: herald::cli::ServeArgs) -> anyhow::Result<()> {
    // Refuse bad configuration before anything binds.
    let config = args.load_config()?;
    let addr = std::net::SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    herald::run(config, listener, herald::shutdown::signal()).await
}
