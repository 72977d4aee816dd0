//! WebSocket close codes and `pusher:error` codes defined by the Pusher protocol.
//!
//! pusher-js decides whether to reconnect from the code: 4000–4099 are refused (no retry),
//! 4100–4199 back off, 4200–4299 retry at once. 43xx must only ever be sent as
//! `pusher:error` codes, never as close codes, or pusher-js stops reconnecting.

/// A Pusher close (or error) code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum CloseCode {
    /// RFC 6455: a text frame that is not valid UTF-8.
    InvalidFramePayload = 1007,
    /// RFC 6455: a message larger than the server accepts.
    MessageTooBig = 1009,
    SslOnly = 4000,
    AppNotFound = 4001,
    AppDisabled = 4003,
    OverConnectionQuota = 4004,
    PathNotFound = 4005,
    InvalidVersionFormat = 4006,
    UnsupportedProtocol = 4007,
    NoProtocolVersion = 4008,
    Unauthorized = 4009,
    OverCapacity = 4100,
    ReconnectImmediately = 4200,
    PongNotReceived = 4201,
    ClosedAfterInactivity = 4202,
    ClientEventRateLimit = 4301,
    WatchlistLimit = 4302,
}

impl CloseCode {
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Whether this code may be used to close a socket (43xx may not).
    pub fn is_valid_close_code(self) -> bool {
        self.code() < 4300
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_only_codes_are_never_close_codes() {
        assert!(!CloseCode::ClientEventRateLimit.is_valid_close_code());
        assert!(!CloseCode::WatchlistLimit.is_valid_close_code());
        assert!(CloseCode::PongNotReceived.is_valid_close_code());
        assert_eq!(CloseCode::OverCapacity.code(), 4100);
        assert!(CloseCode::InvalidFramePayload.is_valid_close_code());
    }
}
