//! Per-connection rate limit for client events: at most N per one-second window.

use tokio::time::{Duration, Instant};

/// A fixed one-second window counter. Uses Tokio's clock so tests can pause time.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: u32,
    window_start: Instant,
    used: u32,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window_start: Instant::now(),
            used: 0,
        }
    }

    /// Takes one unit if the current window has room.
    pub fn try_acquire(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.used = 0;
        }
        if self.used < self.per_second {
            self.used += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allows_n_per_second_then_refills() {
        let mut r = RateLimiter::new(10);
        assert!((0..10).all(|_| r.try_acquire()));
        assert!(!r.try_acquire());
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!r.try_acquire());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!((0..10).all(|_| r.try_acquire()));
        assert!(!r.try_acquire());
    }
}
