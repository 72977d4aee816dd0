//! Async locks keyed by name (one per channel, one per signed-in user), created on first
//! use and dropped again once idle, so memory follows the live channels and users.
//!
//! They serialise the adapter's absolute writes for one channel or user: each write reads
//! the local hub *under the lock* and stores that value in Redis, so however calls
//! interleave, the last write always reflects the hub's latest state. These are Tokio
//! mutexes, held across the Redis round trip on purpose; no std lock or map guard is.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::Mutex;

/// Named async mutexes guarding a `T` each.
#[derive(Debug, Default)]
pub struct KeyedLocks<T> {
    map: DashMap<String, Arc<Mutex<T>>>,
}

impl<T: Default> KeyedLocks<T> {
    /// The mutex for `key` (created if needed). Pass it back to [`release`](Self::release).
    pub fn get(&self, key: &str) -> Arc<Mutex<T>> {
        if let Some(m) = self.map.get(key) {
            return m.clone();
        }
        self.map.entry(key.to_owned()).or_default().clone()
    }

    /// Gives back a mutex from [`get`](Self::get); forgets it when nobody else holds it and
    /// its state is `idle`.
    pub fn release(&self, key: &str, handle: Arc<Mutex<T>>, idle: impl Fn(&T) -> bool) {
        drop(handle);
        self.map.remove_if(key, |_, m| {
            Arc::strong_count(m) == 1 && m.try_lock().is_ok_and(|state| idle(&state))
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The lock key of a channel or user of an app.
pub fn key(app: &str, name: &str) -> String {
    format!("{app}\n{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_locks_are_forgotten_busy_ones_kept() {
        let locks: KeyedLocks<u64> = KeyedLocks::default();
        let a = locks.get("a");
        let a2 = locks.get("a");
        *a.lock().await = 7;
        locks.release("a", a, |v| *v == 0);
        assert_eq!(locks.len(), 1, "still held elsewhere");
        locks.release("a", a2, |v| *v == 0);
        assert_eq!(locks.len(), 1, "state is not idle");
        let a = locks.get("a");
        *a.lock().await = 0;
        locks.release("a", a, |v| *v == 0);
        assert_eq!(locks.len(), 0);
    }
}
