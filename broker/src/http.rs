//! A small HTTP/1.1 front end with gin's routing behaviour: the WebSocket upgrade routes and the
//! console API (form bodies, `secretKey` header, status 200 even for errors).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncReadExt;

use crate::conn::{self, Kind};
use crate::json::{go_str, push_int, write_message, MsgView};
use crate::tls::{send, Sock};
use crate::util::{go_lossy, http_date, parse_code, parse_local_time, percent_decode, ws_accept};
use crate::{registry, State};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 << 20;

struct Request {
    method: String,
    target: String,
    http10: bool,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// Every comma-separated token of every `name` header, lower-cased.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
    fn keep_alive(&self) -> bool {
        if self.has_token("connection", "close") {
            return false;
        }
        !self.http10 || self.has_token("connection", "keep-alive")
    }
}

fn parse_head(b: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(b).ok()?;
    let mut lines = text.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next()?;
    if parts.next().is_some() || method.is_empty() || target.is_empty() {
        return None;
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return None,
    };
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let (k, v) = l.split_once(':')?;
        if k.is_empty() || k.contains(' ') {
            return None;
        }
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    Some(Request { method, target, http10, headers })
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

struct Resp {
    status: u16,
    ctype: Option<&'static str>,
    body: Vec<u8>,
    extra: Vec<(&'static str, String)>,
    cors: bool,
}

impl Resp {
    fn json(body: Vec<u8>) -> Resp {
        Resp { status: 200, ctype: Some("application/json; charset=utf-8"), body, extra: vec![], cors: true }
    }
    /// gin's `c.String`: how the node answers node lists (and their empty body).
    fn string(body: Vec<u8>) -> Resp {
        Resp { status: 200, ctype: Some("text/plain; charset=utf-8"), body, extra: vec![], cors: true }
    }
    fn text(status: u16, body: &str) -> Resp {
        Resp { status, ctype: Some("text/plain"), body: body.as_bytes().to_vec(), extra: vec![], cors: true }
    }
    fn empty(status: u16) -> Resp {
        Resp { status, ctype: None, body: vec![], extra: vec![], cors: true }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Request Entity Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Unknown",
    }
}

fn render(r: &Resp, close: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + r.body.len());
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status)).as_bytes());
    if r.cors {
        out.extend_from_slice(
            b"Access-Control-Allow-Credentials: true\r\n\
Access-Control-Allow-Headers: Content-Type,AccessToken,X-CSRF-Token, Authorization, Token, secretKey\r\n\
Access-Control-Allow-Methods: POST, GET, OPTIONS\r\n\
Access-Control-Allow-Origin: *\r\n\
Access-Control-Expose-Headers: Content-Length, Access-Control-Allow-Origin, Access-Control-Allow-Headers, Content-Type\r\n",
        );
    }
    for (k, v) in &r.extra {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if let Some(ct) = r.ctype {
        out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Date: {}\r\n", http_date()).as_bytes());
    if r.status != 204 && r.status >= 200 {
        out.extend_from_slice(format!("Content-Length: {}\r\n", r.body.len()).as_bytes());
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&r.body);
    out
}

/// Serves one connection (TCP or TLS): HTTP requests until one upgrades to a WebSocket.
pub async fn serve(mut sock: Sock, peer: SocketAddr, st: Arc<State>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        // request head
        let head_len = loop {
            if let Some(n) = find_head_end(&buf) {
                break n;
            }
            if buf.len() > MAX_HEAD {
                let _ = send(&mut sock, &render(&Resp::text(431, "431 Request Header Fields Too Large"), true)).await;
                return;
            }
            let mut tmp = [0u8; 8192];
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
            // A TLS handshake record (0x16) on a plain port is no request line: answer at
            // once, as an HTTP server reading a malformed request does, instead of waiting
            // for a blank line that never comes.
            if matches!(&sock, Sock::Plain(_)) && buf.first() == Some(&0x16) {
                let _ = send(&mut sock, &render(&Resp::text(400, "400 Bad Request"), true)).await;
                return;
            }
        };
        let Some(req) = parse_head(&buf[..head_len]) else {
            let _ = send(&mut sock, &render(&Resp::text(400, "400 Bad Request"), true)).await;
            return;
        };
        buf.drain(..head_len);

        // path as gin routes it: decoded, query dropped
        let mut raw = req.target.as_str();
        if let Some(rest) = raw.strip_prefix("http://").or_else(|| raw.strip_prefix("https://")) {
            raw = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
        }
        let raw = raw.split('?').next().unwrap_or("");
        let Some(path) = percent_decode(raw.as_bytes(), false) else {
            let _ = send(&mut sock, &render(&Resp::text(400, "400 Bad Request"), true)).await;
            return;
        };
        let segs: Vec<&[u8]> = path.split(|&c| c == b'/').collect();

        // WebSocket routes (GET only, exactly /{Producers|Consumers}/Conn/{topic}/{id});
        // a registry has none.
        if st.registry.is_none() && req.method == "GET" && segs.len() == 5 && segs[0].is_empty() && segs[2] == b"Conn" {
            let kind = match segs[1] {
                b"Producers" => Some(Kind::Producer),
                b"Consumers" => Some(Kind::Consumer),
                _ => None,
            };
            if let (Some(kind), false, false) = (kind, segs[3].is_empty(), segs[4].is_empty()) {
                match upgrade(&req) {
                    Err(resp) => {
                        let close = !req.keep_alive();
                        if send(&mut sock, &render(&resp, close)).await.is_err() || close {
                            return;
                        }
                        continue;
                    }
                    Ok(accept) => {
                        let head = format!(
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                        );
                        if send(&mut sock, head.as_bytes()).await.is_err() {
                            return;
                        }
                        let topic = go_lossy(segs[3].to_vec());
                        let id = go_lossy(segs[4].to_vec());
                        let ip = client_ip(&req, peer);
                        conn::run(st, sock, buf, kind, topic, id, ip).await;
                        return;
                    }
                }
            }
        }

        // body
        let body = match read_body(&mut sock, &mut buf, &req).await {
            Ok(b) => b,
            Err(Some(resp)) => {
                let _ = send(&mut sock, &render(&resp, true)).await;
                return;
            }
            Err(None) => return,
        };
        let resp = route(&st, &req, &path, &body).await;
        let close = !req.keep_alive();
        if send(&mut sock, &render(&resp, close)).await.is_err() || close {
            return;
        }
    }
}

/// gorilla's `Upgrader.Upgrade` checks; `Ok(accept key)` or the error response.
fn upgrade(req: &Request) -> Result<String, Resp> {
    let bad = || {
        let mut r = Resp::text(400, "Bad Request\n");
        r.ctype = Some("text/plain; charset=utf-8");
        r.extra = vec![("Sec-Websocket-Version", "13".into()), ("X-Content-Type-Options", "nosniff".into())];
        r.cors = true;
        r
    };
    if !req.has_token("connection", "upgrade") || !req.has_token("upgrade", "websocket") {
        return Err(bad());
    }
    if !req.has_token("sec-websocket-version", "13") {
        return Err(bad());
    }
    match req.header("sec-websocket-key") {
        Some(k) if !k.trim().is_empty() => Ok(ws_accept(k)),
        _ => Err(bad()),
    }
}

/// gin's `ClientIP` with its defaults (forwarding headers trusted).
fn client_ip(req: &Request, peer: SocketAddr) -> String {
    if let Some(v) = req.header("x-forwarded-for") {
        if let Some(first) = v.split(',').map(str::trim).find(|s| s.parse::<std::net::IpAddr>().is_ok()) {
            return first.to_string();
        }
    }
    if let Some(v) = req.header("x-real-ip") {
        if v.trim().parse::<std::net::IpAddr>().is_ok() {
            return v.trim().to_string();
        }
    }
    peer.ip().to_string()
}

async fn read_more(sock: &mut Sock, buf: &mut Vec<u8>) -> Result<(), Option<Resp>> {
    let mut tmp = [0u8; 16384];
    match sock.read(&mut tmp).await {
        Ok(0) | Err(_) => Err(None),
        Ok(n) => {
            buf.extend_from_slice(&tmp[..n]);
            Ok(())
        }
    }
}

async fn read_body(sock: &mut Sock, buf: &mut Vec<u8>, req: &Request) -> Result<Vec<u8>, Option<Resp>> {
    let chunked = req.has_token("transfer-encoding", "chunked");
    let len = match req.header("content-length") {
        Some(v) if !chunked => Some(v.trim().parse::<usize>().map_err(|_| Some(Resp::text(400, "400 Bad Request")))?),
        _ => None,
    };
    if !chunked && len.unwrap_or(0) == 0 {
        return Ok(Vec::new());
    }
    if len.unwrap_or(0) > MAX_BODY {
        return Err(Some(Resp::text(413, "413 Request Entity Too Large")));
    }
    if req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) && buf.is_empty() {
        send(sock, b"HTTP/1.1 100 Continue\r\n\r\n").await.map_err(|_| None)?;
    }
    if let Some(n) = len {
        while buf.len() < n {
            read_more(sock, buf).await?;
        }
        return Ok(buf.drain(..n).collect());
    }
    // chunked
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if buf.len() > 4096 {
                return Err(Some(Resp::text(400, "400 Bad Request")));
            }
            read_more(sock, buf).await?;
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size_txt = line.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_txt, 16).map_err(|_| Some(Resp::text(400, "400 Bad Request")))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // trailers until an empty line
            loop {
                let e = loop {
                    if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    read_more(sock, buf).await?;
                };
                buf.drain(..e + 2);
                if e == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(Some(Resp::text(413, "413 Request Entity Too Large")));
        }
        while buf.len() < size + 2 {
            read_more(sock, buf).await?;
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

// ---------------------------------------------------------------- forms

/// `c.GetPostForm`: first value of each field of an urlencoded or multipart body.
fn parse_form(req: &Request, body: &[u8]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    let ct = req.header("content-type").unwrap_or("");
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" {
        for pair in body.split(|&c| c == b'&') {
            if pair.is_empty() || pair.contains(&b';') {
                continue;
            }
            let (k, v) = match pair.iter().position(|&c| c == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let (Some(k), Some(v)) = (percent_decode(k, true), percent_decode(v, true)) else {
                continue;
            };
            form.entry(go_lossy(k)).or_insert_with(|| go_lossy(v));
        }
    } else if media == "multipart/form-data" {
        let boundary =
            parts.filter_map(|p| p.trim().strip_prefix("boundary=")).next().map(|b| b.trim_matches('"').to_string());
        if let Some(b) = boundary {
            let delim = format!("--{b}");
            let d = delim.as_bytes();
            let mut pos = match find(body, d, 0) {
                Some(p) => p + d.len(),
                None => return form,
            };
            loop {
                if body[pos..].starts_with(b"--") {
                    break;
                }
                let Some(hs) = find(body, b"\r\n", pos) else {
                    break;
                };
                let Some(he) = find(body, b"\r\n\r\n", hs) else {
                    break;
                };
                let head = String::from_utf8_lossy(&body[hs + 2..he]).into_owned();
                let cstart = he + 4;
                let mut needle = b"\r\n".to_vec();
                needle.extend_from_slice(d);
                let Some(cend) = find(body, &needle, cstart) else {
                    break;
                };
                let mut name = None;
                let mut is_file = false;
                for l in head.split("\r\n") {
                    if l.to_ascii_lowercase().starts_with("content-disposition:") {
                        for p in l.split(';').skip(1) {
                            let p = p.trim();
                            if let Some(v) = p.strip_prefix("name=") {
                                name = Some(v.trim_matches('"').to_string());
                            } else if p.starts_with("filename=") {
                                is_file = true;
                            }
                        }
                    }
                }
                if let (Some(n), false) = (name, is_file) {
                    form.entry(n).or_insert_with(|| go_lossy(body[cstart..cend].to_vec()));
                }
                pos = cend + needle.len();
            }
        }
    }
    form
}

fn find(h: &[u8], n: &[u8], from: usize) -> Option<usize> {
    if from > h.len() || n.is_empty() {
        return None;
    }
    h[from..].windows(n.len()).position(|w| w == n).map(|i| i + from)
}

// ---------------------------------------------------------------- routes

const NODE_ROUTES: &[&str] = &[
    "/Producer/Send",
    "/Console/Ping",
    "/Console/GetClients",
    "/Console/GetConfig",
    "/Console/CountMessage",
    "/Console/GetMessage",
    "/Console/GetMessageList",
    "/Console/DelMessage",
    "/Console/GetNodes",
    "/Registry/GetNodes",
];

/// Serena's route, plus the heartbeat that stands in for gossip.
const REGISTRY_ROUTES: &[&str] = &["/Registry/GetNodes", "/Registry/Join"];

async fn route(st: &State, req: &Request, path: &[u8], body: &[u8]) -> Resp {
    // gin runs the global CORS middleware even for unknown routes: OPTIONS always ends there.
    if req.method == "OPTIONS" {
        return Resp::empty(204);
    }
    let path_s = String::from_utf8_lossy(path);
    let routes = match st.registry {
        Some(_) => REGISTRY_ROUTES,
        None => NODE_ROUTES,
    };
    let known = routes.contains(&&*path_s);
    if !known || req.method != "POST" {
        // gin's RedirectTrailingSlash
        if let Some(p) = path_s.strip_suffix('/') {
            if routes.contains(&p) && req.method == "POST" {
                let mut r = Resp::empty(307);
                r.extra.push(("Location", p.to_string()));
                return r;
            }
        }
        return Resp::text(404, "404 page not found");
    }
    if req.header("secretkey").unwrap_or("") != st.cfg.secret_key {
        return Resp::json(br#"{"code":-1,"msg":"Secret key matching error"}"#.to_vec());
    }
    let form = parse_form(req, body);
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let mut o: Vec<u8> = Vec::with_capacity(256);
    if let Some(reg) = &st.registry {
        if path_s == "/Registry/Join" {
            let Some(port) = get("port").parse::<u16>().ok().filter(|&p| p != 0) else {
                return Resp::json(br#"{"code":-1,"msg":"port must be a number from 1 to 65535"}"#.to_vec());
            };
            if get("addr").is_empty() {
                return Resp::json(br#"{"code":-1,"msg":"addr cannot be empty"}"#.to_vec());
            }
            let mut node = registry::Node::new(get("addr"), port);
            if !get("name").is_empty() {
                node.name = get("name").to_string();
            }
            reg.join(node);
        }
        // Join answers the list too, so each heartbeat refreshes the node's view of the cluster.
        reg.write_live(&mut o);
        return Resp::string(o);
    }
    match &*path_s {
        "/Producer/Send" => {
            let delay_txt = get("delayTime");
            let delay = match parse_go_int(delay_txt) {
                Some(d) => d,
                None => {
                    o.extend_from_slice(br#"{"code":-1,"msg":{"Func":"ParseInt","Num":"#);
                    go_str(&mut o, delay_txt);
                    o.extend_from_slice(br#","Err":{}}}"#);
                    return Resp::json(o);
                }
            };
            let data = get("messageData");
            let topic = get("topic");
            if data.is_empty() || topic.is_empty() {
                return Resp::json(br#"{"code":-1,"msg":"Required data cannot be empty"}"#.to_vec());
            }
            let topic: Arc<str> = Arc::from(topic);
            let items = st.store.insert(&topic, vec![(data.to_string(), delay)], crate::util::now_ms());
            let code = items[0].code;
            let _ = st.push_tx.send(items);
            o.extend_from_slice(br#"{"code":0,"msg":""#);
            crate::util::push_hex32(&mut o, code);
            o.extend_from_slice(br#""}"#);
        }
        "/Console/Ping" => o.extend_from_slice(br#"{"code":0}"#),
        "/Console/GetClients" => {
            let (cons, prods) = st.clients.snapshot();
            o.extend_from_slice(br#"{"code":0,"consumers":"#);
            write_clients(&mut o, &cons, "Consumer");
            o.extend_from_slice(br#","producers":"#);
            write_clients(&mut o, &prods, "Producer");
            o.push(b'}');
        }
        "/Console/GetConfig" => write_config(st, &mut o),
        "/Console/CountMessage" => {
            let (all, consumed, delay, unconsumed) = st.store.count();
            o.extend_from_slice(
                format!(r#"{{"code":0,"data":{{"all":{all},"consumed":{consumed},"delay":{delay},"unconsumed":{unconsumed}}}}}"#)
                    .as_bytes(),
            );
        }
        "/Console/GetMessage" => {
            match parse_code(get("messageCode").as_bytes()).and_then(|c| st.store.get(c).map(|e| (c, e))) {
                Some((code, e)) => {
                    o.extend_from_slice(br#"{"code":0,"data":"#);
                    write_message(
                        &mut o,
                        &MsgView {
                            code,
                            data: &e.data,
                            topic: &e.topic,
                            create: e.create_s(),
                            consumed: e.consumed,
                            delay: e.delay,
                            status: e.status,
                        },
                    );
                    o.push(b'}');
                }
                None => o.extend_from_slice(br#"{"code":-1,"data":"error"}"#),
            }
        }
        "/Console/GetMessageList" => {
            let start = parse_local_time(get("startTime"));
            let end = parse_local_time(get("endTime"));
            // strconv.Atoi with the error ignored: 0 on failure
            let status = get("status").parse::<i64>().unwrap_or(0);
            let list = st.store.list(start, end, status, get("topic"));
            o.extend_from_slice(br#"{"code":0,"data":"#);
            if list.is_empty() {
                o.extend_from_slice(b"null");
            } else {
                o.push(b'[');
                for (i, (code, e)) in list.iter().enumerate() {
                    if i > 0 {
                        o.push(b',');
                    }
                    write_message(
                        &mut o,
                        &MsgView {
                            code: *code,
                            data: "",
                            topic: &e.topic,
                            create: e.create_s(),
                            consumed: e.consumed,
                            delay: e.delay,
                            status: e.status,
                        },
                    );
                }
                o.push(b']');
            }
            o.push(b'}');
        }
        "/Console/DelMessage" => {
            if let Some(c) = parse_code(get("messageCode").as_bytes()) {
                st.store.delete(c);
            }
            o.extend_from_slice(br#"{"code":0}"#);
        }
        // A node that joined a registry answers the cluster as it sees it (both routes, so that
        // any node can also stand in for the registry).
        "/Console/GetNodes" | "/Registry/GetNodes" if st.member.is_some() => {
            if let Some(m) = &st.member {
                return Resp::string(m.view().await);
            }
        }
        // Not in cluster mode: the node answers with an empty body.
        "/Console/GetNodes" => return Resp::string(vec![]),
        // Serena's registry view, with this broker as the only live node.
        "/Registry/GetNodes" => {
            let a = st.local_addr;
            registry::write_nodes(&mut o, &[&registry::Node::new(&a.ip().to_string(), a.port())]);
            return Resp::string(o);
        }
        _ => return Resp::text(404, "404 page not found"),
    }
    Resp::json(o)
}

/// `strconv.ParseInt(s, 10, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

fn write_clients(o: &mut Vec<u8>, list: &[crate::push::ClientInfo], role: &str) {
    if list.is_empty() {
        o.extend_from_slice(b"null");
        return;
    }
    o.push(b'[');
    for (i, c) in list.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(format!("{{\"{role}Id\":").as_bytes());
        go_str(o, &c.id);
        o.extend_from_slice(b",\"Topic\":");
        go_str(o, &c.topic);
        o.extend_from_slice(format!(",\"{role}Ip\":").as_bytes());
        go_str(o, &c.ip);
        o.extend_from_slice(b",\"JoinTime\":");
        push_int(o, c.join);
        o.push(b'}');
    }
    o.push(b']');
}

/// The server's config map (Go sorts map keys), with this broker's settings.
fn write_config(st: &State, o: &mut Vec<u8>) {
    let c = &st.cfg;
    // The shipped configuration's file name when there is no WAL: the node
    // reports its setting whether persistence is on or not.
    let wal = c.wal.as_ref().map_or_else(|| "MQDATA".to_string(), |p| p.display().to_string());
    let port = st.local_addr.port().to_string();
    let registry_host = st.member.as_ref().and_then(|m| m.registry().rsplit_once(':')).map_or("127.0.0.1", |(h, _)| h);
    let s = |k: &str, v: &str| {
        (k.to_string(), {
            let mut b = Vec::new();
            go_str(&mut b, v);
            b
        })
    };
    let i = |k: &str, v: i64| (k.to_string(), v.to_string().into_bytes());
    let mut kv: Vec<(String, Vec<u8>)> = vec![
        i("checkSpeed", (c.check_speed_ms / 1000) as i64),
        i("cleanTime", 172800),
        i("gossipPort", 8021),
        i("isClean", 1),
        i("isCleanConsumed", c.clean_consumed as i64),
        i("isCluster", c.join.is_some() as i64),
        i("isPersistent", if c.wal.is_some() { 2 } else { 0 }),
        i("isRePush", 1),
        i("isSlave", 0),
        i("isSync", 0),
        s("masterAddr", "127.0.0.1"),
        s("masterPort", &port),
        s("masterProtocol", "ws"),
        i("messageChanBuffer", 10_000_000),
        s("persistentFile", &wal),
        i("persistentTime", 5),
        i("pushCount", c.push_count as i64),
        i("pushMessagesSpeed", (c.push_speed_ms / 1000) as i64),
        i("pushRetryTime", (c.push_retry_ms / 1000) as i64),
        i("pushType", c.push_mode as i64),
        i("recoveryStrategy", c.wal.is_some() as i64),
        s("registryAddr", registry_host),
        s("registryGossipPort", "8041"),
    ];
    kv.sort_by(|a, b| a.0.cmp(&b.0));
    o.extend_from_slice(br#"{"code":0,"data":{"#);
    for (n, (k, v)) in kv.iter().enumerate() {
        if n > 0 {
            o.push(b',');
        }
        go_str(o, k);
        o.push(b':');
        o.extend_from_slice(v);
    }
    o.extend_from_slice(b"}}");
}
