//! The one HTTP client of the library, for the Serena registry and for a
//! node's HTTP API (the console): the same time bound, TLS settings, no
//! proxy, and the secret key in a `secretKey` header on every request.

use crate::config::Config;
use crate::error::{Error, Result};

pub(crate) struct Http {
    client: reqwest::Client,
    key: reqwest::header::HeaderValue,
}

impl Http {
    /// A client for `what` ("the registry", "the HTTP API"), speaking https
    /// when `https` is set.
    pub fn new(config: &Config, https: bool, what: &str) -> Result<Http> {
        let key = reqwest::header::HeaderValue::from_str(&config.secret_key).map_err(|_| {
            Error::invalid(format!("config key \"secret_key\": {what} needs a key of visible ASCII characters"))
        })?;
        crate::runtime::setup();
        let mut builder = reqwest::Client::builder().timeout(config.connect_timeout).no_proxy();
        if https {
            if let Some(tls) = crate::tls::client_config(config)? {
                builder = builder.tls_backend_preconfigured((*tls).clone());
            }
        }
        let client = builder.build().map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client, key })
    }

    /// A form POST to `url` carrying the key.
    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .header("secretKey", self.key.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
    }
}

/// reqwest's message plus the cause it wraps (refused, timed out, TLS...).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
