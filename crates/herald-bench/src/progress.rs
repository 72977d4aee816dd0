//! The once-a-second progress line on stderr.
//!
//! Each scenario supplies a closure that formats its own counters; this module only owns the
//! ticking and the elapsed-time prefix, and stops when the run's token is cancelled.

use std::io::Write;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Prints `[  12s] <line(dt)>` every second until `stop` is cancelled. `line` gets the time
/// since its previous call, for rates. Does nothing when `enabled` is false.
pub fn spawn(
    enabled: bool,
    stop: CancellationToken,
    mut line: impl FnMut(Duration) -> String + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if !enabled {
            return;
        }
        let start = Instant::now();
        let mut last = start;
        let mut tick =
            tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            let text = line(now - last);
            last = now;
            // A closed stderr is no reason to stop the benchmark.
            let _ = writeln!(
                std::io::stderr().lock(),
                "[{:>5.0}s] {text}",
                (now - start).as_secs_f64()
            );
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn ticks_every_second_until_stopped() {
        let calls = Arc::new(AtomicU32::new(0));
        let stop = CancellationToken::new();
        let c = calls.clone();
        let handle = spawn(true, stop.clone(), move |dt| {
            assert_eq!(dt, Duration::from_secs(1));
            c.fetch_add(1, Ordering::Relaxed);
            String::from("test")
        });
        tokio::time::sleep(Duration::from_millis(3500)).await;
        stop.cancel();
        handle.await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }
}
