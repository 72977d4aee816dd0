//! The once-a-second progress line on stderr.
//!
//! Each scenario supplies a closure that formats its own counters; this module only owns the
//! ticking and the elapsed-time prefix, and stops when the run's token is cancelled.

use std::io::Write;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Prints `[  12s] <line(dt)>` to stderr every second until `stop` is cancelled. `line` gets
/// the time since its previous call, for rates. Does nothing when `enabled` is false.
pub fn spawn(
    enabled: bool,
    stop: CancellationToken,
    line: impl FnMut(Duration) -> String + Send + 'static,
) -> JoinHandle<()> {
    spawn_to(enabled, stop, line, |text| {
        // A closed stderr is no reason to stop the benchmark.
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    })
}

/// [`spawn`], writing each line to `sink` instead of stderr.
pub fn spawn_to(
    enabled: bool,
    stop: CancellationToken,
    mut line: impl FnMut(Duration) -> String + Send + 'static,
    mut sink: impl FnMut(String) + Send + 'static,
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
            sink(format!("[{:>5.0}s] {text}", (now - start).as_secs_f64()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test(start_paused = true)]
    async fn ticks_every_second_until_stopped() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let mut n = 0;
        let sink = lines.clone();
        let handle = spawn_to(
            true,
            stop.clone(),
            move |dt| {
                assert_eq!(dt, Duration::from_secs(1));
                n += 1;
                format!("tick {n}")
            },
            move |text| sink.lock().unwrap().push(text),
        );
        tokio::time::sleep(Duration::from_millis(3500)).await;
        stop.cancel();
        handle.await.unwrap();
        assert_eq!(
            *lines.lock().unwrap(),
            ["[    1s] tick 1", "[    2s] tick 2", "[    3s] tick 3"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_progress_prints_nothing() {
        let handle = spawn_to(
            false,
            CancellationToken::new(),
            |_| unreachable!(),
            |_| unreachable!(),
        );
        handle.await.unwrap();
    }
}
