//! Connection events: what happened to a client's connections, for an
//! application to alert on. They are made by the link driver and the
//! cluster follower, and handed to the application's event sink on the
//! `kmq-log` thread (see `log`), never on a network thread.

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum EventKind {
    /// A connection to `node` is open (the first, or again after a loss).
    Connected = 1,
    /// A connection to `node` ended; `reason` says why.
    Disconnected = 2,
    /// The connection to `node` is made again after `delay_ms`;
    /// `attempt` counts the tries since it was lost (1 first).
    Reconnecting = 3,
    /// A cluster client took up `node`, newly listed by the registry.
    NodeAdded = 4,
    /// `node` left the registry's list: the client lets it go.
    NodeRemoved = 5,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Connected => "connected",
            EventKind::Disconnected => "disconnected",
            EventKind::Reconnecting => "reconnecting",
            EventKind::NodeAdded => "node_added",
            EventKind::NodeRemoved => "node_removed",
        }
    }
}

/// One event of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The client's serial number, unique in the process (see
    /// `Producer::serial`, `Consumer::serial`).
    pub client: u64,
    /// "producer" or "consumer".
    pub role: &'static str,
    pub topic: String,
    /// The producer_id or consumer_id.
    pub client_id: String,
    /// The node, as `host:port`.
    pub node: String,
    /// Why a connection ended (empty for other kinds).
    pub reason: String,
    /// Reconnecting: the attempt about to be made, from 1.
    pub attempt: u32,
    /// Reconnecting: how long the client waits before it.
    pub delay_ms: u64,
}

pub type EventSink = Box<dyn Fn(&Event) + Send + Sync>;
