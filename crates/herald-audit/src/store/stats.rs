//! Statistics, for every store: windows, breakdowns, the per-day series and recent events,
//! assembled from a few counting primitives each store implements ([`StatsSource`]).
//!
//! A breakdown of a filtered selection (one user, one model, a search) is counted from the
//! matching rows, driven by the filter's index. A breakdown of *everything* in a range
//! would have to read every row in it (seconds at a million events), so the writers keep
//! per-day counts by action, model, user and channel in `daily_counts`, in the same
//! transaction as the events; whole days come from there, and only the partial days at
//! the ends of a range are counted from rows. The two agree exactly because both use the
//! recorded `received_at`.

use std::collections::{BTreeMap, HashMap};

use crate::error::StoreError;
use crate::event::EventSummary;
use crate::query::EventFilter;
use crate::stats::{
    self, ActionCount, ChannelCount, ModelCount, Range, Stats, StatsRequest, UserCount,
};
use crate::store::timeline::SeqRange;
use crate::timefmt::{self, MICROS_PER_DAY};

/// What a store provides to compute statistics. `Selection` is the store's compiled
/// filter.
pub(crate) trait StatsSource {
    type Selection: Clone;
    fn seq_range(
        &mut self,
        app: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Option<SeqRange>, StoreError>;
    fn select(&self, app: &str, filter: &EventFilter, range: SeqRange) -> Self::Selection;
    /// True when the selection constrains only the app and a `seq` range.
    fn is_unfiltered(selection: &Self::Selection) -> bool;
    fn count(
        &mut self,
        app: &str,
        selection: &Self::Selection,
        range: SeqRange,
    ) -> Result<u64, StoreError>;
    /// Breakdowns and per-day counts of the selection, from its rows.
    fn row_tally(&mut self, selection: &Self::Selection) -> Result<Tally, StoreError>;
    /// Breakdowns and per-day counts of every event of whole days `[day_lo, day_hi)`, from
    /// the rollups.
    fn rollup_tally(&mut self, app: &str, day_lo: i64, day_hi: i64) -> Result<Tally, StoreError>;
    /// The newest `limit` events of the selection.
    fn newest(
        &mut self,
        selection: Self::Selection,
        limit: usize,
    ) -> Result<Vec<EventSummary>, StoreError>;
}

/// Counts by value for each breakdown, and by day.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub action: HashMap<String, u64>,
    pub model: HashMap<String, u64>,
    pub user: HashMap<String, u64>,
    pub channel: HashMap<String, u64>,
    pub per_day: BTreeMap<i64, u64>,
}

impl Tally {
    pub fn dim(&mut self, dim: &str) -> Option<&mut HashMap<String, u64>> {
        match dim {
            "action" => Some(&mut self.action),
            "model" => Some(&mut self.model),
            "user" => Some(&mut self.user),
            "channel" => Some(&mut self.channel),
            _ => None,
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (dim, map) in [
            ("action", other.action),
            ("model", other.model),
            ("user", other.user),
            ("channel", other.channel),
        ] {
            if let Some(mine) = self.dim(dim) {
                for (k, v) in map {
                    *mine.entry(k).or_default() += v;
                }
            }
        }
        for (d, v) in other.per_day {
            *self.per_day.entry(d).or_default() += v;
        }
    }
}

/// Largest first, ties by name, at most `top`.
fn top(map: HashMap<String, u64>, top: usize) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = map.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(top);
    rows
}

/// Every event received in `[from, to)`, counted from rows (a range under two days).
fn edge_tally<S: StatsSource>(
    src: &mut S,
    app: &str,
    from: i64,
    to: i64,
) -> Result<Tally, StoreError> {
    match src.seq_range(app, Some(from), Some(to))? {
        None => Ok(Tally::default()),
        Some(range) => {
            let sel = src.select(app, &EventFilter::default(), range);
            src.row_tally(&sel)
        }
    }
}

/// Every event of the app in `[from, to)`: rollups for whole days, rows for the ends.
fn unfiltered_tally<S: StatsSource>(
    src: &mut S,
    app: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Tally, StoreError> {
    let day_lo = from.map_or(i64::MIN, |f| {
        f.div_euclid(MICROS_PER_DAY) + i64::from(f.rem_euclid(MICROS_PER_DAY) != 0)
    });
    let day_hi = to.map_or(i64::MAX, |t| t.div_euclid(MICROS_PER_DAY));
    if day_lo >= day_hi {
        // No whole day inside: the range is short, count its rows.
        let (Some(from), Some(to)) = (from, to) else {
            return Ok(Tally::default());
        };
        return edge_tally(src, app, from, to);
    }
    let mut tally = src.rollup_tally(app, day_lo, day_hi)?;
    if let Some(from) = from.filter(|f| *f < day_lo * MICROS_PER_DAY) {
        tally.merge(edge_tally(src, app, from, day_lo * MICROS_PER_DAY)?);
    }
    if let Some(to) = to.filter(|t| *t > day_hi * MICROS_PER_DAY) {
        tally.merge(edge_tally(src, app, day_hi * MICROS_PER_DAY, to)?);
    }
    Ok(tally)
}

/// Count of `filter` (ignoring its own range) since `from`.
fn count_since<S: StatsSource>(
    src: &mut S,
    app: &str,
    filter: &EventFilter,
    from: i64,
) -> Result<u64, StoreError> {
    match src.seq_range(app, Some(from), None)? {
        None => Ok(0),
        Some(range) => {
            let sel = src.select(app, filter, range);
            src.count(app, &sel, range)
        }
    }
}

pub(crate) fn stats<S: StatsSource>(
    src: &mut S,
    app: &str,
    request: &StatsRequest,
) -> Result<Stats, StoreError> {
    let filter = &request.filter;
    let now = request.now_micros;
    let unranged = EventFilter {
        from: None,
        to: None,
        ..filter.clone()
    };
    let all = SeqRange::default();
    let everything = src.select(app, &unranged, all);
    let total = src.count(app, &everything, all)?;
    let today = count_since(src, app, &unranged, request.today_start())?;
    let last_7_days = count_since(src, app, &unranged, now - 7 * MICROS_PER_DAY)?;
    let last_30_days = count_since(src, app, &unranged, now - 30 * MICROS_PER_DAY)?;

    let (tally, range_count, recent) = match src.seq_range(app, filter.from, filter.to)? {
        None => (Tally::default(), 0, Vec::new()),
        Some(range) => {
            let sel = src.select(app, filter, range);
            let tally = if S::is_unfiltered(&sel) {
                unfiltered_tally(src, app, filter.from, filter.to)?
            } else {
                src.row_tally(&sel)?
            };
            let range_count = src.count(app, &sel, range)?;
            let recent = if request.recent == 0 {
                Vec::new()
            } else {
                src.newest(sel, request.recent)?
            };
            (tally, range_count, recent)
        }
    };
    // `days=N` has no `to`: its series runs up to today.
    let series_end = filter.to.or(filter.from.map(|_| now + 1));
    let per_day: Vec<(i64, u64)> = tally.per_day.into_iter().collect();
    Ok(Stats {
        total,
        today,
        last_7_days,
        last_30_days,
        range: Range {
            from: filter.from.map(timefmt::format_micros),
            to: filter.to.map(timefmt::format_micros),
            count: range_count,
        },
        by_action: top(tally.action, request.top)
            .into_iter()
            .map(|(action, count)| ActionCount { action, count })
            .collect(),
        by_model: top(tally.model, request.top)
            .into_iter()
            .map(|(model, count)| ModelCount { model, count })
            .collect(),
        by_user: top(tally.user, request.top)
            .into_iter()
            .map(|(user, count)| UserCount { user, count })
            .collect(),
        by_channel: top(tally.channel, request.top)
            .into_iter()
            .map(|(channel, count)| ChannelCount { channel, count })
            .collect(),
        per_day: stats::per_day_series(&per_day, filter.from, series_end),
        recent,
    })
}
