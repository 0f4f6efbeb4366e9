//! kapokmq: a client library for the KapokMQ message queue.
//!
//! The Rust API ([`Producer`], [`Consumer`], [`Config`]) does the work; the
//! C ABI in [`ffi`] is a thin door into it, used directly from C and C++ and
//! through the Python and Node bindings.

// Every unsafe operation is marked where it happens, also inside `unsafe fn`.
#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod acks;
pub(crate) mod clock;
pub(crate) mod cluster;
pub mod config;
pub(crate) mod conn;
pub mod console;
pub mod consumer;
pub mod error;
pub mod events;
pub(crate) mod flushes;
pub(crate) mod frames;
pub mod ffi;
pub(crate) mod http;
pub(crate) mod inbox;
pub(crate) mod latency;
pub mod log;
pub(crate) mod message;
pub(crate) mod metrics;
pub(crate) mod outbox;
pub mod producer;
pub(crate) mod prometheus;
pub(crate) mod readiness;
pub(crate) mod registry;
pub(crate) mod runtime;
pub(crate) mod stats_json;
pub(crate) mod sync;
#[cfg(feature = "test-hooks")]
pub(crate) mod test_hooks;
pub(crate) mod tls;
pub(crate) mod wire;

pub use config::Config;
pub use consumer::{Consumer, ConsumerStats, DrainReport, Message};
pub use error::{Error, ErrorKind, Result};
pub use producer::{Batch, ConnectionStats, DeliveryReport, Producer, ProducerStats};
pub use readiness::Descriptor;

/// Not part of the API: what the command-line tool, the fuzz targets and
/// the tests reach inside the library for. It may change in any release.
#[doc(hidden)]
pub mod internals {
    /// The wire protocol's parsers and encoders.
    pub mod wire {
        pub use crate::wire::*;
    }
    pub use crate::registry::Registry;
    pub use crate::runtime::handle as runtime_handle;
    #[cfg(feature = "test-hooks")]
    pub use crate::test_hooks::{inject_ack_writer_panic, inject_link_panic};
    pub use crate::tls::utc;
}

/// The library's version, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
