//! Ordering and cursor pagination. The cursor is opaque to clients: it encodes the direction
//! and the last `seq` returned, so following `next` never skips or repeats a row however
//! many events are recorded meanwhile (new events land after the cursor in `seq` order).
//!
//! `time` and `seq` orderings are the same order: the writer never lets an app's receive
//! time go backwards (see the crate docs), so sorting by either gives one sequence.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::query::params::{ParamError, Params};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    Asc,
    /// Newest first, the default everywhere but export.
    #[default]
    Desc,
}

/// Which page of a selection to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub direction: Direction,
    pub limit: usize,
    /// Continue after this `seq` (exclusive), in `direction`.
    pub after: Option<i64>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            direction: Direction::Desc,
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

impl PageRequest {
    /// The SQL keyword of this page's order by `seq`.
    pub fn order_sql(&self) -> &'static str {
        match self.direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        }
    }

    /// The `seq` bound a continued page starts after: the comparison operator and the
    /// cursor's seq (`>` going up, `<` going down), or `None` on a first page.
    pub fn seq_bound(&self) -> Option<(&'static str, i64)> {
        let op = match self.direction {
            Direction::Asc => ">",
            Direction::Desc => "<",
        };
        self.after.map(|seq| (op, seq))
    }

    /// Reads `ordering` (`time`, `-time`, `seq`, `-seq`), `limit` and `cursor` (or `next`).
    pub fn from_params(p: &mut Params, default: Direction) -> Result<Self, ParamError> {
        let ordering = p.take("ordering").map(|o| parse_ordering(&o)).transpose()?;
        let limit = p.take_int("limit", 1, MAX_LIMIT as i64)?;
        let cursor = p
            .take_any("cursor", &["next"])?
            .map(|c| {
                Cursor::decode(&c)
                    .ok_or_else(|| ParamError::new("cursor", "not a cursor returned by this API"))
            })
            .transpose()?;
        let direction = match (ordering, cursor) {
            (Some(o), Some(c)) if o != c.direction => {
                return Err(ParamError::new(
                    "cursor",
                    "was issued for the other ordering; drop `ordering` or start again without a cursor",
                ));
            }
            (Some(o), _) => o,
            (None, Some(c)) => c.direction,
            (None, None) => default,
        };
        Ok(Self {
            direction,
            limit: limit.map_or(DEFAULT_LIMIT, |l| l as usize),
            after: cursor.map(|c| c.seq),
        })
    }
}

pub fn parse_ordering(value: &str) -> Result<Direction, ParamError> {
    match value.trim() {
        "time" | "seq" | "received_at" | "timestamp" => Ok(Direction::Asc),
        "-time" | "-seq" | "-received_at" | "-timestamp" => Ok(Direction::Desc),
        other => Err(ParamError::new(
            "ordering",
            format_args!("must be one of time, -time, seq, -seq; got {other:?}"),
        )),
    }
}

/// Position after the last row of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub direction: Direction,
    pub seq: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let dir = match self.direction {
            Direction::Asc => 'a',
            Direction::Desc => 'd',
        };
        URL_SAFE_NO_PAD.encode(format!("v1:{dir}:{}", self.seq))
    }

    pub fn decode(token: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let mut parts = raw.splitn(3, ':');
        if parts.next()? != "v1" {
            return None;
        }
        let direction = match parts.next()? {
            "a" => Direction::Asc,
            "d" => Direction::Desc,
            _ => return None,
        };
        let seq = parts.next()?.parse().ok()?;
        Some(Self { direction, seq })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            direction: Direction::Asc,
            seq: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("bm9wZQ"), None);
        assert_eq!(Cursor::decode("!!"), None);
    }

    #[test]
    fn ordering_and_cursor_must_agree() {
        let token = Cursor {
            direction: Direction::Asc,
            seq: 3,
        }
        .encode();
        let mut p = Params::from_query(Some(&format!("cursor={token}"))).unwrap();
        let page = PageRequest::from_params(&mut p, Direction::Desc).unwrap();
        assert_eq!(page.direction, Direction::Asc);
        assert_eq!(page.after, Some(3));
        let mut p = Params::from_query(Some(&format!("ordering=-seq&next={token}"))).unwrap();
        assert_eq!(
            PageRequest::from_params(&mut p, Direction::Desc)
                .unwrap_err()
                .param,
            "cursor"
        );
        let mut p = Params::from_query(Some("ordering=name")).unwrap();
        assert_eq!(
            PageRequest::from_params(&mut p, Direction::Desc)
                .unwrap_err()
                .param,
            "ordering"
        );
        let mut p = Params::from_query(Some("limit=1001")).unwrap();
        assert_eq!(
            PageRequest::from_params(&mut p, Direction::Desc)
                .unwrap_err()
                .param,
            "limit"
        );
    }
}
