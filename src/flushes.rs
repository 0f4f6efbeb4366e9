//! Flushes under way, sans I/O. A flush waits for every message enqueued
//! before it began to be confirmed or to fail, counts which of those
//! failed, and ends with one outcome in one wording, whichever way it was
//! begun: `kmq_flush` waiting on its thread, `kmq_flush_begin` whose outcome
//! arrives as a delivery report, or a producer closing after a flush
//! (`kmq_producer_close_begin`). The bindings' flush and close only wait
//! for that outcome, so a flush fails in the same words in C, Python and
//! Node.

use crate::error::{Error, ErrorKind, Result};
use std::time::Instant;

/// One flush under way; `T` says where its outcome goes.
pub(crate) struct Flush<T> {
    /// Its id, from the same sequence as the messages' ids.
    pub id: u64,
    /// It waits for every flush generation up to this one.
    mark: u64,
    deadline: Option<Instant>,
    /// As asked for, for the words of a timeout.
    timeout_ms: i64,
    /// Messages of its generations that failed so far, and the last reason.
    failed: u64,
    last_failure: Option<Error>,
    /// Where its outcome goes.
    pub track: T,
    /// The producer closes when it ends.
    pub closes: bool,
}

impl<T> Flush<T> {
    pub fn new(id: u64, mark: u64, deadline: Option<Instant>, timeout_ms: i64, track: T, closes: bool) -> Self {
        Flush { id, mark, deadline, timeout_ms, failed: 0, last_failure: None, track, closes }
    }

    /// The generations it waits for: every one up to this.
    pub fn mark(&self) -> u64 {
        self.mark
    }

    /// Its outcome once every one of its messages settled.
    pub fn outcome(&self) -> Result<()> {
        if self.failed == 0 {
            return Ok(());
        }
        let (kind, why) = match &self.last_failure {
            Some(e) => (e.kind(), e.message()),
            None => (ErrorKind::Internal, "no reason recorded"),
        };
        let text = format!("flush: {} failed; the last because: {why}", messages(self.failed));
        Err(self.worded(kind, text))
    }

    /// Its outcome when its time ran out with `left` of its messages
    /// neither confirmed nor failed (a closing producer fails them next).
    pub fn timed_out(&self, left: u64) -> Error {
        let text = format!("flush: {} still unconfirmed after {} ms", messages(left), self.timeout_ms);
        let text = if self.closes { format!("{text}; they failed when the producer closed") } else { text };
        self.worded(ErrorKind::Timeout, text)
    }

    fn worded(&self, kind: ErrorKind, text: String) -> Error {
        Error::new(kind, if self.closes { format!("close: {text}") } else { text })
    }
}

/// "1 message", "3 messages".
fn messages(n: u64) -> String {
    if n == 1 {
        "1 message".to_string()
    } else {
        format!("{n} messages")
    }
}

/// The flushes under way (a few at most; usually none).
pub(crate) struct Flushes<T> {
    list: Vec<Flush<T>>,
}

impl<T> Default for Flushes<T> {
    fn default() -> Self {
        Flushes { list: Vec::new() }
    }
}

impl<T> Flushes<T> {
    pub fn begin(&mut self, flush: Flush<T>) {
        self.list.push(flush);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// A message of `generation` failed because of `why`.
    pub fn note_failure(&mut self, generation: u64, why: &Error) {
        for f in self.list.iter_mut().filter(|f| generation <= f.mark) {
            f.failed += 1;
            if f.last_failure.as_ref() != Some(why) {
                f.last_failure = Some(why.clone());
            }
        }
    }

    /// Takes out the flushes whose generations all settled, given the
    /// oldest generation with messages still unsettled.
    pub fn finished(&mut self, oldest_unsettled: Option<u64>) -> Vec<Flush<T>> {
        self.take_where(|f| oldest_unsettled.map_or(true, |g| f.mark < g))
    }

    /// Takes out the flushes whose time is up at `now`.
    pub fn due(&mut self, now: Instant) -> Vec<Flush<T>> {
        self.take_where(|f| f.deadline.is_some_and(|d| d <= now))
    }

    /// Takes out the flushes `ends` picks, keeping the others in order.
    fn take_where(&mut self, ends: impl FnMut(&Flush<T>) -> bool) -> Vec<Flush<T>> {
        let (ended, kept) = std::mem::take(&mut self.list).into_iter().partition(ends);
        self.list = kept;
        ended
    }

    /// Takes out the flush `id`, if it has not ended.
    pub fn take(&mut self, id: u64) -> Option<Flush<T>> {
        let at = self.list.iter().position(|f| f.id == id)?;
        Some(self.list.remove(at))
    }

    /// The earliest time one of them runs out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.list.iter().filter_map(|f| f.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn flush(id: u64, mark: u64, deadline: Option<Instant>, closes: bool) -> Flush<()> {
        Flush::new(id, mark, deadline, 400, (), closes)
    }

    #[test]
    fn failures_count_for_the_flushes_that_wait_for_them() {
        let mut fl = Flushes::default();
        fl.begin(flush(1, 0, None, false));
        fl.begin(flush(2, 3, None, false));
        fl.note_failure(2, &Error::timeout("late"));
        fl.note_failure(0, &Error::closed("gone"));
        let done = fl.finished(None);
        assert_eq!(done[0].outcome().unwrap_err().message(), "flush: 1 message failed; the last because: gone");
        let e = done[1].outcome().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed, "the last failure's kind");
        assert_eq!(e.message(), "flush: 2 messages failed; the last because: gone");
    }

    #[test]
    fn a_flush_ends_once_its_generations_settled() {
        let mut fl = Flushes::default();
        fl.begin(flush(1, 0, None, false));
        fl.begin(flush(2, 2, None, false));
        assert!(fl.finished(Some(0)).is_empty());
        let done = fl.finished(Some(1));
        assert_eq!(done.iter().map(|f| f.id).collect::<Vec<_>>(), [1]);
        assert!(done[0].outcome().is_ok());
        assert_eq!(fl.finished(None).len(), 1);
        assert!(fl.is_empty());
    }

    #[test]
    fn deadlines_and_the_words_of_a_timeout() {
        let t0 = Instant::now();
        let mut fl = Flushes::default();
        fl.begin(flush(1, 0, Some(t0 + Duration::from_millis(400)), false));
        fl.begin(flush(2, 0, Some(t0 + Duration::from_millis(100)), true));
        fl.begin(flush(3, 0, None, false));
        assert_eq!(fl.next_deadline(), Some(t0 + Duration::from_millis(100)));
        let due = fl.due(t0 + Duration::from_millis(100));
        assert_eq!(due.len(), 1);
        let e = due[0].timed_out(2);
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(
            e.message(),
            "close: flush: 2 messages still unconfirmed after 400 ms; they failed when the producer closed"
        );
        let late = fl.take(1).expect("still under way");
        assert_eq!(late.timed_out(1).message(), "flush: 1 message still unconfirmed after 400 ms");
        assert!(fl.take(1).is_none());
        assert_eq!(fl.next_deadline(), None);
    }
}
