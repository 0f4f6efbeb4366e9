//! The Serena registry client: `POST /Registry/GetNodes` with the key in a
//! `secretKey` header. The registry answers HTTP 200 even for a rejected
//! key, so the body alone says what happened (see `wire::parse_nodes`).

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::http::Http;
use crate::wire::{self, Node};

pub struct Registry {
    http: Http,
    url: String,
}

impl Registry {
    pub fn from_config(config: &Config) -> Result<Registry> {
        let addr = config.registry_addr.as_deref().ok_or_else(|| {
            Error::invalid("config key \"registry_addr\" is required for a cluster client but not set")
        })?;
        let url = wire::http_url(&config.registry_protocol, addr, config.registry_port, "/Registry/GetNodes");
        let http = Http::new(config, config.registry_protocol == "https", "the registry", "registry_protocol=http")?;
        Ok(Registry { http, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The nodes the registry lists now (possibly none).
    pub async fn nodes(&self) -> Result<Vec<Node>> {
        let answer = self.http.post(&self.url).send().await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => return Err(Error::connect(format!("registry {}: {}", self.url, self.http.describe(&e).await))),
        };
        let body = match answer.text().await {
            Ok(body) => body,
            Err(e) => {
                let why = self.http.describe(&e).await;
                return Err(Error::connect(format!("registry {}: reading the answer: {why}", self.url)));
            }
        };
        wire::parse_nodes(&body).map_err(|e| e.context(format!("registry {}", self.url)))
    }

    /// The nodes the registry lists now; `NoNodes` when there are none.
    pub async fn live_nodes(&self) -> Result<Vec<Node>> {
        let nodes = self.nodes().await?;
        if nodes.is_empty() {
            return Err(Error::new(ErrorKind::NoNodes, format!("registry {}: no MQ node is alive", self.url)));
        }
        Ok(nodes)
    }
}
