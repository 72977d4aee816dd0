//! Frames a message handler wants sent back to its own socket, in order, and whether the
//! socket should then be closed.

use herald_protocol::{CloseCode, frame};

use crate::hub::Frame;

/// What a handler asks the connection loop to do after it returns.
#[derive(Debug, Default)]
pub struct Outbox {
    pub frames: Vec<Frame>,
    pub close: Option<(CloseCode, &'static str)>,
}

impl Outbox {
    pub fn push(&mut self, frame: String) {
        self.frames.push(Frame::from(frame));
    }

    /// A non-fatal `pusher:error`.
    pub fn error(&mut self, code: Option<CloseCode>, message: &str) {
        self.push(frame::error(code.map(CloseCode::code), message));
    }

    /// Refuses a subscription the way Pusher does (`pusher:error`, code null) and also
    /// with a channel-scoped `pusher:subscription_error` that pusher-js hands to
    /// `channel.bind('pusher:subscription_error')`.
    pub fn subscription_error(&mut self, channel: &str, status: u16, message: &str) {
        self.push(frame::error(None, message));
        let kind = if status == 401 || status == 403 {
            "AuthError"
        } else {
            "SubscriptionError"
        };
        self.push(frame::subscription_error(channel, kind, message, status));
    }

    pub fn close(&mut self, code: CloseCode, reason: &'static str) {
        self.close = Some((code, reason));
    }
}
