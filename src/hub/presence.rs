//! Presence bookkeeping for one channel on one node: which users are here, with how many
//! sockets each. A user counts once however many sockets they have; `member_added` is due
//! when their first socket joins and `member_removed` when their last one leaves.

use std::collections::HashMap;

use herald_protocol::frame;
use serde_json::value::RawValue;

use super::SocketId;

/// One present user.
#[derive(Debug, Clone)]
pub struct Member {
    /// `user_info` exactly as the app server sent it (never re-serialised).
    pub info: Option<Box<RawValue>>,
    sockets: Vec<SocketId>,
}

impl Member {
    /// Sockets of this user in the channel (on this node).
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }
}

/// The members of one presence channel.
#[derive(Debug, Default, Clone)]
pub struct Roster {
    members: HashMap<String, Member>,
}

impl Roster {
    /// Adds a socket for `user_id`. Returns true when this is the user's first socket, i.e.
    /// when `member_added` is due.
    pub fn join(&mut self, user_id: &str, info: Option<Box<RawValue>>, socket: SocketId) -> bool {
        match self.members.get_mut(user_id) {
            Some(member) => {
                if !member.sockets.contains(&socket) {
                    member.sockets.push(socket);
                }
                // The latest user_info wins, as with Pusher.
                member.info = info;
                false
            }
            None => {
                self.members.insert(
                    user_id.to_owned(),
                    Member {
                        info,
                        sockets: vec![socket],
                    },
                );
                true
            }
        }
    }

    /// Removes a socket of `user_id`. Returns true when it was the user's last socket, i.e.
    /// when `member_removed` is due.
    pub fn leave(&mut self, user_id: &str, socket: SocketId) -> bool {
        let Some(member) = self.members.get_mut(user_id) else {
            return false;
        };
        member.sockets.retain(|s| *s != socket);
        if member.sockets.is_empty() {
            self.members.remove(user_id);
            true
        } else {
            false
        }
    }

    /// A member and how many sockets they have in this channel on this node.
    pub fn member(&self, user_id: &str) -> Option<&Member> {
        self.members.get(user_id)
    }

    pub fn contains(&self, user_id: &str) -> bool {
        self.members.contains_key(user_id)
    }

    pub fn user_count(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    pub fn members(&self) -> impl Iterator<Item = (&str, &Member)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The `data` of a `subscription_succeeded` for this roster.
    pub fn subscription_data(&self) -> String {
        frame::presence_data(
            self.members()
                .map(|(id, m)| (id, m.info.as_deref().map(RawValue::get))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Option<Box<RawValue>> {
        Some(RawValue::from_string(s.to_owned()).unwrap())
    }

    #[test]
    fn a_user_with_several_sockets_counts_once() {
        let mut r = Roster::default();
        let (a, b) = (SocketId::from_parts(1, 1), SocketId::from_parts(1, 2));
        assert!(r.join("7", raw(r#"{"name":"x"}"#), a));
        assert!(!r.join("7", raw(r#"{"name":"x"}"#), b));
        assert_eq!(r.user_count(), 1);
        assert!(!r.leave("7", a), "one socket left: no member_removed yet");
        assert!(r.contains("7"));
        assert!(r.leave("7", b), "last socket: member_removed");
        assert!(r.is_empty());
        assert!(!r.leave("7", b), "leaving twice is harmless");
    }

    #[test]
    fn subscription_data_lists_ids_hash_and_count() {
        let mut r = Roster::default();
        r.join("1", raw(r#"{"name":"Phil"}"#), SocketId::from_parts(1, 1));
        let data = r.subscription_data();
        let v: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(v["presence"]["ids"], serde_json::json!(["1"]));
        assert_eq!(v["presence"]["hash"]["1"]["name"], "Phil");
        assert_eq!(v["presence"]["count"], 1);
    }
}
