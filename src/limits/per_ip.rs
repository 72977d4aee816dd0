//! Per-client-IP WebSocket admission: how many connections one address may hold open and
//! how many it may open per second. Both are off by default (NAT and office networks put
//! many honest users behind one address); the address is the first untrusted hop of
//! `X-Forwarded-For` when the peer is one of `trusted_proxies`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::time::{Duration, Instant};

/// Why an address may not open another connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRefusal {
    /// It already holds this many connections.
    TooManyConnections(usize),
    /// It opened this many in the last second.
    TooFast(u32),
}

impl std::fmt::Display for IpRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooManyConnections(max) => write!(
                f,
                "Over capacity: this address already has {max} connections (HERALD_MAX_CONNECTIONS_PER_IP)"
            ),
            Self::TooFast(rate) => write!(
                f,
                "Over capacity: this address opened more than {rate} connections in the last second (HERALD_MAX_CONNECTIONS_PER_IP_PER_SECOND)"
            ),
        }
    }
}

#[derive(Debug)]
struct Entry {
    open: usize,
    window_start: Instant,
    opened_in_window: u32,
}

/// The per-address counts. A std mutex: held for a map lookup at connect and disconnect,
/// never across `.await`.
#[derive(Debug)]
pub struct PerIp {
    max_connections: Option<usize>,
    per_second: Option<u32>,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// An admitted connection's place in its address's count; released on drop.
#[derive(Debug)]
pub struct IpPermit {
    owner: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    pub fn new(max_connections: Option<usize>, per_second: Option<u32>) -> Self {
        Self {
            max_connections,
            per_second,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether either limit is set (when neither is, nothing is tracked).
    pub fn enabled(&self) -> bool {
        self.max_connections.is_some() || self.per_second.is_some()
    }

    /// Admits one more connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<IpPermit, IpRefusal> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Forget idle addresses now and then, so the map is bounded by active ones.
        if entries.len() > 1024 {
            entries.retain(|_, e| e.open > 0 || now - e.window_start < Duration::from_secs(1));
        }
        let entry = entries.entry(ip).or_insert(Entry {
            open: 0,
            window_start: now,
            opened_in_window: 0,
        });
        if now - entry.window_start >= Duration::from_secs(1) {
            entry.window_start = now;
            entry.opened_in_window = 0;
        }
        if let Some(max) = self.max_connections
            && entry.open >= max
        {
            return Err(IpRefusal::TooManyConnections(max));
        }
        if let Some(rate) = self.per_second
            && entry.opened_in_window >= rate
        {
            return Err(IpRefusal::TooFast(rate));
        }
        entry.open += 1;
        entry.opened_in_window += 1;
        Ok(IpPermit {
            owner: self.clone(),
            ip,
        })
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut entries = self.owner.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = entries.get_mut(&self.ip) {
            entry.open = entry.open.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_open_connections_and_the_rate_per_address() {
        let limits = Arc::new(PerIp::new(Some(2), Some(3)));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(
            limits.admit(a).unwrap_err(),
            IpRefusal::TooManyConnections(2)
        );
        let _other = limits.admit(b).unwrap();
        drop(first);
        // A slot is free, but a third connection within the second is too fast.
        let third = limits.admit(a).unwrap();
        drop(third);
        assert_eq!(limits.admit(a).unwrap_err(), IpRefusal::TooFast(3));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limits.admit(a).is_ok());
    }
}
