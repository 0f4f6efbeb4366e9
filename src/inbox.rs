//! The consumer's state, sans I/O: the buffer of pushed messages the
//! application has not taken yet (bounded by `receive_buffer`), and, with
//! several nodes, which node delivered each code not yet acked (an ack
//! counts only on the node that holds the message). The link driver offers
//! pushed messages, `receive` takes them; both learn from the answer whom
//! to wake. Unit-tested without a server.

use crate::error::Error;
use crate::message::Message;
use std::collections::{HashMap, HashSet, VecDeque};

/// Codes remembered for routing acks; past this, acks of older codes go to
/// every node (a node ignores codes it does not hold).
const MAX_ORIGINS: usize = 1_000_000;

pub(crate) struct Inbox {
    capacity: usize,
    buffer: VecDeque<Message>,
    closed: Option<Error>,
    /// With several links: the link that delivered each code not yet acked.
    origin: Option<HashMap<String, u32>>,
    /// Codes handed to the application and not acked yet (for a drain).
    unacked: HashSet<String>,
    /// Counts since a drain began; `None` until then.
    drain: Option<DrainReport>,
}

/// What a drain did (see `Consumer::drain`): every message pushed ends in
/// one of these, or was acked before the drain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Messages the application took during the drain.
    pub handed_out: u64,
    /// Acks given during the drain for messages handed out at any time.
    pub acked: u64,
    /// Messages handed out (at any time) and never acked: the node pushes
    /// them again after its pushRetryTime.
    pub unacked: u64,
    /// Messages received but never handed out: still buffered when the
    /// time ran out, or pushed after the drain began. The node pushes them
    /// again too.
    pub unread: u64,
}

/// What `offer` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offered {
    /// Messages moved from the batch into the buffer.
    pub taken: usize,
    /// The buffer was empty before: a waiting `receive` must be woken.
    pub wake_receivers: bool,
}

impl Inbox {
    pub fn new(capacity: usize, multi_node: bool) -> Inbox {
        Inbox {
            capacity,
            buffer: VecDeque::new(),
            closed: None,
            origin: multi_node.then(HashMap::new),
            unacked: HashSet::new(),
            drain: None,
        }
    }

    pub fn closed(&self) -> Option<&Error> {
        self.closed.as_ref()
    }

    /// Messages handed out and not yet acked (bounded, see `take`).
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The one place pushed messages enter the buffer: as many of `batch`
    /// (from the front) as fit, delivered by `link`.
    /// Once a drain began, nothing more enters: the batch is dropped and
    /// counted unread.
    pub fn offer(&mut self, batch: &mut VecDeque<Message>, link: u32) -> Offered {
        if let Some(drain) = &mut self.drain {
            drain.unread += batch.len() as u64;
            batch.clear();
            return Offered { taken: 0, wake_receivers: false };
        }
        let fits = self.capacity.saturating_sub(self.buffer.len()).min(batch.len());
        if self.closed.is_some() || fits == 0 {
            return Offered { taken: 0, wake_receivers: false };
        }
        if let Some(origin) = &mut self.origin {
            if origin.len() + fits > MAX_ORIGINS {
                origin.clear();
            }
            for m in batch.iter().take(fits) {
                origin.insert(m.code.clone(), link);
            }
        }
        let was_empty = self.buffer.is_empty();
        self.buffer.extend(batch.drain(..fits));
        Offered { taken: fits, wake_receivers: was_empty }
    }

    /// The one place the application takes a message out; the flag says
    /// the buffer was full, so links waiting for room must be woken.
    pub fn take(&mut self) -> Option<(Message, bool)> {
        let was_full = self.buffer.len() >= self.capacity;
        let m = self.buffer.pop_front()?;
        if self.unacked.len() >= MAX_ORIGINS {
            // Bounded like the origins: a drain then undercounts `unacked`.
            self.unacked.clear();
        }
        self.unacked.insert(m.code.clone());
        if let Some(drain) = &mut self.drain {
            drain.handed_out += 1;
        }
        Some((m, was_full))
    }

    /// The link an ack of `code` must go to, when known (it is forgotten:
    /// one ack per delivery).
    pub fn route_ack(&mut self, code: &str) -> Option<u32> {
        self.origin.as_mut().and_then(|o| o.remove(code))
    }

    /// The ack of `code` is queued for writing: its message is handled.
    pub fn acked(&mut self, code: &str) {
        if self.unacked.remove(code) {
            if let Some(drain) = &mut self.drain {
                drain.acked += 1;
            }
        }
    }

    /// From now on pushes are dropped (counted unread) and what is taken
    /// and acked is counted. False when a drain began already.
    pub fn begin_drain(&mut self) -> bool {
        if self.drain.is_some() {
            return false;
        }
        self.drain = Some(DrainReport::default());
        true
    }

    pub fn draining(&self) -> bool {
        self.drain.is_some()
    }

    /// Nothing left to hand out and nothing handed out awaits its ack.
    pub fn drained(&self) -> bool {
        self.buffer.is_empty() && self.unacked.is_empty()
    }

    /// The drain's report: what is still buffered counts as unread, what
    /// awaits its ack as unacked.
    pub fn drain_report(&self) -> DrainReport {
        let drain = self.drain.unwrap_or_default();
        DrainReport { unread: drain.unread + self.buffer.len() as u64, unacked: self.unacked.len() as u64, ..drain }
    }

    /// Closes for good; buffered messages are dropped (unacked, the server
    /// delivers them again). False when closed already.
    pub fn close(&mut self, why: Error) -> bool {
        if self.closed.is_some() {
            return false;
        }
        self.closed = Some(why);
        self.buffer.clear();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: usize) -> Message {
        Message {
            code: format!("{i:032x}"),
            data: format!("m{i}"),
            topic: "t".into(),
            create_time: 0,
            consumed_time: 0,
            delay_time: 0,
            status: -1,
        }
    }

    fn batch(range: std::ops::Range<usize>) -> VecDeque<Message> {
        range.map(msg).collect()
    }

    #[test]
    fn the_buffer_takes_what_fits_and_wakes_only_from_empty() {
        let mut inbox = Inbox::new(3, false);
        let mut b = batch(0..2);
        assert_eq!(inbox.offer(&mut b, 0), Offered { taken: 2, wake_receivers: true });
        let mut b = batch(2..6);
        assert_eq!(inbox.offer(&mut b, 0), Offered { taken: 1, wake_receivers: false });
        assert_eq!(b.len(), 3, "what does not fit stays with the link");
        assert_eq!(inbox.offer(&mut b, 0).taken, 0);
        let (m, was_full) = inbox.take().unwrap();
        assert_eq!((m.data.as_str(), was_full), ("m0", true));
        let (_, was_full) = inbox.take().unwrap();
        assert!(!was_full);
        assert_eq!(inbox.offer(&mut b, 0), Offered { taken: 2, wake_receivers: false });
        let order: Vec<String> = std::iter::from_fn(|| inbox.take()).map(|(m, _)| m.data).collect();
        assert_eq!(order, ["m2", "m3", "m4"]);
        assert_eq!(inbox.offer(&mut b, 0), Offered { taken: 1, wake_receivers: true });
    }

    #[test]
    fn acks_go_to_the_link_that_delivered() {
        let mut inbox = Inbox::new(10, true);
        inbox.offer(&mut batch(0..2), 4);
        inbox.offer(&mut batch(2..3), 7);
        assert_eq!(inbox.route_ack(&msg(2).code), Some(7));
        assert_eq!(inbox.route_ack(&msg(0).code), Some(4));
        assert_eq!(inbox.route_ack(&msg(0).code), None, "one ack per delivery");
        assert_eq!(Inbox::new(10, false).route_ack(&msg(0).code), None, "one node: nothing to route");
    }

    #[test]
    fn close_drops_the_buffer_and_refuses_more() {
        let mut inbox = Inbox::new(10, false);
        inbox.offer(&mut batch(0..3), 0);
        assert!(inbox.close(Error::closed("closed")));
        assert!(!inbox.close(Error::closed("again")));
        assert_eq!(inbox.buffered(), 0);
        assert!(inbox.take().is_none());
        let mut b = batch(3..4);
        assert_eq!(inbox.offer(&mut b, 0).taken, 0);
        assert_eq!(inbox.closed().unwrap().message(), "closed");
    }

    #[test]
    fn a_drain_counts_every_message_once() {
        let mut inbox = Inbox::new(10, false);
        inbox.offer(&mut batch(0..5), 0);
        let early = inbox.take().unwrap().0;
        assert!(inbox.begin_drain());
        assert!(!inbox.begin_drain());
        let mut late = batch(5..8);
        assert_eq!(inbox.offer(&mut late, 0).taken, 0);
        assert!(late.is_empty(), "pushes after the drain began are dropped");
        let a = inbox.take().unwrap().0;
        let b = inbox.take().unwrap().0;
        inbox.acked(&early.code);
        inbox.acked(&a.code);
        inbox.acked(&a.code);
        assert!(!inbox.drained());
        let report = inbox.drain_report();
        assert_eq!(report, DrainReport { handed_out: 2, acked: 2, unacked: 1, unread: 3 + 2 });
        inbox.acked(&b.code);
        while inbox.take().is_some() {}
        assert!(!inbox.drained(), "taken but not acked");
    }
}
