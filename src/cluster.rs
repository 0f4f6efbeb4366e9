//! Following the registry's node list: every `check_time` the list is read
//! again; a link is started for each node that appears and retired for each
//! node that leaves. A node whose connection drops stops taking work at
//! once, without waiting for the registry to notice (it takes seconds).

use crate::config::Config;
use crate::conn::{self, Dialer, Membership, Ws};
use crate::error::{ErrorKind, Result};
use crate::events::EventKind;
use crate::metrics::Source;
use crate::registry::Registry;
use crate::runtime;
use crate::wire::{self, Node, Role};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Starts a link to a node's URL (already connected when a socket is
/// given); returns its membership, which retires it.
pub(crate) type StartLink = Arc<dyn Fn(String, Option<Ws>) -> Arc<Membership> + Send + Sync>;

/// A cluster client's nodes, read from the registry and connected.
pub(crate) struct Fleet {
    registry: Registry,
    opened: Vec<(Node, Option<Ws>)>,
    url_of: Box<dyn Fn(&Node) -> String + Send + Sync>,
}

impl Fleet {
    /// Reads the registry named by `config` and connects to every listed
    /// node as `role` with client id `id`, before it returns.
    /// Also returns the dialer the links go on with.
    pub(crate) fn connect(config: &Config, role: Role, id: &str) -> Result<(Fleet, Dialer)> {
        runtime::check_blocking_allowed(match role {
            Role::Producer => "connecting a cluster producer",
            Role::Consumer => "connecting a cluster consumer",
        })?;
        let dialer = Dialer::from_config(config)?;
        let topic = config.require_topic()?.to_string();
        let registry = Registry::from_config(config)?;
        let (protocol, id) = (config.mq_protocol.clone(), id.to_string());
        let url_of = Box::new(move |node: &Node| wire::conn_url(&protocol, &node.addr, node.port, role, &topic, &id));
        let opened = runtime::handle()?.block_on(connect_all(&registry, &dialer, &*url_of))?;
        Ok((Fleet { registry, opened, url_of }, dialer))
    }

    /// Starts a link per node, then follows the registry's list every
    /// `every` until `stop`; nodes added and removed later are events of
    /// `source`.
    pub(crate) fn run(
        self,
        every: Duration,
        stop: watch::Receiver<bool>,
        start: StartLink,
        source: Arc<Source>,
    ) -> Result<()> {
        let Fleet { registry, opened, url_of } = self;
        let links = opened.into_iter().map(|(node, ws)| (node.key(), start(url_of(&node), ws))).collect();
        let join: Join = Box::new(move |node| start(url_of(node), None));
        runtime::handle()?.spawn(follow(registry, every, stop, links, join, source));
        Ok(())
    }
}

/// Starts the link of one node that appeared; returns its membership.
type Join = Box<dyn FnMut(&Node) -> Arc<Membership> + Send>;

/// Polls the registry until `stop`, keeping one link per listed node.
/// `links` holds the links already started, by node key.
async fn follow(
    registry: Registry,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    mut links: HashMap<String, Arc<Membership>>,
    mut join: Join,
    source: Arc<Source>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        // An unreachable registry changes nothing: the links keep working.
        let Ok(nodes) = registry.nodes().await else {
            continue;
        };
        // A node back on the list takes back its link if that one has not
        // ended yet: one link per node, never two.
        for node in &nodes {
            match links.get(&node.key()) {
                Some(link) if !link.ended() => {
                    if link.retired() {
                        link.set_retired(false);
                    }
                }
                _ => {
                    source.emit(EventKind::NodeAdded, &node.key(), "", 0, 0);
                    links.insert(node.key(), join(node));
                }
            }
        }
        links.retain(|key, link| {
            let listed = nodes.iter().any(|n| &n.key() == key);
            if !listed && !link.retired() {
                source.emit(EventKind::NodeRemoved, key, "the node left the registry's list", 0, 0);
                link.set_retired(true);
            }
            listed || !link.ended()
        });
    }
}

/// Reads the registry and opens a connection to every listed node at once.
/// Nodes that cannot be reached now are returned without a connection (their
/// links keep trying); at least one must connect. A rejected key anywhere is
/// `Auth`.
async fn connect_all(
    registry: &Registry,
    dialer: &Dialer,
    url_of: &(dyn Fn(&Node) -> String + Sync),
) -> Result<Vec<(Node, Option<Ws>)>> {
    let nodes = registry.live_nodes().await?;
    let urls = nodes.iter().map(url_of).collect();
    match conn::open_all(dialer, urls).await {
        Ok(opened) => Ok(nodes.into_iter().zip(opened).collect()),
        Err(e) if e.kind() == ErrorKind::Auth => Err(e),
        Err(e) => Err(e.context(format!("none of the nodes listed by registry {} could be reached", registry.url()))),
    }
}
