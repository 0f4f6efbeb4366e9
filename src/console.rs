//! The HTTP API of an MQ node (`/Message/...` and `/Console/...` on the
//! node's port, key in the form body): sending without a socket,
//! and the console's queries. Every answer arrives with HTTP status 200;
//! the body's `code` (0 or -1) says whether it worked.

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::http::Http;
use crate::runtime;
use crate::wire;
use serde_json::Value;

/// A client of one node's HTTP API. Calls block the calling thread.
pub struct Console {
    http: Http,
    base: String,
}

/// `status` of [`Console::messages`]: every message.
pub const ALL_STATUSES: i32 = 3;

impl Console {
    /// A client of the node at `mq_addr:mq_port` (https when `mq_protocol`
    /// is `wss`), authenticating with `secret_key`.
    pub fn new(config: &Config) -> Result<Console> {
        let scheme = if config.mq_protocol == "wss" { "https" } else { "http" };
        let base = wire::http_url(scheme, &config.mq_addr, config.mq_port, "");
        let http = Http::new(config, scheme == "https", "the HTTP API", "mq_protocol=ws")?;
        Ok(Console { http, base })
    }

    /// POSTs a form to `path` and returns the answer's JSON when its code
    /// is 0 (an empty body is `null`).
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value> {
        runtime::check_blocking_allowed("the console API")?;
        let url = format!("{}{path}", self.base);
        let request = self.http.post(&url).body(wire::form_encode(form));
        let body = runtime::handle()?.block_on(async {
            let sent = async { request.send().await?.text().await };
            match sent.await {
                Ok(body) => Ok(body),
                Err(e) => Err(Error::connect(format!("{url}: {}", self.http.describe(&e).await))),
            }
        })?;
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        let value: Value = serde_json::from_str(&body)
            .map_err(|e| Error::protocol(format!("{url}: the answer is not JSON: {e}: {:?}", wire::preview(&body))))?;
        match value.get("code").and_then(Value::as_i64) {
            Some(0) | None => Ok(value),
            Some(code) => {
                let msg = match value.get("msg") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => value.get("data").map(Value::to_string).unwrap_or_default(),
                };
                let kind = if msg.contains("Secret key") { ErrorKind::Auth } else { ErrorKind::Protocol };
                Err(Error::new(kind, format!("{url}: the server answered code {code}: {msg}")))
            }
        }
    }

    /// Sends one message over HTTP; returns its message code.
    pub fn send(&self, topic: &str, data: &str, delay_s: i64) -> Result<String> {
        wire::check_name("topic", topic)?;
        if data.is_empty() {
            return Err(Error::invalid("message data is empty"));
        }
        let delay = delay_s.max(0).to_string();
        let answer = self.post("/Producer/Send", &[("messageData", data), ("topic", topic), ("delayTime", &delay)])?;
        answer["msg"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::protocol(format!("/Producer/Send answered no message code: {answer}")))
    }

    pub fn ping(&self) -> Result<()> {
        self.post("/Console/Ping", &[]).map(|_| ())
    }

    /// `{"consumers":[...],"producers":[...]}` (each `null` when none).
    pub fn clients(&self) -> Result<Value> {
        let answer = self.post("/Console/GetClients", &[])?;
        Ok(serde_json::json!({ "consumers": answer["consumers"], "producers": answer["producers"] }))
    }

    /// The server's settings.
    pub fn server_config(&self) -> Result<Value> {
        Ok(self.post("/Console/GetConfig", &[])?["data"].take())
    }

    /// `{"all":N,"consumed":N,"delay":N,"unconsumed":N}`.
    pub fn count(&self) -> Result<Value> {
        Ok(self.post("/Console/CountMessage", &[])?["data"].take())
    }

    /// The message with `code`, or `null` when the server has none.
    pub fn message(&self, code: &str) -> Result<Value> {
        wire::check_code(code)?;
        match self.post("/Console/GetMessage", &[("messageCode", code)]) {
            Ok(mut answer) => Ok(answer["data"].take()),
            Err(e) if e.kind() == ErrorKind::Protocol => Ok(Value::Null),
            Err(e) => Err(e),
        }
    }

    /// Messages created between `start` and `end` (`YYYY-MM-DD hh:mm:ss`,
    /// server time) with `status` (-1, 0, 1, or [`ALL_STATUSES`]) on `topic`
    /// (empty: every topic), newest first, without their data.
    pub fn messages(&self, start: &str, end: &str, status: i32, topic: &str) -> Result<Value> {
        if !matches!(status, -1 | 0 | 1 | ALL_STATUSES) {
            return Err(Error::invalid(format!("status {status} is not -1, 0, 1 or 3")));
        }
        let status = status.to_string();
        let form = [("startTime", start), ("endTime", end), ("status", status.as_str()), ("topic", topic)];
        Ok(self.post("/Console/GetMessageList", &form)?["data"].take())
    }

    pub fn delete(&self, code: &str) -> Result<()> {
        wire::check_code(code)?;
        self.post("/Console/DelMessage", &[("messageCode", code)]).map(|_| ())
    }

    /// The node's view of the cluster (`null` when not in cluster mode).
    pub fn nodes(&self) -> Result<Value> {
        self.post("/Console/GetNodes", &[])
    }
}
