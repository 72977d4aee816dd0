//! The shared state every handler sees: a cheap-clone bundle of handles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapter::Adapter;
use crate::audit::AuditSink;
use crate::config::Config;
use crate::hub::Hub;

/// Handles shared by the WebSocket and HTTP layers.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub adapter: Arc<dyn Adapter>,
    pub audit: AuditSink,
    /// Cancelled when the server starts shutting down; connection tasks then close with 4200.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for them.
    pub tasks: TaskTracker,
    draining: AtomicBool,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        hub: Arc<Hub>,
        adapter: Arc<dyn Adapter>,
        audit: AuditSink,
        shutdown: CancellationToken,
    ) -> Self {
        Self(Arc::new(Shared {
            config,
            hub,
            adapter,
            audit,
            shutdown,
            tasks: TaskTracker::new(),
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
