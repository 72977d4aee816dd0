//! What a subscription or presence change means for the occupancy and membership
//! webhooks. The adapter decides it (cluster-wide, atomically); the webhooks report it.

/// What a change means for the occupied / vacated (or member added / removed) webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Transition {
    /// Nothing to report (no zero crossing, a return within a held event's window, or the
    /// cluster state was unreachable so no node can decide).
    #[default]
    None,
    /// `channel_occupied` / `member_added` is due.
    Began,
    /// `channel_vacated` / `member_removed` is due after the hold; in a cluster, `claim`
    /// must be confirmed at due time (the channel or user may have come back elsewhere).
    Ended { claim: Option<String> },
}
