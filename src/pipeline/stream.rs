//! Person-level files checked one after another on a thread of their own,
//! each handing its checked batches to the write that takes it in turn.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use tokio::sync::{mpsc, oneshot};

use crate::land::Landed;
use crate::validate::ValidateError;
use crate::validate::internships::{self, Summary};
use crate::validate::person_rows::Flow;

/// Batches a file's check may hold ready before its write takes them.
const READY: usize = 2;

/// One file's check as its write takes it: the checked batches in order,
/// then what they held (or why the file is rejected).
pub(super) struct Stream {
    pub(super) batches: mpsc::Receiver<RecordBatch>,
    pub(super) summary: oneshot::Receiver<Result<Summary, ValidateError>>,
}

/// The checks of the person-level files of a pull (or a rebuild), in their
/// order, on one thread: the next file's check starts the moment the one
/// before has handed on its last batch, while the writer still encodes the
/// batches it holds, so that neither core waits between files (21
/// quarterly files of 10M rows in all lost ~0.5 s to that, one file at a
/// time). A check runs at most [`READY`] batches (and each of its parts one)
/// ahead of its write.
///
/// A stream dropped untaken, or dropped by a write that failed, is skipped
/// or stopped at its next batch; the thread ends after the last file.
pub(super) struct Streams {
    streams: Vec<Option<Stream>>,
}

impl Streams {
    /// Start checking the files of `landed` whose place in `picked` is true.
    pub(super) fn start(landed: Arc<Vec<Landed>>, picked: &[bool], salt: Option<&str>) -> Streams {
        let mut streams = Vec::with_capacity(picked.len());
        let mut ends = Vec::new();
        for (i, pick) in picked.iter().enumerate() {
            if !*pick {
                streams.push(None);
                continue;
            }
            let (batches, batches_out) = mpsc::channel(READY);
            let (summary, summary_out) = oneshot::channel();
            streams.push(Some(Stream {
                batches: batches_out,
                summary: summary_out,
            }));
            ends.push((i, batches, summary));
        }
        if ends.is_empty() {
            return Streams { streams };
        }
        let salt = salt.map(str::to_string);
        std::thread::spawn(move || {
            for (i, batches, summary) in ends {
                // A file not there has its summary dropped: "the check stopped".
                let Some(extract) = landed.get(i).filter(|_| !summary.is_closed()) else {
                    continue;
                };
                // Let go once the last batch is handed on: the write then
                // finishes its files while the check compares the ids.
                let batches = std::cell::RefCell::new(Some(batches));
                let mut emit =
                    |batch| match batches.borrow().as_ref().map(|b| b.blocking_send(batch)) {
                        Some(Ok(())) => Flow::Continue(()),
                        // The write stopped and says why.
                        _ => Flow::Break(()),
                    };
                let mut all_emitted = || drop(batches.borrow_mut().take());
                let checked = internships::validate_telling_end(
                    extract,
                    salt.as_deref(),
                    &mut emit,
                    &mut all_emitted,
                );
                let _ = summary.send(checked);
            }
        });
        Streams { streams }
    }

    /// The check of `extract` alone.
    pub(super) fn one(extract: &Landed, salt: Option<&str>) -> Option<Stream> {
        Streams::start(Arc::new(vec![extract.clone()]), &[true], salt).take(0)
    }

    /// The stream of the file at `i`, if it was picked (once).
    pub(super) fn take(&mut self, i: usize) -> Option<Stream> {
        self.streams.get_mut(i)?.take()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::validate::internships::tests::{csv_body, landed, row};

    /// A person-level file of 30,000 rows (several batches), ids from `first`.
    fn file(dir: &std::path::Path, first: usize) -> Landed {
        let rows: Vec<String> = (first..first + 30_000).map(row).collect();
        landed(dir, csv_body(&rows).into_bytes(), true)
    }

    /// `f` on a thread of its own; the test fails if it takes a minute (a
    /// check that never starts would otherwise hang it).
    fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(f()));
        answer
            .recv_timeout(Duration::from_secs(60))
            .expect("no answer within a minute")
    }

    /// Rows of the batches left in `stream`, and of its summary.
    fn rest(mut stream: Stream) -> (usize, usize) {
        let mut rows = 0;
        while let Some(batch) = stream.batches.blocking_recv() {
            rows += batch.num_rows();
        }
        (rows, stream.summary.blocking_recv().unwrap().unwrap().rows)
    }

    #[test]
    fn the_next_files_check_starts_while_the_last_batches_of_the_one_before_wait() {
        let dir = tempfile::tempdir().unwrap();
        let files = Arc::new(vec![file(dir.path(), 0), file(dir.path(), 30_000)]);
        let mut batches = 0;
        internships::validate(&files[0], Some("salt"), &mut |_| {
            batches += 1;
            Flow::Continue(())
        })
        .unwrap();
        assert!(batches > READY, "{batches}");
        within_a_minute(move || {
            let mut streams = Streams::start(files, &[true, true], Some("salt"));
            let (mut first, mut second) = (streams.take(0).unwrap(), streams.take(1).unwrap());
            let mut taken = 0;
            for _ in 0..batches - READY {
                taken += first.batches.blocking_recv().unwrap().num_rows();
            }
            // The first file's last batches are not taken yet; the second
            // file's first batch is ready all the same.
            let next = second.batches.blocking_recv().unwrap().num_rows();
            let (left, held) = rest(first);
            assert_eq!((taken + left, held), (30_000, 30_000));
            let (left, held) = rest(second);
            assert_eq!((next + left, held), (30_000, 30_000));
        });
    }

    #[test]
    fn a_stream_ends_after_its_last_batch_even_when_a_repeated_id_rejects_it_after() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows: Vec<String> = (0..30_000).map(row).collect();
        rows.push(row(5));
        let body = csv_body(&rows).into_bytes();
        let files = Arc::new(vec![landed(dir.path(), body, true)]);
        within_a_minute(move || {
            let mut streams = Streams::start(files, &[true], Some("salt"));
            let mut stream = streams.take(0).unwrap();
            let mut taken = 0;
            while let Some(batch) = stream.batches.blocking_recv() {
                taken += batch.num_rows();
            }
            // Every row was handed on; the ids were compared after.
            assert_eq!(taken, 30_001);
            let refused = stream.summary.blocking_recv().unwrap().unwrap_err();
            assert!(
                matches!(refused, ValidateError::DuplicateId { .. }),
                "{refused}"
            );
        });
    }

    #[test]
    fn a_stream_stopped_or_dropped_untaken_does_not_hold_up_the_files_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<Landed> = (0..4).map(|k| file(dir.path(), k * 30_000)).collect();
        within_a_minute(move || {
            let mut streams = Streams::start(Arc::new(files), &[true, false, true, true], None);
            assert!(streams.take(1).is_none(), "not picked");
            // A write that fails after the first batch lets go of the rest.
            let Stream {
                mut batches,
                summary,
            } = streams.take(0).unwrap();
            batches.blocking_recv().unwrap();
            drop(batches);
            assert!(summary.blocking_recv().is_ok(), "the stopped check answers");
            // A file not written after all.
            drop(streams.take(2));
            assert_eq!(rest(streams.take(3).unwrap()), (30_000, 30_000));
            assert!(streams.take(3).is_none(), "taken once");
        });
    }
}
