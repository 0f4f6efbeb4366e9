//! A message as a consumer hands it out.

use crate::wire;

/// One message pushed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's identity: 32 lowercase hex digits. Ack with it.
    pub code: String,
    /// The payload (UTF-8 text, as the server stores it).
    pub data: String,
    pub topic: String,
    /// Unix seconds.
    pub create_time: i64,
    pub consumed_time: i64,
    /// Seconds; a redelivered message arrives with the time elapsed.
    pub delay_time: i64,
    /// -1 waiting, 0 delayed, 1 consumed.
    pub status: i32,
}

impl From<wire::Push> for Message {
    fn from(p: wire::Push) -> Self {
        Message {
            code: p.code,
            data: p.data,
            topic: p.topic,
            create_time: p.create_time,
            consumed_time: p.consumed_time,
            delay_time: p.delay_time,
            status: p.status,
        }
    }
}
