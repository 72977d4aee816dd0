//! Every Redis key and pub/sub channel name herald uses, in one place.
//!
//! State keys carry the hash tag `{prefix}` so that all of a cluster's state sits in one
//! Redis Cluster slot and the Lua scripts may touch several keys at once. Pub/sub channels
//! carry no hash tag, so sharded pub/sub spreads the message traffic over the shards.
//!
//! ```text
//! {P}:node:{instance}          heartbeat (string, PX node_timeout) = node id
//! {P}:instances                set of instances that may own state
//! {P}:reaper                   lock: one node reaps at a time
//! {P}:{app}:counts             hash channel -> cluster-wide subscription count
//! {P}:{app}:own:{instance}     hash channel -> that instance's subscriptions
//! {P}:{app}:pm:{channel}       hash user id -> user_info (presence members)
//! {P}:{app}:ps:{channel}       hash user id -> cluster-wide sockets of the member
//! {P}:{app}:pown:{instance}    hash "channel\nuser" -> that instance's sockets
//! {P}:{app}:users              hash user id -> cluster-wide signed-in sockets
//! {P}:{app}:uown:{instance}    hash user id -> that instance's signed-in sockets
//! {P}:{app}:cache:{channel}    last event of a cache channel (PX cache_ttl)
//! {P}:{app}:hc:{channel}       held channel_vacated webhook: token, or 'x' once cancelled
//! {P}:{app}:hm:{channel}\n{user} held member_removed webhook: token, or 'x' once cancelled
//! {P}:{app}:conns              hash "n" -> cluster-wide connections (apps with a quota)
//! {P}:{app}:cown:{instance}    hash "n" -> that instance's connections
//! P:{app}:ch:{channel}         sharded pub/sub: broadcasts to the channel
//! P:{app}:ctl                  sharded pub/sub: terminate-user and watchlist notices
//! ```

/// Key and channel names for one cluster (one prefix).
#[derive(Debug, Clone)]
pub struct Keys {
    /// `{prefix}:`, the hash-tagged start of every state key.
    tagged: String,
    /// `prefix:`, the start of every pub/sub channel.
    topic_start: String,
}

/// What an incoming pub/sub channel name refers to.
#[derive(Debug, PartialEq, Eq)]
pub enum Topic<'a> {
    Channel { app: &'a str, channel: &'a str },
    Control { app: &'a str },
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            tagged: format!("{{{prefix}}}:"),
            topic_start: format!("{prefix}:"),
        }
    }

    pub fn heartbeat(&self, instance: &str) -> String {
        format!("{}node:{instance}", self.tagged)
    }

    pub fn instances(&self) -> String {
        format!("{}instances", self.tagged)
    }

    pub fn reaper_lock(&self) -> String {
        format!("{}reaper", self.tagged)
    }

    /// The start of every state key of `app` (the reap script builds keys from it).
    pub fn app(&self, app: &str) -> String {
        format!("{}{app}:", self.tagged)
    }

    pub fn counts(&self, app: &str) -> String {
        format!("{}{app}:counts", self.tagged)
    }

    pub fn own_counts(&self, app: &str, instance: &str) -> String {
        format!("{}{app}:own:{instance}", self.tagged)
    }

    /// The start of the presence member hashes, `pm:` + channel.
    pub fn members_prefix(&self, app: &str) -> String {
        format!("{}{app}:pm:", self.tagged)
    }

    pub fn members(&self, app: &str, channel: &str) -> String {
        format!("{}{app}:pm:{channel}", self.tagged)
    }

    pub fn member_sockets(&self, app: &str, channel: &str) -> String {
        format!("{}{app}:ps:{channel}", self.tagged)
    }

    pub fn own_presence(&self, app: &str, instance: &str) -> String {
        format!("{}{app}:pown:{instance}", self.tagged)
    }

    pub fn users(&self, app: &str) -> String {
        format!("{}{app}:users", self.tagged)
    }

    pub fn own_users(&self, app: &str, instance: &str) -> String {
        format!("{}{app}:uown:{instance}", self.tagged)
    }

    pub fn connections(&self, app: &str) -> String {
        format!("{}{app}:conns", self.tagged)
    }

    pub fn own_connections(&self, app: &str, instance: &str) -> String {
        format!("{}{app}:cown:{instance}", self.tagged)
    }

    /// The held `channel_vacated` webhook of a channel (`reap.lua` builds the same name).
    pub fn held_vacated(&self, app: &str, channel: &str) -> String {
        format!("{}{app}:hc:{channel}", self.tagged)
    }

    /// The held `member_removed` webhook of a member (`reap.lua` builds the same name).
    pub fn held_removed(&self, app: &str, channel: &str, user_id: &str) -> String {
        format!("{}{app}:hm:{channel}\n{user_id}", self.tagged)
    }

    pub fn cache(&self, app: &str, channel: &str) -> String {
        format!("{}{app}:cache:{channel}", self.tagged)
    }

    pub fn channel_topic(&self, app: &str, channel: &str) -> String {
        format!("{}{app}:ch:{channel}", self.topic_start)
    }

    pub fn control_topic(&self, app: &str) -> String {
        format!("{}{app}:ctl", self.topic_start)
    }

    /// Reads a pub/sub channel name back. App ids never contain `:` (the configuration
    /// refuses them), so the first `:` after the prefix ends the app id.
    pub fn parse_topic<'a>(&self, topic: &'a str) -> Option<Topic<'a>> {
        let rest = topic.strip_prefix(self.topic_start.as_str())?;
        let (app, rest) = rest.split_once(':')?;
        if rest == "ctl" {
            return Some(Topic::Control { app });
        }
        let channel = rest.strip_prefix("ch:")?;
        Some(Topic::Channel { app, channel })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_state_keys_share_one_hash_tag() {
        let k = Keys::new("herald:eu");
        let t = k.channel_topic("1", "presence-room:a");
        assert_eq!(t, "herald:eu:1:ch:presence-room:a");
        assert_eq!(
            k.parse_topic(&t),
            Some(Topic::Channel {
                app: "1",
                channel: "presence-room:a"
            })
        );
        assert_eq!(
            k.parse_topic(&k.control_topic("app-2")),
            Some(Topic::Control { app: "app-2" })
        );
        assert_eq!(k.parse_topic("other:1:ch:x"), None);
        for key in [
            k.heartbeat("n"),
            k.counts("1"),
            k.members("1", "presence-x"),
            k.own_users("1", "n"),
        ] {
            assert!(key.starts_with("{herald:eu}:"), "{key}");
        }
    }
}
