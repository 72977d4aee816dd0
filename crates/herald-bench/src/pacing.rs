//! Sending at a fixed rate.
//!
//! The pacer schedules the i-th event at `start + i / rate` and never waits when it is behind,
//! so a stall is followed by a catch-up burst and the average rate is kept (instead of silently
//! lowering the offered load, which would hide a slow server). How far behind it fell is
//! reported as the schedule lag, so a reader can see when the generator could not keep up.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    rate: f64,
    issued: u64,
    max_lag: Duration,
}

impl Pacer {
    /// `rate` events per second, starting now. `rate` must be positive and finite.
    pub fn new(rate: f64) -> Self {
        Self {
            start: Instant::now(),
            rate,
            issued: 0,
            max_lag: Duration::ZERO,
        }
    }

    /// When the next event is due. Computed as `issued / rate` rather than by adding up a
    /// rounded interval, so event 3000 at 300/s is due at exactly 10 s.
    pub fn next_due(&self) -> Instant {
        self.start + Duration::from_secs_f64(self.issued as f64 / self.rate)
    }

    /// Waits until the next event is due and returns its index (0, 1, 2, …).
    pub async fn tick(&mut self) -> u64 {
        let due = self.next_due();
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due).await;
        } else {
            self.max_lag = self.max_lag.max(now - due);
        }
        let index = self.issued;
        self.issued += 1;
        index
    }

    /// Events issued so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// The furthest behind schedule an event was issued.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn keeps_the_rate() {
        let start = Instant::now();
        let mut p = Pacer::new(100.0);
        for i in 0..100 {
            assert_eq!(p.tick().await, i);
        }
        // The 100th event (index 99) is due at 990 ms.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(989) && elapsed <= Duration::from_millis(991),
            "{elapsed:?}"
        );
        assert_eq!(p.issued(), 100);
        assert_eq!(p.max_lag(), Duration::ZERO);
        let mut p = Pacer::new(300.0);
        p.issued = 3000;
        assert_eq!(p.next_due() - p.start, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn catches_up_after_a_stall_and_reports_the_lag() {
        let mut p = Pacer::new(10.0);
        p.tick().await;
        tokio::time::advance(Duration::from_millis(500)).await;
        // Events 1..=5 are all due by now: issued at once, no waiting.
        let before = Instant::now();
        for _ in 0..5 {
            p.tick().await;
        }
        assert_eq!(Instant::now(), before);
        assert_eq!(p.max_lag(), Duration::from_millis(400));
        // Event 6 is on schedule again.
        p.tick().await;
        assert_eq!(Instant::now() - before, Duration::from_millis(100));
    }
}
