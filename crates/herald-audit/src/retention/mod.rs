//! Retention: per-app rules saying how long events are kept, and pruning of the events
//! past their time. Pruning keeps a pruned event's `seq`, receive time, `content_hash` and
//! `hash` (so `verify` still walks the chain over pruned ranges) and removes everything
//! else: its payload and fields, its channel and full-text index entries, and its share of
//! the per-day rollups, so queries and statistics only see what remains.
//!
//! Rules are tried in their configured order and the **first match wins**: a `model` rule
//! matches the event's extracted model (ASCII case-insensitive, so `User` matches Django's
//! `user`), a `channel_prefix` rule matches when any of the event's channels starts with
//! the prefix. An event no rule matches is kept `default_days`, or forever when there is no
//! default.
//!
//! Each run is recorded in the trail itself: one `herald:audit-pruned` event per rule that
//! pruned something, with the rule, the count and the first and last seq pruned.

pub mod run;

use serde::Serialize;

use crate::timefmt::MICROS_PER_DAY;

/// What a rule selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Model(String),
    ChannelPrefix(String),
    /// Everything no earlier rule selected.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub selector: Selector,
    pub days: u32,
}

impl Rule {
    /// The rule as written in the configuration, for reports and the prune record.
    pub fn describe(&self) -> String {
        match &self.selector {
            Selector::Model(m) => format!("model = {m:?}, days = {}", self.days),
            Selector::ChannelPrefix(p) => format!("channel_prefix = {p:?}, days = {}", self.days),
            Selector::Default => format!("default_days = {}", self.days),
        }
    }

    fn matches(&self, model: Option<&str>, channels: &[String]) -> bool {
        match &self.selector {
            Selector::Model(m) => model.is_some_and(|v| v.eq_ignore_ascii_case(m)),
            Selector::ChannelPrefix(p) => channels.iter().any(|c| c.starts_with(p.as_str())),
            Selector::Default => true,
        }
    }
}

/// An app's rules, in order; a [`Selector::Default`] rule, if any, is last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    rules: Vec<Rule>,
}

impl RetentionPolicy {
    /// `rules` in their configured order, then the default (if any).
    pub fn new(rules: Vec<Rule>, default_days: Option<u32>) -> Self {
        let mut rules: Vec<Rule> = rules
            .into_iter()
            .filter(|r| r.selector != Selector::Default)
            .collect();
        if let Some(days) = default_days {
            rules.push(Rule {
                selector: Selector::Default,
                days,
            });
        }
        Self { rules }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The index of the rule that decides an event's retention, if any.
    pub fn rule_for(&self, model: Option<&str>, channels: &[String]) -> Option<usize> {
        self.rules.iter().position(|r| r.matches(model, channels))
    }

    /// Events received before this (µs) may be due under some rule; later ones are not.
    pub fn earliest_cutoff(&self, now: i64) -> Option<i64> {
        self.rules.iter().map(|r| cutoff(now, r.days)).max()
    }
}

/// Events received before `now − days` are past their time.
pub fn cutoff(now: i64, days: u32) -> i64 {
    now.saturating_sub(i64::from(days).saturating_mul(MICROS_PER_DAY))
}

/// What one rule pruned (or would prune, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulePruned {
    pub rule: String,
    pub count: u64,
    pub first_seq: i64,
    pub last_seq: i64,
}

/// One bounded step of a prune, as a store answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneStep {
    /// Per rule index: (count, first seq, last seq).
    pub pruned: Vec<(usize, u64, i64, i64)>,
    /// Where the next step starts (`seq > resume_after`); `None` when the run is done.
    pub resume_after: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetentionPolicy {
        RetentionPolicy::new(
            vec![
                Rule {
                    selector: Selector::Model("Invoice".into()),
                    days: 2555,
                },
                Rule {
                    selector: Selector::ChannelPrefix("user-".into()),
                    days: 90,
                },
            ],
            Some(365),
        )
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let p = policy();
        let ch = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(p.rule_for(Some("invoice"), &ch(&["user-a"])), Some(0));
        assert_eq!(
            p.rule_for(Some("service"), &ch(&["audit", "user-a"])),
            Some(1)
        );
        assert_eq!(p.rule_for(None, &ch(&["audit"])), Some(2));
        assert_eq!(
            RetentionPolicy::new(vec![], None).rule_for(None, &ch(&["x"])),
            None
        );
        assert_eq!(
            p.earliest_cutoff(1000 * MICROS_PER_DAY),
            Some(910 * MICROS_PER_DAY)
        );
        assert_eq!(p.rules()[2].describe(), "default_days = 365");
    }
}
