//! Where the server is and who we are: flags with environment fallbacks,
//! turned into a library `Config`. `ServerOpts` holds the global flags,
//! accepted before or after the subcommand (kcat's `-b` and `-q` among them).

use crate::fail::{CliError, CliResult};
use clap::Args;
use kapokmq::Config;

#[derive(Args, Debug, Clone)]
pub struct ServerOpts {
    /// MQ node host.
    #[arg(short = 'a', long, env = "KAPOKMQ_ADDR", default_value = "127.0.0.1", global = true)]
    pub addr: String,

    /// MQ node port (WebSocket and console HTTP).
    #[arg(short = 'p', long, env = "KAPOKMQ_PORT", default_value_t = 8011, global = true)]
    pub port: u16,

    /// Secret key of the node (and of the registry).
    #[arg(
        short = 'k',
        long,
        env = "KAPOKMQ_SECRET_KEY",
        default_value = "test",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: String,

    /// MQ node as HOST[:PORT], as kcat's -b. Wins over -a and -p (and
    /// their environment variables); the port is -p's when left out.
    #[arg(short = 'b', long = "server", value_name = "HOST[:PORT]", global = true)]
    pub server: Option<String>,

    /// No summaries or notes on stderr; errors are still printed.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// Use wss:// instead of ws:// (and https for the console).
    #[arg(long, env = "KAPOKMQ_TLS", global = true)]
    pub tls: bool,

    /// Serena registry as HOST[:PORT] (port 8031 when left out). With it,
    /// produce and consume work in cluster mode, over every live node.
    #[arg(short = 'r', long, env = "KAPOKMQ_REGISTRY", value_name = "HOST[:PORT]", global = true)]
    pub registry: Option<String>,

    /// Extra library config keys, KEY=VALUE (e.g. -X message_timeout_ms=5000).
    #[arg(short = 'X', long = "config", value_name = "KEY=VALUE", global = true)]
    pub extra: Vec<String>,
}

/// Splits `HOST[:PORT]`; a bracketed IPv6 host keeps its brackets off.
pub fn split_host_port(s: &str, default_port: u16) -> CliResult<(String, u16)> {
    let bad = || CliError::usage(format!("{s:?} is not HOST or HOST:PORT"));
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host.to_string(), p.parse().map_err(|_| bad())?)),
            None if after.is_empty() => Ok((host.to_string(), default_port)),
            None => Err(bad()),
        };
    }
    match s.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((host, _)) if host.contains(':') => Ok((s.to_string(), default_port)),
        Some((host, p)) if !host.is_empty() => Ok((host.to_string(), p.parse().map_err(|_| bad())?)),
        Some(_) => Err(bad()),
        None if s.is_empty() => Err(bad()),
        None => Ok((s.to_string(), default_port)),
    }
}

impl ServerOpts {
    /// Folds `-b HOST[:PORT]` into the address and port, so that every
    /// subcommand reads one place.
    pub fn resolve(&mut self) -> CliResult<()> {
        if let Some(server) = self.server.take() {
            let (host, port) = split_host_port(&server, self.port).map_err(|e| e.context("-b"))?;
            self.addr = host;
            self.port = port;
        }
        Ok(())
    }

    /// The library config for this server, without a topic or client id.
    pub fn config(&self) -> CliResult<Config> {
        let mut cfg = Config::new();
        let set = |cfg: &mut Config, k: &str, v: &str| cfg.set(k, v).map_err(CliError::from);
        set(&mut cfg, "mq_addr", &self.addr)?;
        set(&mut cfg, "mq_port", &self.port.to_string())?;
        set(&mut cfg, "secret_key", &self.secret_key)?;
        if self.tls {
            set(&mut cfg, "mq_protocol", "wss")?;
            set(&mut cfg, "registry_protocol", "https")?;
        }
        if let Some(reg) = &self.registry {
            let (host, port) = split_host_port(reg, 8031).map_err(|e| e.context("--registry"))?;
            set(&mut cfg, "registry_addr", &host)?;
            set(&mut cfg, "registry_port", &port.to_string())?;
        }
        for kv in &self.extra {
            let (k, v) =
                kv.split_once('=').ok_or_else(|| CliError::usage(format!("--config {kv:?}: expected KEY=VALUE")))?;
            set(&mut cfg, k.trim(), v)?;
        }
        Ok(cfg)
    }
}

/// A client id unique enough for one run on one machine.
pub fn default_client_id(role: &str) -> String {
    format!("kmq-{role}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("h", 1).unwrap(), ("h".into(), 1));
        assert_eq!(split_host_port("h:9", 1).unwrap(), ("h".into(), 9));
        assert_eq!(split_host_port("[::1]:9", 1).unwrap(), ("::1".into(), 9));
        assert_eq!(split_host_port("[::1]", 1).unwrap(), ("::1".into(), 1));
        assert_eq!(split_host_port("::1", 1).unwrap(), ("::1".into(), 1));
        for bad in ["", "h:x", ":9", "[::1", "[::1]x", "h:70000"] {
            assert!(split_host_port(bad, 1).is_err(), "{bad}");
        }
    }
}
