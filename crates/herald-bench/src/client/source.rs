//! Source addresses for many client connections to a loopback server.
//!
//! Letting the kernel pick each source port stops scaling long before the ephemeral range
//! (~28k ports) is full: `connect` spends ever longer looking for a free port, measured here
//! at 30 s of system time and 1 s handshakes for 19.5k connections, which is the generator's
//! cost, not the server's. So for large runs the generator hands out `(127.0.0.x, port)` pairs
//! itself, walking ports below the ephemeral range on addresses 127.0.0.2 and up (all of
//! 127.0.0.0/8 is loopback on Linux, and 127.0.0.1, where services usually listen, is left
//! alone). A pair that is taken is skipped.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Source ports handed out on each address: below Linux's default ephemeral range
/// (32768–60999), so they never collide with ports the kernel picks for other sockets.
pub const PORTS: std::ops::RangeInclusive<u16> = 20_000..=32_767;
/// Connections placed on one address before the next one is used.
pub const PER_ADDRESS: usize = (*PORTS.end() - *PORTS.start()) as usize + 1;
/// Give up on a connection after this many taken pairs in a row.
pub const MAX_ATTEMPTS: usize = 64;

/// Hands out source `(address, port)` pairs, round robin over the pool.
#[derive(Debug)]
pub struct SourcePool {
    addresses: usize,
    next: AtomicUsize,
}

impl SourcePool {
    /// A pool over `addresses` loopback addresses (127.0.0.2, 127.0.0.3, …), at most 250.
    pub fn new(addresses: usize) -> Self {
        Self {
            addresses: addresses.clamp(1, 250),
            next: AtomicUsize::new(0),
        }
    }

    /// How many addresses `connections` need.
    pub fn addresses_for(connections: usize) -> usize {
        connections.div_ceil(PER_ADDRESS).max(1)
    }

    pub fn addresses(&self) -> usize {
        self.addresses
    }

    /// The next pair to try. Consecutive calls spread over the addresses first, then ports,
    /// so every address fills evenly.
    pub fn next(&self) -> SocketAddr {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let address = n % self.addresses;
        let port = *PORTS.start() as usize + (n / self.addresses) % PER_ADDRESS;
        let ip = Ipv4Addr::new(127, 0, 0, 2 + address as u8);
        SocketAddr::V4(SocketAddrV4::new(ip, port as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_addresses_then_ports_and_wraps() {
        let pool = SourcePool::new(2);
        let first: Vec<String> = (0..4).map(|_| pool.next().to_string()).collect();
        assert_eq!(
            first,
            [
                "127.0.0.2:20000",
                "127.0.0.3:20000",
                "127.0.0.2:20001",
                "127.0.0.3:20001"
            ]
        );
        for _ in 4..2 * PER_ADDRESS {
            pool.next();
        }
        assert_eq!(pool.next().to_string(), "127.0.0.2:20000");
    }

    #[test]
    fn sizes_the_pool_for_the_run() {
        assert_eq!(PER_ADDRESS, 12_768);
        assert_eq!(SourcePool::addresses_for(1), 1);
        assert_eq!(SourcePool::addresses_for(12_768), 1);
        assert_eq!(SourcePool::addresses_for(50_000), 4);
        assert_eq!(SourcePool::new(1000).addresses(), 250);
    }
}
