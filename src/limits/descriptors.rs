//! File descriptors: raising the soft `RLIMIT_NOFILE` to the hard limit at startup (every
//! socket is a descriptor, and systemd's soft default of 1,024 would cap herald near a
//! thousand connections), and remembering when `accept` ran out of them so `/ready` can say
//! why new connections wait.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard one and logs the result.
pub fn raise_open_file_limit() {
    let limit = getrlimit(Resource::Nofile);
    let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_owned(), |v| v.to_string());
    if limit.current == limit.maximum {
        tracing::info!(
            message = "Open-file limit.",
            soft = %show(limit.current),
            hard = %show(limit.maximum),
        );
        return;
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::info!(
            message = "Raised the open-file limit to the hard limit.",
            from = %show(limit.current),
            to = %show(limit.maximum),
        ),
        Err(error) => tracing::warn!(
            message = "Could not raise the open-file limit; connections beyond it will wait.",
            soft = %show(limit.current),
            hard = %show(limit.maximum),
            %error,
        ),
    }
}

/// Whether `accept` is currently failing for lack of descriptors, and why.
#[derive(Debug, Default)]
pub struct DescriptorHealth {
    /// Fast path for the common case: a successful accept outside an episode reads only this.
    failing: AtomicBool,
    /// The error of the ongoing exhaustion, if any (a mutex: touched once per failed accept
    /// and once per `/ready`, never on the per-message path).
    exhausted: Mutex<Option<String>>,
}

impl DescriptorHealth {
    /// Records a failed accept; true when this starts a new episode (log it once).
    pub fn exhausted(&self, error: &std::io::Error) -> bool {
        let mut state = self.exhausted.lock().unwrap_or_else(|p| p.into_inner());
        let first = state.is_none();
        *state = Some(error.to_string());
        self.failing.store(true, Ordering::Release);
        first
    }

    /// Records a successful accept; true when this ends an episode.
    pub fn recovered(&self) -> bool {
        if !self.failing.load(Ordering::Acquire) {
            return false;
        }
        self.failing.store(false, Ordering::Release);
        let mut state = self.exhausted.lock().unwrap_or_else(|p| p.into_inner());
        state.take().is_some()
    }

    /// The reason `/ready` gives while accepting fails.
    pub fn reason(&self) -> Option<String> {
        let state = self.exhausted.lock().unwrap_or_else(|p| p.into_inner());
        state.as_ref().map(|error| {
            format!("cannot accept new connections: {error} (open connections are still served)")
        })
    }
}
