//! Connected clients, the central push loop and the periodic check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::store::PushItem;
use crate::State;

#[derive(Clone)]
pub struct ClientInfo {
    pub id: String,
    pub topic: Arc<str>,
    pub ip: String,
    pub join: i64,
}

impl ClientInfo {
    fn same_key(&self, other: &ClientInfo) -> bool {
        (&self.id, &self.topic, &self.ip, self.join) == (&other.id, &other.topic, &other.ip, other.join)
    }
}

struct ConsumerHandle {
    uid: u64,
    info: ClientInfo,
    tx: mpsc::Sender<PushItem>,
}

#[derive(Default)]
struct TopicSet {
    list: Vec<ConsumerHandle>,
    rr: usize,
}

#[derive(Default)]
pub struct ClientsInner {
    consumers: HashMap<Arc<str>, TopicSet>,
    producers: HashMap<u64, ClientInfo>,
    next_uid: u64,
}

#[derive(Default)]
pub struct Clients(Mutex<ClientsInner>);

impl Clients {
    fn lock(&self) -> MutexGuard<'_, ClientsInner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a consumer. The node keeps consumers in a map keyed by id,
    /// topic, address and join second: a connection with the key of one
    /// already there takes its place, and the older one gets no more pushes.
    pub fn add_consumer(&self, info: ClientInfo, tx: mpsc::Sender<PushItem>) -> u64 {
        let mut g = self.lock();
        g.next_uid += 1;
        let uid = g.next_uid;
        let set = g.consumers.entry(info.topic.clone()).or_default();
        set.list.retain(|h| !h.info.same_key(&info));
        set.list.push(ConsumerHandle { uid, info, tx });
        uid
    }

    /// Removes the consumer with this key, as the node does when a
    /// consumer's connection ends: if a newer connection took the key, it is
    /// the one removed.
    pub fn remove_consumer_key(&self, info: &ClientInfo) {
        let mut g = self.lock();
        if let Some(set) = g.consumers.get_mut(&*info.topic) {
            set.list.retain(|h| !h.info.same_key(info));
            if set.list.is_empty() {
                g.consumers.remove(&*info.topic);
            }
        }
    }

    pub fn remove_consumer(&self, topic: &str, uid: u64) {
        let mut g = self.lock();
        if let Some(set) = g.consumers.get_mut(topic) {
            set.list.retain(|h| h.uid != uid);
            if set.list.is_empty() {
                g.consumers.remove(topic);
            }
        }
    }

    pub fn add_producer(&self, info: ClientInfo) -> u64 {
        let mut g = self.lock();
        g.next_uid += 1;
        let uid = g.next_uid;
        g.producers.insert(uid, info);
        uid
    }

    pub fn remove_producer(&self, uid: u64) {
        self.lock().producers.remove(&uid);
    }

    /// (consumers, producers), each in join order.
    pub fn snapshot(&self) -> (Vec<ClientInfo>, Vec<ClientInfo>) {
        let g = self.lock();
        let mut c: Vec<(u64, ClientInfo)> =
            g.consumers.values().flat_map(|s| s.list.iter().map(|h| (h.uid, h.info.clone()))).collect();
        c.sort_by_key(|x| x.0);
        let mut p: Vec<(u64, ClientInfo)> = g.producers.iter().map(|(u, i)| (*u, i.clone())).collect();
        p.sort_by_key(|x| x.0);
        (c.into_iter().map(|x| x.1).collect(), p.into_iter().map(|x| x.1).collect())
    }
}

enum Pick {
    None,
    Sent,
    Wait(u64, mpsc::Sender<PushItem>, PushItem),
}

/// Point to point: one connected consumer of the topic (round robin).
async fn push_one(st: &State, mut item: PushItem) {
    loop {
        let pick = {
            let mut g = st.clients.lock();
            match g.consumers.get_mut(&*item.topic) {
                None => Pick::None,
                Some(set) if set.list.is_empty() => Pick::None,
                Some(set) => {
                    set.rr = (set.rr + 1) % set.list.len();
                    let h = &set.list[set.rr];
                    match h.tx.try_send(item) {
                        Ok(()) => Pick::Sent,
                        Err(TrySendError::Full(it)) => Pick::Wait(h.uid, h.tx.clone(), it),
                        Err(TrySendError::Closed(it)) => {
                            let uid = h.uid;
                            set.list.retain(|h| h.uid != uid);
                            item = it;
                            continue;
                        }
                    }
                }
            }
        };
        match pick {
            Pick::None | Pick::Sent => return,
            Pick::Wait(uid, tx, it) => match tx.reserve().await {
                Ok(permit) => {
                    permit.send(it);
                    return;
                }
                Err(_) => {
                    st.clients.remove_consumer(&it.topic, uid);
                    item = it;
                }
            },
        }
    }
}

/// Publish/subscribe: every connected consumer of the topic.
async fn push_all(st: &State, item: PushItem) {
    let targets: Vec<(u64, mpsc::Sender<PushItem>)> = {
        let g = st.clients.lock();
        match g.consumers.get(&*item.topic) {
            None => return,
            Some(set) => set.list.iter().map(|h| (h.uid, h.tx.clone())).collect(),
        }
    };
    for (uid, tx) in targets {
        let ok = match tx.try_send(item.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(it)) => tx.send(it).await.is_ok(),
            Err(TrySendError::Closed(_)) => false,
        };
        if !ok {
            st.clients.remove_consumer(&item.topic, uid);
        }
    }
}

/// The server's `pushServer`: takes every queued message in order (delayed ones are skipped
/// but still counted), and sleeps `push_speed` after every `push_count` messages.
pub async fn push_loop(st: Arc<State>, mut rx: mpsc::UnboundedReceiver<Vec<PushItem>>) {
    let throttle = st.cfg.push_speed_ms > 0 && st.cfg.push_count > 0;
    let pause = Duration::from_millis(st.cfg.push_speed_ms);
    let mut cnt: u64 = 0;
    let mut batches = Vec::with_capacity(64);
    loop {
        if rx.recv_many(&mut batches, 64).await == 0 {
            return;
        }
        for batch in batches.drain(..) {
            for item in batch {
                if item.status != 0 {
                    if st.cfg.push_mode == 2 {
                        push_all(&st, item).await;
                    } else {
                        push_one(&st, item).await;
                    }
                }
                cnt += 1;
                if throttle && cnt >= st.cfg.push_count {
                    tokio::time::sleep(pause).await;
                    cnt = 0;
                }
            }
        }
    }
}

/// Message lifetime of the real server's `cleanTime` default (2 days).
const CLEAN_MS: i64 = 2 * 24 * 3600 * 1000;

pub async fn check_loop(st: Arc<State>) {
    let every = Duration::from_millis(st.cfg.check_speed_ms.max(1));
    loop {
        tokio::time::sleep(every).await;
        let items = st.store.check(crate::util::now_ms(), CLEAN_MS);
        if !items.is_empty() {
            let _ = st.push_tx.send(items);
        }
    }
}
