//! Signed-in users cluster-wide: each node stores how many of its sockets are signed in as
//! each user; the `user_set` script says when a user came online or went offline anywhere,
//! which drives watchlist notices and `online_users`.

use std::sync::Arc;

use super::link::LinkError;
use super::locks;
use super::shared::Shared;
use crate::hub::AppHub;

/// +1 came online, -1 went offline, 0 neither.
pub async fn sync_user(
    shared: &Shared,
    app: &Arc<AppHub>,
    user_id: &str,
) -> Result<i64, LinkError> {
    let id = &app.config.id;
    let key = locks::key(id, user_id);
    let lock = shared.user_locks.get(&key);
    let result = async {
        let _guard = lock.lock().await;
        let local = app.user_socket_count(user_id);
        let mut invocation = shared.scripts.user_set.prepare_invoke();
        invocation
            .key(shared.keys.users(id))
            .key(shared.keys.own_users(id, &shared.instance))
            .arg(user_id)
            .arg(local);
        shared
            .link
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await
    }
    .await;
    shared.user_locks.release(&key, lock, |_| true);
    result
}

/// Which of `user_ids` are signed in anywhere in the cluster.
pub async fn online(
    shared: &Shared,
    app: &AppHub,
    user_ids: &[String],
) -> Result<Vec<String>, LinkError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let key = shared.keys.users(&app.config.id);
    let counts: Vec<Option<i64>> = shared
        .link
        .call(|mut c| async move {
            redis::cmd("HMGET")
                .arg(key)
                .arg(user_ids)
                .query_async(&mut c)
                .await
        })
        .await?;
    Ok(user_ids
        .iter()
        .zip(counts)
        .filter(|(_, n)| n.is_some_and(|n| n > 0))
        .map(|(u, _)| u.clone())
        .collect())
}
