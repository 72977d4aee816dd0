//! The shared state every handler sees: a cheap-clone bundle of handles. It sits below
//! `ws/` and `http/` (both take it as axum state) and above the hub, adapter and audit sink
//! it bundles; `server/` builds it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapter::Adapter;
use crate::audit::AuditSink;
use crate::config::Config;
use crate::hub::Hub;
use crate::limits::Guards;
use crate::webhooks::Webhooks;

/// Handles shared by the WebSocket and HTTP layers.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub adapter: Arc<dyn Adapter>,
    pub audit: AuditSink,
    /// Read access to the audit store, when recording is on.
    pub audit_reader: Option<herald_audit::AuditReader>,
    /// Webhook emitter (a no-op when no app has webhooks).
    pub webhooks: Webhooks,
    /// Cancelled when the server starts shutting down; connection tasks then close with 4200.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// State of the protective limits (descriptor exhaustion, per-IP counts, rates).
    pub guards: Guards,
    draining: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("node_id", &self.config.node_id)
            .field("audit", &self.audit)
            .field("draining", &self.is_draining_flag())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn is_draining_flag(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        hub: Arc<Hub>,
        adapter: Arc<dyn Adapter>,
        audit: AuditSink,
        audit_reader: Option<herald_audit::AuditReader>,
        webhooks: Webhooks,
        shutdown: CancellationToken,
    ) -> Self {
        let guards = Guards::new(
            config.max_connections_per_ip,
            config.max_connections_per_ip_per_second,
        );
        Self(Arc::new(Shared {
            config,
            hub,
            adapter,
            audit,
            audit_reader,
            webhooks,
            shutdown,
            tasks: TaskTracker::new(),
            guards,
            draining: AtomicBool::new(false),
        }))
    }

    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::SeqCst)
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
