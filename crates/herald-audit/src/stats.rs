//! Statistics over an app's audit trail: fixed windows (today, 7 and 30 days), breakdowns
//! by action, model, user and channel, a per-day series over a range, and the most recent
//! events. All of it honours the same filters as `/events`.

use serde::Serialize;

use crate::event::EventSummary;
use crate::query::{EventFilter, ParamError, Params};
use crate::timefmt::{self, MICROS_PER_DAY};

/// How many rows a breakdown lists unless `top` says otherwise.
pub const DEFAULT_TOP: usize = 10;
pub const MAX_TOP: usize = 1000;
/// A per-day series longer than this lists only the days that have events, so that an
/// open-ended range cannot produce an unbounded response.
pub const MAX_FILLED_DAYS: i64 = 3_660;

/// What to summarise: the filter's `from`/`to` is the range of the breakdowns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRequest {
    pub filter: EventFilter,
    pub top: usize,
    pub recent: usize,
    pub now_micros: i64,
}

impl StatsRequest {
    /// Reads the `/events` filters plus `top` and `recent`.
    pub fn from_params(p: &mut Params, now_micros: i64) -> Result<Self, ParamError> {
        let filter = EventFilter::from_params(p, now_micros)?;
        let top = p
            .take_int("top", 1, MAX_TOP as i64)?
            .map_or(DEFAULT_TOP, |n| n as usize);
        let recent = p.take_int("recent", 0, 100)?.map_or(10, |n| n as usize);
        Ok(Self {
            filter,
            top,
            recent,
            now_micros,
        })
    }

    /// Start of the current UTC day.
    pub fn today_start(&self) -> i64 {
        timefmt::day_index(self.now_micros) * MICROS_PER_DAY
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Every matching event, ignoring the range.
    pub total: u64,
    /// Since 00:00 UTC today.
    pub today: u64,
    pub last_7_days: u64,
    pub last_30_days: u64,
    /// The range the breakdowns cover (null ends are open).
    pub range: Range,
    pub by_action: Vec<ActionCount>,
    pub by_model: Vec<ModelCount>,
    pub by_user: Vec<UserCount>,
    pub by_channel: Vec<ChannelCount>,
    pub per_day: Vec<DayCount>,
    pub recent: Vec<EventSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Range {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Matching events within the range.
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionCount {
    pub action: String,
    pub count: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelCount {
    pub model: String,
    pub count: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserCount {
    pub user: String,
    pub count: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelCount {
    pub channel: String,
    pub count: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `2025-01-07` (UTC).
    pub day: String,
    pub count: u64,
}

/// Turns sparse `(day index, count)` rows into the per-day series: every day of a bounded
/// range (zeros included, which is what a chart wants), or only the days with events when
/// the range is open or very long.
pub fn per_day_series(
    rows: &[(i64, u64)],
    from: Option<i64>,
    to_exclusive: Option<i64>,
) -> Vec<DayCount> {
    let bounded = match (from, to_exclusive) {
        (Some(f), Some(t)) => {
            let first = timefmt::day_index(f);
            let last = timefmt::day_index(t - 1);
            (last - first < MAX_FILLED_DAYS).then_some((first, last))
        }
        _ => None,
    };
    match bounded {
        Some((first, last)) => {
            let mut rows = rows.iter().peekable();
            (first..=last)
                .map(|day| {
                    let mut count = 0;
                    while let Some(&&(d, c)) = rows.peek() {
                        if d > day {
                            break;
                        }
                        if d == day {
                            count = c;
                        }
                        rows.next();
                    }
                    DayCount {
                        day: timefmt::format_day(day),
                        count,
                    }
                })
                .collect()
        }
        None => rows
            .iter()
            .map(|&(d, c)| DayCount {
                day: timefmt::format_day(d),
                count: c,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_series_fill_missing_days_with_zero() {
        let d0 = 20_000;
        let rows = [(d0, 3), (d0 + 2, 5)];
        let s = per_day_series(
            &rows,
            Some(d0 * MICROS_PER_DAY + 5),
            Some((d0 + 4) * MICROS_PER_DAY),
        );
        let counts: Vec<u64> = s.iter().map(|d| d.count).collect();
        assert_eq!(counts, [3, 0, 5, 0]);
        assert_eq!(s[0].day, timefmt::format_day(d0));
        let open = per_day_series(&rows, None, None);
        assert_eq!(open.len(), 2);
    }
}
