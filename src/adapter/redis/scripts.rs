//! The Lua scripts that make each cluster-wide check-and-set one atomic round trip. The
//! source lives in `lua/`; `redis::Script` sends `EVALSHA` and falls back to `EVAL` when
//! Redis has lost its script cache (after a restart).

use redis::Script;

/// Every script the adapter runs, loaded once.
#[derive(Debug)]
pub struct Scripts {
    /// A node's absolute count of something (connections) → cluster-wide total.
    pub set_count: Script,
    /// A node's absolute subscription count for a channel → cluster-wide total, and the
    /// occupied / vacated webhook it causes.
    pub channel_count: Script,
    /// A node's absolute socket count for a presence member → joined / left cluster-wide.
    pub presence_set: Script,
    /// A node's absolute signed-in socket count for a user → online / offline.
    pub user_set: Script,
    /// Occupied channels with counts, filtered by prefix.
    pub channels: Script,
    /// Removes a dead node's share of an app's state.
    pub reap: Script,
    /// Confirms a held vacated / member_removed webhook at due time.
    pub confirm_held: Script,
}

impl Scripts {
    pub fn load() -> Self {
        Self {
            set_count: Script::new(include_str!("lua/set_count.lua")),
            channel_count: Script::new(include_str!("lua/channel_count.lua")),
            presence_set: Script::new(include_str!("lua/presence_set.lua")),
            user_set: Script::new(include_str!("lua/user_set.lua")),
            channels: Script::new(include_str!("lua/channels.lua")),
            reap: Script::new(include_str!("lua/reap.lua")),
            confirm_held: Script::new(include_str!("lua/confirm_held.lua")),
        }
    }
}
