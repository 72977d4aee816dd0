//! Applying the apps' `[[apps.retention]]` rules: the background job of a running server
//! (every `HERALD_AUDIT_PRUNE_INTERVAL`, through the audit writer, so recording goes on
//! between its steps) and `herald audit prune [--dry-run]` (directly on the store).
//! What a prune removes and keeps is `herald_audit::retention`'s business.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use herald_audit::AuditRecorder;
use herald_audit::cli::PruneArgs;
use herald_audit::retention::{RetentionPolicy, RulePruned};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, env_layer, file_layer};

/// Every app that has retention rules, with its policy.
fn policies(config: &Config) -> Vec<(String, Arc<RetentionPolicy>)> {
    config
        .apps
        .iter()
        .filter_map(|a| a.retention_policy().map(|p| (a.id.clone(), Arc::new(p))))
        .collect()
}

fn log_run(app: &str, pruned: &[RulePruned], dry_run: bool) {
    for p in pruned {
        tracing::info!(
            message = if dry_run { "Audit retention (dry run) would prune events." } else { "Audit retention pruned events." },
            app_id = %app,
            rule = %p.rule,
            count = p.count,
            first_seq = p.first_seq,
            last_seq = p.last_seq,
        );
    }
}

/// Starts the retention job if any app has rules: a run at start, then one every
/// `audit_prune_interval`, until `stop` is cancelled.
pub fn spawn(config: &Config, recorder: AuditRecorder, stop: CancellationToken) {
    let apps = policies(config);
    if apps.is_empty() {
        return;
    }
    let interval = config.audit_prune_interval;
    tokio::spawn(async move {
        loop {
            for (app, policy) in &apps {
                let now = herald_audit::timefmt::now_micros();
                tokio::select! {
                    result = recorder.prune(app, Arc::clone(policy), now, false) => match result {
                        Ok(pruned) => log_run(app, &pruned, false),
                        Err(error) => tracing::error!(message = "Audit retention run failed; retrying at the next interval.", app_id = %app, %error),
                    },
                    () = stop.cancelled() => return,
                }
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.cancelled() => return,
            }
        }
    });
}

/// `herald audit prune`: the configured rules (from `--config`/`HERALD_CONFIG` and the
/// `HERALD_*` variables, as `herald serve` reads them), applied to the store directly.
pub async fn prune_command(args: PruneArgs) -> anyhow::Result<()> {
    let vars: HashMap<String, String> = std::env::vars().collect();
    let mut layers = vec![env_layer(&vars)];
    if let Some(path) = &args.config {
        layers.push(file_layer(path)?);
    }
    let config = Config::from_layers(&layers)?;
    let mut apps = policies(&config);
    if let Some(only) = &args.app {
        apps.retain(|(id, _)| id == only);
        if apps.is_empty() {
            anyhow::bail!("app {only:?} has no [[apps.retention]] rules in the configuration");
        }
    }
    if apps.is_empty() {
        anyhow::bail!(
            "no app has [[apps.retention]] rules (pass the server's --config or set HERALD_CONFIG)"
        );
    }
    let db = args.db.clone();
    let dry_run = args.dry_run;
    let now = match &args.as_of {
        Some(at) => {
            herald_audit::timefmt::parse_bound(at)
                .map_err(|e| anyhow::anyhow!("invalid --as-of: {e}"))?
                .micros
        }
        None => herald_audit::timefmt::now_micros(),
    };
    let results = tokio::task::spawn_blocking(move || {
        let mut store = herald_audit::open_maintenance_store(&db)?;
        let mut out = Vec::new();
        for (app, policy) in &apps {
            let pruned = herald_audit::retention::run::prune_blocking(
                store.as_mut(),
                app,
                policy,
                now,
                dry_run,
            )
            .with_context(|| format!("pruning app {app:?}"))?;
            out.push((app.clone(), pruned));
        }
        anyhow::Ok(out)
    })
    .await??;
    for (app, pruned) in &results {
        let verb = if dry_run { "would prune" } else { "pruned" };
        if pruned.is_empty() {
            println!("app {app}: nothing to prune");
        }
        for p in pruned {
            println!(
                "app {app}: {verb} {} events (seq {}..{}) under {}",
                p.count, p.first_seq, p.last_seq, p.rule
            );
        }
    }
    Ok(())
}
