//! Where a consumer's acks wait to be written, sans I/O. An ack goes to the
//! link whose connection delivered the message (its node holds it), or to
//! every link when that is not known. Each link writes its acks in batches,
//! oldest first, and forgets them only once a write went through: acks of
//! a write that failed, or that a dropped connection cut short, go first
//! on the link's next connection. The node ignores an ack it has seen, so
//! writing one twice is harmless; losing one would push the message again.

use crate::error::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Acks written to the socket in one go at most.
pub(crate) const ACK_BATCH: usize = 4096;

/// One link's acks not yet written, and how to wake its writer (`W`).
struct LinkAcks<W> {
    queue: VecDeque<Arc<str>>,
    waker: W,
}

/// Every link's acks; `W` wakes a link's writer.
pub(crate) struct AckRoutes<W> {
    links: HashMap<u32, LinkAcks<W>>,
}

impl<W> Default for AckRoutes<W> {
    fn default() -> Self {
        AckRoutes { links: HashMap::new() }
    }
}

impl<W: Clone> AckRoutes<W> {
    /// A link will write acks; `waker` wakes its writer.
    pub fn add_link(&mut self, link: u32, waker: W) {
        self.links.insert(link, LinkAcks { queue: VecDeque::new(), waker });
    }

    /// The link is gone for good: its acks not yet written go with it.
    pub fn remove_link(&mut self, link: u32) {
        self.links.remove(&link);
    }

    /// No link is left.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Queues `code` on the link `from`, or on every link when `from` is
    /// not known or gone; returns the wakers of the links that had nothing
    /// queued (the others' writers are busy and will look again). `Closed`
    /// when no link is left.
    pub fn route(&mut self, from: Option<u32>, code: &str) -> Result<Vec<W>> {
        if self.links.is_empty() {
            return Err(Error::closed("the consumer has no connection task left"));
        }
        let code: Arc<str> = Arc::from(code);
        let mut wake = Vec::new();
        let mut queue_on = |acks: &mut LinkAcks<W>| {
            if acks.queue.is_empty() {
                wake.push(acks.waker.clone());
            }
            acks.queue.push_back(code.clone());
        };
        match from.and_then(|l| self.links.get_mut(&l)) {
            Some(acks) => queue_on(acks),
            None => self.links.values_mut().for_each(queue_on),
        }
        Ok(wake)
    }

    /// What `link` writes next: up to `ACK_BATCH` of its acks, oldest first.
    /// They stay queued until `written` says the write went through.
    pub fn batch(&self, link: u32) -> Vec<Arc<str>> {
        self.links.get(&link).map_or_else(Vec::new, |acks| acks.queue.iter().take(ACK_BATCH).cloned().collect())
    }

    /// The first `n` acks of `link` were written: forgotten.
    pub fn written(&mut self, link: u32, n: usize) {
        if let Some(acks) = self.links.get_mut(&link) {
            let n = n.min(acks.queue.len());
            acks.queue.drain(..n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(links: &[u32]) -> AckRoutes<u32> {
        let mut r = AckRoutes::default();
        for &l in links {
            r.add_link(l, l);
        }
        r
    }

    fn codes(batch: &[Arc<str>]) -> Vec<&str> {
        batch.iter().map(|c| c.as_ref()).collect()
    }

    #[test]
    fn an_ack_goes_to_the_link_that_delivered_else_to_every_link() {
        let mut r = routes(&[1, 2]);
        assert_eq!(r.route(Some(1), "a").unwrap(), [1], "its writer wakes");
        assert_eq!(r.route(Some(1), "b").unwrap(), Vec::<u32>::new(), "busy already: no second wake");
        let mut woken = r.route(None, "c").unwrap();
        woken.sort();
        assert_eq!(woken, [2], "link 1 has acks queued already");
        assert!(r.route(Some(9), "d").is_ok(), "a link that is gone: every link");
        assert_eq!(codes(&r.batch(1)), ["a", "b", "c", "d"]);
        assert_eq!(codes(&r.batch(2)), ["c", "d"]);
    }

    #[test]
    fn acks_stay_until_a_write_went_through() {
        let mut r = routes(&[1]);
        for code in ["a", "b", "c"] {
            r.route(Some(1), code).unwrap();
        }
        let first = r.batch(1);
        // The write failed (or its connection dropped): nothing forgotten,
        // and the next connection writes the same acks first.
        r.route(Some(1), "d").unwrap();
        assert_eq!(codes(&r.batch(1)), ["a", "b", "c", "d"]);
        r.written(1, first.len());
        assert_eq!(codes(&r.batch(1)), ["d"]);
        r.written(1, 1);
        assert!(r.batch(1).is_empty());
        assert_eq!(r.route(Some(1), "e").unwrap(), [1], "empty again: the writer wakes");
    }

    #[test]
    fn a_batch_holds_at_most_ack_batch() {
        let mut r = routes(&[1]);
        for i in 0..ACK_BATCH + 10 {
            r.route(Some(1), &i.to_string()).unwrap();
        }
        assert_eq!(r.batch(1).len(), ACK_BATCH);
        r.written(1, ACK_BATCH);
        let rest = r.batch(1);
        assert_eq!(rest.len(), 10);
        assert_eq!(rest[0].as_ref(), ACK_BATCH.to_string());
    }

    #[test]
    fn no_link_left_refuses_and_a_removed_link_forgets() {
        let mut r = routes(&[1]);
        r.route(Some(1), "a").unwrap();
        r.remove_link(1);
        assert!(r.is_empty());
        assert!(r.batch(1).is_empty());
        r.written(1, 5);
        let e = r.route(None, "b").unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Closed);
    }
}
