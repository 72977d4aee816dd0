//! Rebuilding this node's share of the cluster state from its local hub, after every
//! (re)connect and whenever its heartbeat was found expired.
//!
//! The node's share is whatever it recorded under its instance id; the hub is the truth.
//! For every channel, presence member and user that appears in either, the same absolute
//! writes as the live path are made, so the rebuild is idempotent and safe to run while
//! sockets keep joining and leaving. Membership changes it discovers (users who joined or
//! left while Redis was unreachable) are announced to the *other* nodes only: this node's
//! sockets already saw them.

use std::collections::BTreeSet;

use herald_protocol::ChannelKind;
use herald_protocol::frame::{self, Watch};
use redis::Value;

use super::channels;
use super::envelope::Kind;
use super::link::LinkError;
use super::presence::{self, Change};
use super::shared::Shared;
use super::values::as_strings;
use super::{pubsub, quota, users};
use crate::hub::Frame;

/// What a rebuild covered.
#[derive(Debug, Default)]
pub struct Stats {
    pub channels: usize,
    pub members: usize,
    pub users: usize,
}

pub async fn run(shared: &Shared) -> Result<Stats, LinkError> {
    let mut stats = Stats::default();
    for app in shared.hub.apps() {
        let id = &app.config.id;
        pubsub::subscribe_always(shared, shared.keys.control_topic(id)).await?;
        quota::sync(shared, app).await?;

        let own = shared.keys.own_counts(id, &shared.instance);
        let own_presence = shared.keys.own_presence(id, &shared.instance);
        let own_users = shared.keys.own_users(id, &shared.instance);
        let recorded: Vec<Value> = shared
            .link
            .call(|mut c| async move {
                redis::pipe()
                    .cmd("HKEYS")
                    .arg(own)
                    .cmd("HKEYS")
                    .arg(own_presence)
                    .cmd("HKEYS")
                    .arg(own_users)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let recorded_channels = recorded.first().map(as_strings).unwrap_or_default();
        let recorded_members = recorded.get(1).map(as_strings).unwrap_or_default();
        let recorded_users = recorded.get(2).map(as_strings).unwrap_or_default();

        let mut channels: BTreeSet<String> = app.channel_names().into_iter().collect();
        channels.extend(recorded_channels);
        let mut members: BTreeSet<(String, String)> = recorded_members
            .iter()
            .filter_map(|f| f.split_once('\n'))
            .map(|(c, u)| (c.to_owned(), u.to_owned()))
            .collect();
        for channel in &channels {
            if ChannelKind::of(channel) == ChannelKind::Presence {
                for user in app.presence_user_ids(channel) {
                    members.insert((channel.clone(), user));
                }
            }
        }
        for (channel, _) in &members {
            channels.insert(channel.clone());
        }

        // Transitions found here are real (sockets came or went while Redis was away, or a
        // restarted Redis lost the state): they get their webhooks like any other.
        let id = &app.config.id;
        for channel in &channels {
            let subscriptions = channels::sync(shared, app, channel).await?;
            shared
                .webhooks
                .occupancy(id, channel, &subscriptions.occupancy);
            stats.channels += 1;
        }
        for (channel, user) in &members {
            let sync = presence::sync_member(shared, app, channel, user, false).await?;
            shared.webhooks.membership(id, channel, user, &sync.webhook);
            let encoded = match sync.change {
                Change::Joined => {
                    let info = app.presence_member(channel, user).and_then(|(_, i)| i);
                    frame::member_added(channel, user, info.as_deref().map(|r| r.get()))
                }
                Change::Left => frame::member_removed(channel, user),
                // A rebuild re-asserts members already admitted, so no limit is checked.
                Change::None | Change::Full => continue,
            };
            pubsub::broadcast_remote(shared, app, channel, &Frame::from(encoded), None).await;
            stats.members += 1;
        }

        let mut user_ids: BTreeSet<String> = app.signed_in_user_ids().into_iter().collect();
        user_ids.extend(recorded_users);
        for user in &user_ids {
            let change = users::sync_user(shared, app, user).await?;
            let watch = match change {
                1 => Watch::Online,
                -1 => Watch::Offline,
                _ => continue,
            };
            let frame = Frame::from(frame::watchlist_events(watch, std::slice::from_ref(user)));
            pubsub::control_remote(shared, app, Kind::Watchers, user, frame.as_str().as_bytes())
                .await;
            stats.users += 1;
        }
    }
    Ok(stats)
}
