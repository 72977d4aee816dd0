//! Statistics over the PostgreSQL store: the counting primitives of
//! [`crate::store::stats::StatsSource`] (the assembly is shared with every store).

use super::read::{count, page};
use super::sql::{Db, Param, Selection};
use crate::error::StoreError;
use crate::event::EventSummary;
use crate::query::{Direction, EventFilter, PageRequest};
use crate::stats::{Stats, StatsRequest};
use crate::store::stats::{StatsSource, Tally};
use crate::store::timeline::SeqRange;
use crate::timefmt::MICROS_PER_DAY;

impl StatsSource for &Db<'_, '_> {
    type Selection = Selection;

    fn seq_range(
        &mut self,
        app: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Option<SeqRange>, StoreError> {
        Db::seq_range(self, app, from, to)
    }

    fn select(&self, app: &str, filter: &EventFilter, range: SeqRange) -> Selection {
        Selection::new(app, filter, range)
    }

    fn is_unfiltered(selection: &Selection) -> bool {
        selection.unfiltered
    }

    fn count(
        &mut self,
        app: &str,
        selection: &Selection,
        range: SeqRange,
    ) -> Result<u64, StoreError> {
        count(self, app, selection, range)
    }

    fn row_tally(&mut self, sel: &Selection) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        for (dim, column) in [
            ("action", "e.action"),
            ("model", "e.model"),
            ("user", "e.\"user\""),
        ] {
            let sql = format!(
                "SELECT {column}, count(*) {} AND {column} IS NOT NULL GROUP BY 1",
                sel.sql()
            );
            let map = tally.dim(dim).expect("known dimension");
            for row in self.query(&sql, &sel.params)? {
                map.insert(row.get(0), row.get::<_, i64>(1) as u64);
            }
        }
        let sql = format!(
            "SELECT j.value, count(*) FROM {} CROSS JOIN LATERAL \
             json_array_elements_text(e.channels::json) AS j(value) WHERE {} GROUP BY 1",
            sel.from,
            sel.sql()
                .split_once(" WHERE ")
                .map_or("", |(_, conditions)| conditions)
        );
        for row in self.query(&sql, &sel.params)? {
            tally
                .channel
                .insert(row.get(0), row.get::<_, i64>(1) as u64);
        }
        let sql = format!(
            "SELECT e.received_at / {MICROS_PER_DAY}, count(*) {} GROUP BY 1",
            sel.sql()
        );
        for row in self.query(&sql, &sel.params)? {
            tally
                .per_day
                .insert(row.get(0), row.get::<_, i64>(1) as u64);
        }
        Ok(tally)
    }

    fn rollup_tally(&mut self, app: &str, day_lo: i64, day_hi: i64) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        let params = [
            Param::Text(app.to_owned()),
            Param::Int(day_lo),
            Param::Int(day_hi),
        ];
        for row in self.query(
            "SELECT dim, value, sum(count)::bigint FROM daily_counts
             WHERE app_id = $1 AND day >= $2 AND day < $3 AND dim <> '' GROUP BY dim, value",
            &params,
        )? {
            let dim: String = row.get(0);
            if let Some(map) = tally.dim(&dim) {
                map.insert(row.get(1), row.get::<_, i64>(2) as u64);
            }
        }
        for row in self.query(
            "SELECT day, count FROM daily_counts
             WHERE app_id = $1 AND day >= $2 AND day < $3 AND dim = '' AND value = ''",
            &params,
        )? {
            tally
                .per_day
                .insert(row.get(0), row.get::<_, i64>(1) as u64);
        }
        Ok(tally)
    }

    fn newest(
        &mut self,
        selection: Selection,
        limit: usize,
    ) -> Result<Vec<EventSummary>, StoreError> {
        let newest = PageRequest {
            direction: Direction::Desc,
            limit,
            after: None,
        };
        Ok(page(self, selection, &newest)?.0)
    }
}

pub fn stats(db: &Db<'_, '_>, app: &str, request: &StatsRequest) -> Result<Stats, StoreError> {
    let mut source = db;
    crate::store::stats::stats(&mut source, app, request)
}
