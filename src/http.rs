//! The one HTTP client of the library, for the Serena registry and for a
//! node's HTTP API (the console): the same time bound, TLS settings, no
//! proxy, the secret key in a `secretKey` header on every request, and its
//! errors in words.
//!
//! A TLS 1.3 server that refuses the client after the handshake (it wants a
//! client certificate) sends its alert when hyper already counts the
//! connection as open, and hyper then reports only that the connection was
//! not ready: the alert is lost. So when an https request fails for no
//! reason found in its error, one more handshake with the same settings
//! asks the server why ([`probe`]).

use crate::config::Config;
use crate::error::{Error, Result};
use crate::tls::explain;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long the probe waits for a refusal after its handshake.
const PROBE_WAIT: Duration = Duration::from_secs(1);

pub(crate) struct Http {
    client: reqwest::Client,
    key: reqwest::header::HeaderValue,
    /// The TLS settings of an https client.
    tls: Option<Arc<ClientConfig>>,
    /// The setting for a server without TLS (`registry_protocol=http`).
    plain: &'static str,
    timeout: Duration,
}

impl Http {
    /// A client for `what` ("the registry", "the HTTP API"), with its TLS
    /// settings when `https`; `plain` names the setting for a server
    /// without TLS.
    pub fn new(config: &Config, https: bool, what: &str, plain: &'static str) -> Result<Http> {
        let key = reqwest::header::HeaderValue::from_str(&config.secret_key).map_err(|_| {
            Error::invalid(format!("config key \"secret_key\": {what} needs a key of visible ASCII characters"))
        })?;
        crate::runtime::setup();
        let tls = if https { Some(crate::tls::settings(config)?) } else { None };
        let mut builder = reqwest::Client::builder().timeout(config.connect_timeout).no_proxy();
        if let Some(tls) = &tls {
            builder = builder.tls_backend_preconfigured((**tls).clone());
        }
        let client = builder.build().map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client, key, tls, plain, timeout: config.connect_timeout })
    }

    /// A form POST to `url` carrying the key.
    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .header("secretKey", self.key.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
    }

    /// A failed request in words: the TLS failure behind it, else reqwest's
    /// message and the causes it wraps (refused, timed out...).
    pub async fn describe(&self, e: &reqwest::Error) -> String {
        use std::error::Error as _;
        if let Some(words) = explain(e, self.plain) {
            return words;
        }
        if let (Some(tls), Some(url), false) = (&self.tls, e.url(), e.is_timeout()) {
            if let Some(words) = probe(tls.clone(), url, self.timeout, self.plain).await {
                return words;
            }
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
}

/// Connects to `url`'s host, completes a TLS handshake and waits a moment
/// for the server to refuse; the refusal in words, or `None` when there is
/// none to find.
async fn probe(tls: Arc<ClientConfig>, url: &reqwest::Url, timeout: Duration, plain: &str) -> Option<String> {
    let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port_or_known_default()?;
    let name = ServerName::try_from(host.clone()).ok()?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.ok()?;
        let mut stream = match tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await {
            Ok(stream) => stream,
            Err(e) => return explain(&e, plain),
        };
        match tokio::time::timeout(PROBE_WAIT, stream.read(&mut [0u8; 1])).await {
            Ok(Err(e)) => explain(&e, plain),
            _ => None,
        }
    };
    tokio::time::timeout(timeout + PROBE_WAIT, attempt).await.ok().flatten()
}
