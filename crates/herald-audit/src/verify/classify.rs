//! One step of the walk: checks one row against the previous hash and, when it fails, works
//! out what happened to it from its neighbours, so that the report says *inserted* or
//! *reordered* rather than only "the chain breaks here".

use crate::chain::{self, ChainRow, Digest, GENESIS};
use crate::error::StoreError;
use crate::store::ReadStore;

use super::{Problem, ProblemKind};

/// Rows read per round when searching for a moved row's original place.
const SEARCH_CHUNK: usize = 5000;

pub(super) struct Step<'a> {
    pub store: &'a dyn ReadStore,
    pub app: &'a str,
    /// The verified hash of the previous seq.
    pub prev: &'a Digest,
    /// The one before that (`None` at the start of a partial check).
    pub prev_prev: Option<&'a Digest>,
    pub row: &'a ChainRow,
    /// The row after this one, if any.
    pub next: Option<&'a ChainRow>,
}

impl Step<'_> {
    /// `Ok(Ok(hash))` when the row is intact, `Ok(Err(problem))` when it is not.
    pub fn check(&self) -> Result<Result<Digest, Problem>, StoreError> {
        let seq = self.row.seq;
        let (Some(stored_content), Some(stored_hash)) = (self.row.content_hash, self.row.hash)
        else {
            return Ok(Err(self.changed_or_inserted(
                "its content_hash or hash is missing or not 32 bytes".into(),
            )));
        };
        match &self.row.fields {
            // Pruned: the payload is gone on purpose; the stored content hash stands in.
            None => {}
            Some(Err(why)) => return Ok(Err(self.changed_or_inserted(why.clone()))),
            Some(Ok(fields)) if chain::content_hash(&fields.canonical()) != stored_content => {
                return Ok(Err(self.changed_or_inserted(
                    "its stored fields no longer hash to its content_hash (the payload or an extracted field was edited)"
                        .into(),
                )));
            }
            Some(Ok(_)) => {}
        }
        let link = chain::link(self.prev, &stored_content);
        if link == stored_hash {
            return Ok(Ok(link));
        }
        if self
            .prev_prev
            .is_some_and(|pp| chain::link(pp, &stored_content) == stored_hash)
        {
            return Ok(Err(Problem {
                seq: seq - 1,
                kind: ProblemKind::Inserted,
                message: format!(
                    "the event at seq {} was not recorded by herald: seq {seq} is chained directly after seq {}",
                    seq - 1,
                    seq - 2
                ),
            }));
        }
        if let Some(original) = self.original_place(&stored_content, &stored_hash)? {
            return Ok(Err(Problem {
                seq,
                kind: ProblemKind::Reordered,
                message: format!(
                    "the event now at seq {seq} was recorded at seq {original}: rows were moved"
                ),
            }));
        }
        if self.next_follows_prev() {
            return Ok(Err(inserted(seq)));
        }
        Ok(Err(Problem {
            seq,
            kind: ProblemKind::Changed,
            message:
                "its hash does not follow from the previous event's (a stored hash was edited)"
                    .into(),
        }))
    }

    /// A row whose own content is wrong is an inserted one if the chain goes straight from
    /// the previous row to the next, else an edited one.
    fn changed_or_inserted(&self, why: String) -> Problem {
        if self.next_follows_prev() {
            inserted(self.row.seq)
        } else {
            Problem {
                seq: self.row.seq,
                kind: ProblemKind::Changed,
                message: why,
            }
        }
    }

    fn next_follows_prev(&self) -> bool {
        self.next.is_some_and(|n| match (n.content_hash, n.hash) {
            (Some(c), Some(h)) => chain::link(self.prev, &c) == h,
            _ => false,
        })
    }

    /// The seq this row was first recorded at: one past the row whose hash it was chained
    /// after. Searches the whole app (only ever on a failure path).
    fn original_place(&self, content: &Digest, hash: &Digest) -> Result<Option<i64>, StoreError> {
        if chain::link(&GENESIS, content) == *hash {
            return Ok(Some(1));
        }
        let mut from = 1;
        loop {
            let rows = self
                .store
                .chain_rows(self.app, from, i64::MAX, SEARCH_CHUNK)?;
            let Some(last) = rows.last() else {
                return Ok(None);
            };
            from = last.seq + 1;
            for r in &rows {
                if r.seq != self.row.seq - 1
                    && r.hash.is_some_and(|h| chain::link(&h, content) == *hash)
                {
                    return Ok(Some(r.seq + 1));
                }
            }
        }
    }
}

fn inserted(seq: i64) -> Problem {
    Problem {
        seq,
        kind: ProblemKind::Inserted,
        message: format!(
            "the event at seq {seq} was not recorded by herald: seq {} is chained directly after seq {}",
            seq + 1,
            seq - 1
        ),
    }
}
