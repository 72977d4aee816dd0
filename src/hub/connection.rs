//! The hub's handle on one live WebSocket: its id, its bounded outgoing queue, and a way to
//! ask its task to close it.
//!
//! Delivery never waits: a frame either fits in the queue or the connection is marked as too
//! slow and closed with 4100, so one stuck client can never hold up a broadcast.

use std::sync::{Arc, OnceLock};

use herald_protocol::CloseCode;
use tokio::sync::{Notify, mpsc};

use super::{Frame, SocketId};

/// A close request: the code and a human-readable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRequest {
    pub code: CloseCode,
    pub reason: &'static str,
}

/// Cheap-clone handle to a connection, shared by every channel it is subscribed to.
#[derive(Debug, Clone)]
pub struct ConnectionHandle(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    socket_id: SocketId,
    queue: mpsc::Sender<Frame>,
    // First close request wins; later ones (e.g. overflow while already closing) are moot.
    close: OnceLock<CloseRequest>,
    close_signal: Notify,
}

/// The receiving side, owned by the connection's task. The two fields are separate so the
/// task can wait on both at once.
#[derive(Debug)]
pub struct ConnectionInbox {
    pub frames: mpsc::Receiver<Frame>,
    pub close: CloseWatch,
}

/// Waits for a close request on one connection.
#[derive(Debug)]
pub struct CloseWatch {
    handle: ConnectionHandle,
}

impl ConnectionHandle {
    /// Creates a handle and the inbox its task reads from.
    pub fn new(socket_id: SocketId, queue_capacity: usize) -> (Self, ConnectionInbox) {
        let (tx, rx) = mpsc::channel(queue_capacity);
        let handle = Self(Arc::new(Inner {
            socket_id,
            queue: tx,
            close: OnceLock::new(),
            close_signal: Notify::new(),
        }));
        let inbox = ConnectionInbox {
            frames: rx,
            close: CloseWatch {
                handle: handle.clone(),
            },
        };
        (handle, inbox)
    }

    pub fn socket_id(&self) -> SocketId {
        self.0.socket_id
    }

    /// Queues a frame without waiting. Returns false if the connection is gone or was too
    /// slow (in which case it is now being closed with 4100).
    pub fn deliver(&self, frame: Frame) -> bool {
        match self.0.queue.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if self.0.close.get().is_none() {
                    crate::metrics::METRICS.slow_connections_closed.inc();
                    tracing::warn!(
                        message = "Closing slow connection: outgoing queue full.",
                        socket_id = %self.0.socket_id,
                        capacity = self.0.queue.max_capacity(),
                    );
                }
                self.close(
                    CloseCode::OverCapacity,
                    "Connection too slow: outgoing queue full",
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Asks the connection's task to close the socket with `code`.
    pub fn close(&self, code: CloseCode, reason: &'static str) {
        if self.0.close.set(CloseRequest { code, reason }).is_ok() {
            self.0.close_signal.notify_one();
        }
    }

    pub fn is_same(&self, other: &ConnectionHandle) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl CloseWatch {
    /// Resolves when someone asked for this connection to be closed.
    pub async fn requested(&self) -> CloseRequest {
        loop {
            if let Some(req) = self.handle.0.close.get() {
                return *req;
            }
            self.handle.0.close_signal.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overflow_closes_with_4100_instead_of_waiting() {
        let (handle, mut inbox) = ConnectionHandle::new(SocketId::from_parts(1, 2), 2);
        assert!(handle.deliver(Frame::from("a")));
        assert!(handle.deliver(Frame::from("b")));
        assert!(!handle.deliver(Frame::from("c")));
        let req = inbox.close.requested().await;
        assert_eq!(req.code, CloseCode::OverCapacity);
        assert_eq!(inbox.frames.recv().await.unwrap().as_str(), "a");
    }

    #[tokio::test]
    async fn first_close_request_wins() {
        let (handle, inbox) = ConnectionHandle::new(SocketId::from_parts(1, 2), 2);
        handle.close(CloseCode::ReconnectImmediately, "shutting down");
        handle.close(CloseCode::OverCapacity, "slow");
        assert_eq!(
            inbox.close.requested().await.code,
            CloseCode::ReconnectImmediately
        );
    }
}
