//! Time ranges as `seq` ranges, for every store.
//!
//! Receive times never decrease along an app's `seq` (the writers make sure of it), so the
//! events received in `[from, to)` are exactly a `seq` range, found by a binary search over
//! `seq`: about twenty index probes for a million events, and no time index to maintain on
//! every insert. A store supplies the probes ([`SeqProbe`]); the search is here.

use crate::error::StoreError;

/// The `seq` range an event's receive time must fall in.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqRange {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
}

/// The index lookups the search needs.
pub trait SeqProbe {
    /// The first and last `seq` of an app, if it has events.
    fn bounds(&mut self, app: &str) -> Result<Option<(i64, i64)>, StoreError>;
    /// The first event at or after `seq`: its `(seq, received_at)`.
    fn first_from(&mut self, app: &str, seq: i64) -> Result<Option<(i64, i64)>, StoreError>;
    /// The last `seq` before `seq`.
    fn before(&mut self, app: &str, seq: i64) -> Result<Option<i64>, StoreError>;
}

/// The `seq` range of events received in `[from, to)`; `None` when no event can match.
pub fn seq_range(
    probe: &mut impl SeqProbe,
    app: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Option<SeqRange>, StoreError> {
    if from.is_none() && to.is_none() {
        return Ok(Some(SeqRange::default()));
    }
    let Some((first, last)) = probe.bounds(app)? else {
        return Ok(None);
    };
    let mut range = SeqRange::default();
    if let Some(from) = from {
        let Some(lo) = first_at_or_after(probe, app, first, last, from)? else {
            return Ok(None);
        };
        range.lo = Some(lo);
    }
    if let Some(to) = to {
        // The last event before `to` is the one just before the first at or after it.
        let hi = match first_at_or_after(probe, app, first, last, to)? {
            Some(seq) => probe.before(app, seq)?,
            None => Some(last),
        };
        let Some(hi) = hi else { return Ok(None) };
        range.hi = Some(hi);
    }
    if let (Some(lo), Some(hi)) = (range.lo, range.hi) {
        if lo > hi {
            return Ok(None);
        }
    }
    Ok(Some(range))
}

/// Binary search over `seq` for the first event received at or after `at`.
fn first_at_or_after(
    probe: &mut impl SeqProbe,
    app: &str,
    first: i64,
    last: i64,
    at: i64,
) -> Result<Option<i64>, StoreError> {
    let (mut lo, mut hi) = (first, last + 1); // answer in [lo, hi]; hi = none
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match probe.first_from(app, mid)? {
            Some((seq, received_at)) if received_at >= at => hi = mid.min(seq),
            Some((seq, _)) => lo = seq + 1,
            None => hi = mid,
        }
    }
    if lo > last {
        return Ok(None);
    }
    // `lo` may fall in a gap (there are none today); land on the event itself.
    Ok(probe.first_from(app, lo)?.map(|(seq, _)| seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events at seq 1..=n received at 10 × seq (with a run of equal times).
    struct Times(Vec<i64>);

    impl SeqProbe for Times {
        fn bounds(&mut self, _: &str) -> Result<Option<(i64, i64)>, StoreError> {
            Ok((!self.0.is_empty()).then_some((1, self.0.len() as i64)))
        }
        fn first_from(&mut self, _: &str, seq: i64) -> Result<Option<(i64, i64)>, StoreError> {
            let i = seq.max(1) as usize - 1;
            Ok(self.0.get(i).map(|t| (i as i64 + 1, *t)))
        }
        fn before(&mut self, _: &str, seq: i64) -> Result<Option<i64>, StoreError> {
            Ok((seq > 1).then_some(seq - 1))
        }
    }

    #[test]
    fn finds_exact_seq_ranges() {
        let mut t = Times(vec![10, 20, 30, 30, 30, 60, 70]);
        let r = seq_range(&mut t, "a", Some(30), Some(61)).unwrap().unwrap();
        assert_eq!((r.lo, r.hi), (Some(3), Some(6)));
        let r = seq_range(&mut t, "a", Some(31), None).unwrap().unwrap();
        assert_eq!((r.lo, r.hi), (Some(6), None));
        let r = seq_range(&mut t, "a", None, Some(10)).unwrap();
        assert!(r.is_none(), "nothing before the first event");
        assert!(seq_range(&mut t, "a", Some(71), None).unwrap().is_none());
        assert!(
            seq_range(&mut t, "a", Some(40), Some(50))
                .unwrap()
                .is_none()
        );
    }
}
