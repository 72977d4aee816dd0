//! Cluster-wide connection quotas (`max_connections`): for apps that set one, each node
//! stores its connection count (absolute, under a per-app lock, with the same script as
//! subscription counts) and a connection is admitted only while the cluster-wide total is
//! within the quota. Apps without a quota cost nothing here.
//!
//! Two nodes racing for the last slot cannot both win: the script runs atomically, so the
//! second write sees the total above the quota and that node refuses its connection.

use std::sync::Arc;

use super::link::LinkError;
use super::locks;
use super::shared::Shared;
use crate::hub::AppHub;

/// The field of the connection hashes.
const FIELD: &str = "n";

/// Stores this node's connection count for `app`; returns the cluster-wide total, or
/// `None` when the app has no quota.
pub async fn sync(shared: &Shared, app: &Arc<AppHub>) -> Result<Option<usize>, LinkError> {
    if app.config.max_connections.is_none() {
        return Ok(None);
    }
    let id = &app.config.id;
    let key = locks::key(id, "");
    let lock = shared.connection_locks.get(&key);
    let result = async {
        let _guard = lock.lock().await;
        let local = app.connection_count();
        let mut invocation = shared.scripts.set_count.prepare_invoke();
        invocation
            .key(shared.keys.connections(id))
            .key(shared.keys.own_connections(id, &shared.instance))
            .arg(FIELD)
            .arg(local);
        let total: i64 = shared
            .link
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(Some(total.max(0) as usize))
    }
    .await;
    shared.connection_locks.release(&key, lock, |_| true);
    result
}
