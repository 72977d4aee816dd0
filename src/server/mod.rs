//! Assembling and running a herald node: build the hub, adapter and audit sink from the
//! configuration, serve HTTP and WebSocket on the given listener, and shut down in order
//! (stop accepting → 4200 to every socket → finish in-flight requests → grace deadline).

mod serve;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapter::{Adapter, LocalAdapter, RedisAdapter};
use crate::audit::AuditSink;
use crate::config::{AuditMode, Config};
use crate::http;
use crate::hub::Hub;
use crate::state::AppState;
use crate::webhooks::{HeldEvents, LocalHeld, Webhooks};

/// A node's state plus the background work that must finish before the process exits.
pub struct Node {
    pub state: AppState,
    /// The audit writer; it drains its queue after `background` is cancelled.
    audit_writer: Option<tokio::task::JoinHandle<()>>,
    /// The webhook writers (they flush their queues to the outbox) and senders.
    webhook_tasks: TaskTracker,
    /// Cancelled once no more requests can arrive (after HTTP serving ended).
    background: CancellationToken,
}

/// Builds the shared state for a configuration: hub, adapter, audit recorder. Binds nothing.
pub async fn build_state(config: Config, shutdown: CancellationToken) -> anyhow::Result<Node> {
    let config = Arc::new(config);
    let hub = Arc::new(Hub::new(&config.apps));
    let webhooks = Webhooks::open(&config.apps, &config.webhooks, config.redis_url.is_none())?;
    let (adapter, held): (Arc<dyn Adapter>, Arc<dyn HeldEvents>) = match &config.redis_url {
        Some(_) => {
            let redis =
                Arc::new(RedisAdapter::start(&config, hub.clone(), webhooks.clone()).await?);
            (redis.clone(), redis)
        }
        None => (Arc::new(LocalAdapter), Arc::new(LocalHeld)),
    };
    let background = CancellationToken::new();
    let (audit, audit_writer, audit_reader) = match config.audit_mode {
        AuditMode::Off => (AuditSink::new(None, &config.apps)?, None, None),
        mode => {
            let audit = herald_audit::open(
                herald_audit::AuditConfig {
                    url: config.audit_url.clone(),
                    durability: match mode {
                        AuditMode::Async => herald_audit::Durability::Async,
                        _ => herald_audit::Durability::Durable,
                    },
                    on_unavailable: config.audit_on_unavailable,
                    signing_key: config.audit_signing_key.clone(),
                    checkpoint_every: config.audit_checkpoint_every,
                    checkpoint_interval: config.audit_checkpoint_interval,
                    live: herald_audit::LiveSettings {
                        buffer: config.audit_stream_buffer,
                        heartbeat: config.audit_stream_heartbeat,
                        ..Default::default()
                    },
                    pg_schema: config.audit_pg_schema.clone(),
                    ..Default::default()
                },
                background.clone(),
            )
            .await?;
            // Open audit streams end when draining starts, so that they do not hold the
            // HTTP drain for the whole grace period (clients resume on another node).
            if let Some(feed) = audit.reader.live().cloned() {
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    shutdown.cancelled().await;
                    feed.close();
                });
            }
            crate::retention::spawn(&config, audit.recorder.clone(), background.clone());
            (
                AuditSink::new(Some(audit.recorder), &config.apps)?,
                Some(audit.writer),
                Some(audit.reader),
            )
        }
    };
    // Webhook tasks stop with the other background work, after every connection's cleanup
    // has emitted its last events; pending ones stay in the outbox for the next run.
    let webhook_tasks = TaskTracker::new();
    webhooks
        .start(held, background.clone(), &webhook_tasks)
        .await;
    webhook_tasks.close();
    let state = AppState::new(
        config,
        hub,
        adapter,
        audit,
        audit_reader,
        webhooks,
        shutdown,
    );
    Ok(Node {
        state,
        audit_writer,
        webhook_tasks,
        background,
    })
}

impl Node {
    /// Stops background work and waits for it (the audit writer commits what is queued).
    pub async fn finish(self) {
        self.background.cancel();
        if let Some(writer) = self.audit_writer {
            let _ = writer.await;
        }
        self.webhook_tasks.wait().await;
    }
}

/// Runs a node on `listener` until `shutdown` resolves, then drains and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if config.using_default_credentials {
        tracing::warn!(
            message = "USING THE DEFAULT APP CREDENTIALS (key app-key, secret app-secret): anyone who knows them can publish. Configure HERALD_APP_KEY/HERALD_APP_SECRET or [[apps]] before exposing this server.",
        );
    }
    crate::limits::raise_open_file_limit();
    let grace = config.shutdown_grace;
    let token = CancellationToken::new();
    let node = build_state(config, token.clone()).await?;
    let state = node.state.clone();
    let addr = listener.local_addr()?;
    tracing::info!(
        message = "herald listening.",
        %addr,
        node_id = %state.config.node_id,
        apps = state.config.apps.len(),
    );

    {
        let state = state.clone();
        let token = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!(message = "Shutting down: draining connections.");
            state.start_draining();
            token.cancel();
        });
    }

    if let Some(port) = state.config.metrics_port {
        let addr = SocketAddr::new(state.config.metrics_host, port);
        let metrics_listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for metrics: {e}"))?;
        tracing::info!(message = "Metrics listening.", %addr);
        let router = http::metrics_router(state.clone());
        let stop = token.clone().cancelled_owned();
        tokio::spawn(async move {
            let _ = axum::serve(metrics_listener, router)
                .with_graceful_shutdown(stop)
                .await;
        });
    }

    let serve = serve::serve(
        listener,
        http::router(state.clone()),
        state.clone(),
        token.clone(),
    );
    // In-flight requests get the grace period too: a stuck one (say, an export streaming to
    // a client that stopped reading) must not keep the process alive.
    let grace_over = async {
        token.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = serve => {}
        _ = grace_over => tracing::warn!(
            message = "Shutdown grace period over: abandoning HTTP requests still in flight.",
            grace_secs = grace.as_secs(),
        ),
    }

    state.tasks.close();
    match tokio::time::timeout(grace, state.tasks.wait()).await {
        Ok(()) => tracing::info!(message = "Shutdown complete: every connection closed."),
        Err(_) => tracing::warn!(
            message = "Shutdown grace period over: exiting with connections still open.",
            grace_secs = grace.as_secs(),
            open = state.hub.connection_count(),
        ),
    }
    // Only now: the sessions' cleanup above still told the cluster that they left.
    state.adapter.shutdown().await;
    drop(state);
    node.finish().await;
    tracing::info!(message = "Background tasks stopped.");
    Ok(())
}
