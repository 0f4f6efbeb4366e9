//! The one table of configuration keys, shared by C, Python and Node: every
//! value arrives as a string, is parsed and checked here, and a bad one is
//! reported naming the key and the value.

use crate::error::{Error, Result};
use crate::wire;
use std::fmt;
use std::time::Duration;

/// Settings for a producer or consumer. Build it with [`Config::set`] or
/// the field defaults of [`Config::default`].
#[derive(Clone)]
pub struct Config {
    pub mq_addr: String,
    pub mq_port: u16,
    /// `ws` or `wss`.
    pub mq_protocol: String,
    pub topic: Option<String>,
    pub producer_id: Option<String>,
    pub consumer_id: Option<String>,
    pub secret_key: String,
    /// Between registry polls, reconnect checks and keep-alive pings.
    pub check_time: Duration,
    pub registry_addr: Option<String>,
    pub registry_port: u16,
    /// `http` or `https`.
    pub registry_protocol: String,
    /// How long a produced message may wait for its confirmation before it
    /// is reported failed.
    pub message_timeout: Duration,
    /// Bound on connecting plus the handshake.
    pub connect_timeout: Duration,
    /// The longest wait between attempts to reconnect (the waits grow from
    /// 100 ms, each drawn at random below its bound).
    pub reconnect_max: Duration,
    /// Messages a producer holds at once (queued and unconfirmed).
    pub queue_max: usize,
    /// Connections a producer keeps to each node: the node serves each
    /// connection on one goroutine, so more of them confirm more per second.
    pub connections: usize,
    /// Messages written and not yet confirmed, per producer connection.
    pub max_in_flight: usize,
    /// Bytes of messages written and not yet confirmed, per producer
    /// connection.
    pub max_in_flight_bytes: usize,
    /// Pushed messages a consumer buffers before it stops reading the socket.
    pub receive_buffer: usize,
    /// A standby node a single-node consumer also stays connected to: it
    /// pushes only once its master is gone.
    pub standby_addr: Option<String>,
    /// The standby's port; the master's when unset.
    pub standby_port: Option<u16>,
    /// A PEM file of CA certificates to trust besides the web's roots.
    pub tls_ca_file: Option<String>,
    /// Whether server certificates are checked (wss, https).
    pub tls_verify: bool,
    /// SHA-256 fingerprints of the server certificates to accept; when set,
    /// no other certificate is.
    pub tls_pin_sha256: Vec<[u8; 32]>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mq_addr: "127.0.0.1".into(),
            mq_port: 8011,
            mq_protocol: "ws".into(),
            topic: None,
            producer_id: None,
            consumer_id: None,
            secret_key: "test".into(),
            check_time: Duration::from_secs(3),
            registry_addr: None,
            registry_port: 8031,
            registry_protocol: "http".into(),
            message_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            reconnect_max: Duration::from_secs(5),
            queue_max: 1_000_000,
            connections: 1,
            max_in_flight: 4096,
            max_in_flight_bytes: 8 << 20,
            receive_buffer: 10_000,
            standby_addr: None,
            standby_port: None,
            tls_ca_file: None,
            tls_verify: true,
            tls_pin_sha256: Vec::new(),
        }
    }
}

// The key never appears in Debug output, logs or error messages.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mq_addr", &self.mq_addr)
            .field("mq_port", &self.mq_port)
            .field("mq_protocol", &self.mq_protocol)
            .field("topic", &self.topic)
            .field("producer_id", &self.producer_id)
            .field("consumer_id", &self.consumer_id)
            .field("secret_key", &"<redacted>")
            .field("check_time", &self.check_time)
            .field("registry_addr", &self.registry_addr)
            .field("registry_port", &self.registry_port)
            .field("registry_protocol", &self.registry_protocol)
            .field("message_timeout", &self.message_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect_max", &self.reconnect_max)
            .field("queue_max", &self.queue_max)
            .field("connections", &self.connections)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_in_flight_bytes", &self.max_in_flight_bytes)
            .field("receive_buffer", &self.receive_buffer)
            .field("standby_addr", &self.standby_addr)
            .field("standby_port", &self.standby_port)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_verify", &self.tls_verify)
            .field("tls_pin_sha256", &self.tls_pin_sha256.len())
            .finish()
    }
}

/// Most connections a producer keeps to one node (`connections`).
pub const MAX_CONNECTIONS: usize = 64;

/// Every key `Config::set` accepts, in the order the docs list them.
pub const KEYS: &[&str] = &[
    "mq_addr",
    "mq_port",
    "mq_protocol",
    "topic",
    "producer_id",
    "consumer_id",
    "secret_key",
    "check_time",
    "registry_addr",
    "registry_port",
    "registry_protocol",
    "message_timeout_ms",
    "connect_timeout_ms",
    "reconnect_max_ms",
    "queue_max",
    "connections",
    "max_in_flight",
    "max_in_flight_bytes",
    "receive_buffer",
    "standby_addr",
    "standby_port",
    "tls_ca_file",
    "tls_verify",
    "tls_pin_sha256",
];

fn bad(key: &str, value: &str, why: &str) -> Error {
    Error::invalid(format!("config key {key:?}: {value:?} {why}"))
}

fn port(key: &str, value: &str) -> Result<u16> {
    match value.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad(key, value, "is not a port number (1-65535)")),
    }
}

fn whole(key: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(key, value, &format!("is not a whole number from {min} to {max}"))),
    }
}

fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<String> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(bad(key, value, &format!("is not one of {}", allowed.join(", "))))
    }
}

fn name(key: &str, value: &str) -> Result<String> {
    wire::check_name(&format!("config key {key:?}"), value)?;
    Ok(value.to_string())
}

fn host(key: &str, value: &str) -> Result<String> {
    wire::check_host(&format!("config key {key:?}"), value)?;
    Ok(value.to_string())
}

/// Parses `tls_pin_sha256`: SHA-256 fingerprints of server certificates
/// separated by commas, each hex (colons allowed, as `openssl x509
/// -fingerprint -sha256` prints it) or base64.
fn parse_pins(value: &str) -> std::result::Result<Vec<[u8; 32]>, String> {
    use base64::Engine as _;
    let mut pins = Vec::new();
    for item in value.split(',').map(str::trim) {
        let hex: String = item.chars().filter(|&c| c != ':').collect();
        let bytes = if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex")).collect()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(item)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(item))
                .unwrap_or_default()
        };
        match <[u8; 32]>::try_from(bytes) {
            Ok(pin) => pins.push(pin),
            Err(_) => {
                return Err(format!(
                    "{item:?} is not a SHA-256 fingerprint (64 hex digits, or 44 characters of base64)"
                ))
            }
        }
    }
    Ok(pins)
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one key from its string form; an unknown key or a bad value is
    /// an `InvalidArgument` error that names the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "mq_addr" => self.mq_addr = host(key, value)?,
            "mq_port" => self.mq_port = port(key, value)?,
            "mq_protocol" => self.mq_protocol = one_of(key, value, &["ws", "wss"])?,
            "topic" => self.topic = Some(name(key, value)?),
            "producer_id" => self.producer_id = Some(name(key, value)?),
            "consumer_id" => self.consumer_id = Some(name(key, value)?),
            "secret_key" => {
                // The key travels as a whole text frame.
                if value.chars().any(|c| c.is_control()) {
                    return Err(Error::invalid(format!("config key {key:?}: the key contains control characters")));
                }
                self.secret_key = value.to_string()
            }
            "check_time" => self.check_time = Duration::from_secs(whole(key, value, 1, 86_400)?),
            "registry_addr" => self.registry_addr = Some(host(key, value)?),
            "registry_port" => self.registry_port = port(key, value)?,
            "registry_protocol" => self.registry_protocol = one_of(key, value, &["http", "https"])?,
            "message_timeout_ms" => self.message_timeout = Duration::from_millis(whole(key, value, 1, 7 * 86_400_000)?),
            "connect_timeout_ms" => self.connect_timeout = Duration::from_millis(whole(key, value, 1, 3_600_000)?),
            "reconnect_max_ms" => self.reconnect_max = Duration::from_millis(whole(key, value, 1, 3_600_000)?),
            "queue_max" => self.queue_max = whole(key, value, 1, 100_000_000)? as usize,
            "connections" => self.connections = whole(key, value, 1, MAX_CONNECTIONS as u64)? as usize,
            "max_in_flight" => self.max_in_flight = whole(key, value, 1, 1_000_000)? as usize,
            "max_in_flight_bytes" => self.max_in_flight_bytes = whole(key, value, 1024, 1 << 32)? as usize,
            "receive_buffer" => self.receive_buffer = whole(key, value, 1, 10_000_000)? as usize,
            "standby_addr" => self.standby_addr = Some(host(key, value)?),
            "standby_port" => self.standby_port = Some(port(key, value)?),
            "tls_ca_file" => {
                if value.is_empty() {
                    return Err(bad(key, value, "is not a file path"));
                }
                self.tls_ca_file = Some(value.to_string())
            }
            "tls_verify" => {
                self.tls_verify = match value {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(bad(key, value, "is not true or false")),
                }
            }
            "tls_pin_sha256" => {
                self.tls_pin_sha256 =
                    parse_pins(value).map_err(|why| Error::invalid(format!("config key {key:?}: {why}")))?
            }
            _ => return Err(Error::invalid(format!("unknown config key {key:?}; known keys: {}", KEYS.join(", ")))),
        }
        Ok(())
    }

    /// The topic, or an error naming the missing key.
    pub fn require_topic(&self) -> Result<&str> {
        self.topic.as_deref().ok_or_else(|| Error::invalid("config key \"topic\" is required but not set"))
    }

    pub fn require_producer_id(&self) -> Result<&str> {
        self.producer_id
            .as_deref()
            .ok_or_else(|| Error::invalid("config key \"producer_id\" is required for a producer but not set"))
    }

    pub fn require_consumer_id(&self) -> Result<&str> {
        self.consumer_id
            .as_deref()
            .ok_or_else(|| Error::invalid("config key \"consumer_id\" is required for a consumer but not set"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_read_hex_with_or_without_colons_and_base64() {
        let hex = "00".repeat(31) + "ff";
        let colons = hex
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        let mut want = [0u8; 32];
        want[31] = 0xff;
        let b64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAP8=";
        assert_eq!(parse_pins(&hex).unwrap(), vec![want]);
        assert_eq!(parse_pins(&colons).unwrap(), vec![want]);
        assert_eq!(parse_pins(b64).unwrap(), vec![want]);
        assert_eq!(parse_pins(b64.trim_end_matches('=')).unwrap(), vec![want]);
        assert_eq!(parse_pins(&format!("{hex}, {b64}")).unwrap(), vec![want, want]);
        for bad in ["", "ff", &hex[1..], "AAAA", &format!("{hex},")] {
            let why = parse_pins(bad).unwrap_err();
            assert!(why.contains("SHA-256"), "{why}");
        }
    }

    #[test]
    fn every_key_sets() {
        let mut c = Config::new();
        for (k, v) in [
            ("mq_addr", "localhost"),
            ("mq_port", "9000"),
            ("mq_protocol", "wss"),
            ("topic", "t"),
            ("producer_id", "p"),
            ("consumer_id", "c"),
            ("secret_key", "k"),
            ("check_time", "1"),
            ("registry_addr", "::1"),
            ("registry_port", "8031"),
            ("registry_protocol", "https"),
            ("message_timeout_ms", "100"),
            ("connect_timeout_ms", "100"),
            ("reconnect_max_ms", "1000"),
            ("queue_max", "10"),
            ("connections", "4"),
            ("max_in_flight", "10"),
            ("max_in_flight_bytes", "65536"),
            ("receive_buffer", "10"),
            ("standby_addr", "127.0.0.2"),
            ("standby_port", "8012"),
            ("tls_ca_file", "/etc/ssl/ca.pem"),
            ("tls_verify", "false"),
            ("tls_pin_sha256", "ab".repeat(32).as_str()),
        ] {
            c.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        assert_eq!(KEYS.len(), 24);
        assert_eq!(c.reconnect_max, Duration::from_secs(1));
        assert_eq!(c.connections, 4);
        assert_eq!(c.tls_pin_sha256, vec![[0xab; 32]]);
        assert_eq!(c.mq_port, 9000);
        assert!(!format!("{c:?}").contains("\"k\""));
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut c = Config::new();
        for (k, v) in [
            ("mq_port", "abc"),
            ("mq_port", "0"),
            ("mq_port", "70000"),
            ("mq_protocol", "http"),
            ("topic", "a/b"),
            ("check_time", "-1"),
            ("mq_addr", "a b"),
            ("queue_max", "0"),
            ("tls_pin_sha256", ""),
            ("tls_pin_sha256", "abcd"),
            ("tls_pin_sha256", "g".repeat(64).as_str()),
            ("tls_pin_sha256", format!("{},", "ab".repeat(32)).as_str()),
            ("reconnect_max_ms", "0"),
            ("connections", "0"),
            ("connections", "65"),
            ("max_in_flight", "0"),
            ("max_in_flight_bytes", "100"),
        ] {
            let e = c.set(k, v).unwrap_err();
            assert!(e.message().contains(k), "{e}");
        }
        assert!(c.set("nope", "1").unwrap_err().message().contains("nope"));
    }
}
