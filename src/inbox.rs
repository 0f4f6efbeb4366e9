//! The consumer's state, sans I/O: the buffer of pushed messages the
//! application has not taken yet (bounded by `receive_buffer`), and, with
//! several nodes, which node delivered each code not yet acked (an ack
//! counts only on the node that holds the message). The link driver offers
//! pushed messages, `receive` takes them; both learn from the answer whom
//! to wake. Unit-tested without a server.

use crate::consumer::Message;
use crate::error::Error;
use std::collections::{HashMap, VecDeque};

/// Codes remembered for routing acks; past this, acks of older codes go to
/// every node (a node ignores codes it does not hold).
const MAX_ORIGINS: usize = 1_000_000;

pub(crate) struct Inbox {
    capacity: usize,
    buffer: VecDeque<Message>,
    closed: Option<Error>,
    /// With several links: the link that delivered each code not yet acked.
    origin: Option<HashMap<String, u32>>,
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
        Inbox { capacity, buffer: VecDeque::new(), closed: None, origin: multi_node.then(HashMap::new) }
    }

    pub fn closed(&self) -> Option<&Error> {
        self.closed.as_ref()
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The one place pushed messages enter the buffer: as many of `batch`
    /// (from the front) as fit, delivered by `link`.
    pub fn offer(&mut self, batch: &mut VecDeque<Message>, link: u32) -> Offered {
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
        self.buffer.pop_front().map(|m| (m, was_full))
    }

    /// The link an ack of `code` must go to, when known (it is forgotten:
    /// one ack per delivery).
    pub fn route_ack(&mut self, code: &str) -> Option<u32> {
        self.origin.as_mut().and_then(|o| o.remove(code))
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
}
