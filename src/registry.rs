//! The Serena registry client: `POST /Registry/GetNodes` with the key in a
//! `secretKey` header. The registry answers HTTP 200 even for a rejected
//! key, so the body alone says what happened (see `wire::parse_nodes`).

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::wire::{self, Node};

pub struct Registry {
    client: reqwest::Client,
    url: String,
    key: reqwest::header::HeaderValue,
}

impl Registry {
    pub fn from_config(config: &Config) -> Result<Registry> {
        let addr = config.registry_addr.as_deref().ok_or_else(|| {
            Error::invalid("config key \"registry_addr\" is required for a cluster client but not set")
        })?;
        let url = wire::http_url(&config.registry_protocol, addr, config.registry_port, "/Registry/GetNodes");
        let key = reqwest::header::HeaderValue::from_str(&config.secret_key).map_err(|_| {
            Error::invalid("config key \"secret_key\": the registry needs a key of visible ASCII characters")
        })?;
        let client = crate::tls::http_client(config, config.registry_protocol == "https")?;
        Ok(Registry { client, url, key })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The nodes the registry lists now (possibly none).
    pub async fn nodes(&self) -> Result<Vec<Node>> {
        let answer = self
            .client
            .post(&self.url)
            .header("secretKey", self.key.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .send()
            .await
            .map_err(|e| Error::connect(format!("registry {}: {}", self.url, describe(&e, "registry_protocol=http"))))?;
        let body = answer
            .text()
            .await
            .map_err(|e| {
                Error::connect(format!("registry {}: reading the answer: {}", self.url, describe(&e, "registry_protocol=http")))
            })?;
        wire::parse_nodes(&body).map_err(|e| e.context(format!("registry {}", self.url)))
    }

    /// The nodes the registry lists now; `NoNodes` when there are none.
    pub async fn live_nodes(&self) -> Result<Vec<Node>> {
        let nodes = self.nodes().await?;
        if nodes.is_empty() {
            return Err(Error::new(
                ErrorKind::NoNodes,
                format!("registry {}: no MQ node is alive", self.url),
            ));
        }
        Ok(nodes)
    }
}

/// reqwest's message plus the cause it wraps (refused, timed out...), or
/// the TLS failure in plain words; `plain` is the setting for a server
/// without TLS.
pub(crate) fn describe(e: &reqwest::Error, plain: &str) -> String {
    use std::error::Error as _;
    if let Some(words) = crate::tls::explain(e, plain) {
        return words;
    }
    let mut text = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
