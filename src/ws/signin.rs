//! `pusher:signin` (user authentication) and the watchlist that comes with it.

use herald_protocol::CloseCode;
use herald_protocol::frame::{self, Watch};
use herald_protocol::signature;
use serde_json::value::RawValue;

use super::outbox::Outbox;
use super::session::{Session, SignedInUser};
use crate::hub::Frame;

/// At most this many watched user ids are accepted (Pusher's limit).
const MAX_WATCHLIST: usize = 100;

impl Session {
    pub(super) async fn sign_in(&mut self, auth: &str, user_data: &str, out: &mut Outbox) {
        let to_sign = signature::user_string_to_sign(&self.socket_id, user_data);
        let config = &self.app.config;
        if let Err(e) = signature::verify_auth(auth, &config.key, &config.secret, &to_sign) {
            return self.refuse_sign_in(&format!("Sign-in refused: {e}"), out);
        }
        let (user, truncated) = match parse_user_data(user_data) {
            Ok(u) => u,
            Err(msg) => return self.refuse_sign_in(&msg, out),
        };
        if let Some(current) = &self.user {
            if current.id != user.id {
                return out.error(
                    None,
                    &format!(
                        "Sign-in refused: the connection is already signed in as {}",
                        current.id
                    ),
                );
            }
            // Signing in again as the same user changes nothing.
            out.push(frame::signin_success(user_data));
            return;
        }
        self.authorized = true;
        let first_local = self.app.sign_in(&user.id, &self.handle);
        let adapter = self.state.adapter.clone();
        let came_online = adapter
            .user_signed_in(&self.app, &user.id, self.socket_id(), first_local)
            .await;
        for watched in &user.watchlist {
            self.app.watch(watched, &self.handle);
        }
        out.push(frame::signin_success(user_data));
        if truncated {
            out.error(
                Some(CloseCode::WatchlistLimit),
                "Watchlist limit exceeded. Only the first 100 user IDs are accepted.",
            );
        }
        if !user.watchlist.is_empty() {
            let online = adapter.online_users(&self.app, &user.watchlist).await;
            if !online.is_empty() {
                out.push(frame::watchlist_events(Watch::Online, &online));
            }
        }
        if came_online {
            let frame = Frame::from(frame::watchlist_events(
                Watch::Online,
                std::slice::from_ref(&user.id),
            ));
            adapter.notify_watchers(&self.app, &user.id, frame).await;
        }
        self.user = Some(user);
    }

    fn refuse_sign_in(&self, message: &str, out: &mut Outbox) {
        // soketi's behaviour: 4009 makes pusher-js stop retrying a sign-in that cannot work.
        out.error(Some(CloseCode::Unauthorized), message);
        out.close(CloseCode::Unauthorized, "Connection not authorized.");
    }

    /// Forgets the signed-in user (on disconnect), telling watchers when they go offline.
    pub(super) async fn sign_out(&mut self) {
        let Some(user) = self.user.take() else {
            return;
        };
        for watched in &user.watchlist {
            self.app.unwatch(watched, self.socket_id());
        }
        let last_local = self.app.sign_out(&user.id, self.socket_id());
        let adapter = self.state.adapter.clone();
        if adapter
            .user_signed_out(&self.app, &user.id, self.socket_id(), last_local)
            .await
        {
            let frame = Frame::from(frame::watchlist_events(
                Watch::Offline,
                std::slice::from_ref(&user.id),
            ));
            adapter.notify_watchers(&self.app, &user.id, frame).await;
        }
    }
}

/// Parses `user_data`: a JSON object with a non-empty string `id`, optional `user_info` and
/// `watchlist`. Returns the user and whether the watchlist was cut to the limit.
fn parse_user_data(user_data: &str) -> Result<(SignedInUser, bool), String> {
    #[derive(serde::Deserialize)]
    struct UserData {
        id: Option<serde_json::Value>,
        user_info: Option<Box<RawValue>>,
        watchlist: Option<Vec<serde_json::Value>>,
    }
    let parsed: UserData = serde_json::from_str(user_data)
        .map_err(|e| format!("Sign-in refused: user_data is not a JSON object ({e})"))?;
    let id = match parsed.id {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s,
        _ => return Err("Sign-in refused: user_data.id must be a non-empty string".into()),
    };
    let mut watchlist: Vec<String> = parsed
        .watchlist
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    let truncated = watchlist.len() > MAX_WATCHLIST;
    watchlist.truncate(MAX_WATCHLIST);
    Ok((
        SignedInUser {
            id,
            info: parsed.user_info,
            watchlist,
        },
        truncated,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_needs_a_string_id_and_caps_the_watchlist() {
        assert!(parse_user_data(r#"{"id":12}"#).is_err());
        assert!(parse_user_data(r#"{"id":""}"#).is_err());
        assert!(parse_user_data("nope").is_err());
        let ids: Vec<String> = (0..150).map(|i| format!("\"{i}\"")).collect();
        let (user, truncated) =
            parse_user_data(&format!(r#"{{"id":"1","watchlist":[{}]}}"#, ids.join(","))).unwrap();
        assert!(truncated);
        assert_eq!(user.watchlist.len(), 100);
        assert_eq!(user.watchlist[99], "99");
    }
}
