//! kmq-broker: a development broker that a client cannot tell from a KapokMQ node.
//! It speaks the node's wire protocol as the library reads it (src/wire.rs)
//! and as tests/real/ recorded the real node answering.

mod conn;
mod http;
mod json;
mod member;
mod push;
mod registry;
mod store;
mod tls;
mod util;
mod ws;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub struct Config {
    pub host: String,
    pub port: u16,
    pub secret_key: String,
    pub push_mode: u8,
    pub push_count: u64,
    pub push_speed_ms: u64,
    pub check_speed_ms: u64,
    pub push_retry_ms: u64,
    pub clean_consumed: bool,
    pub wal: Option<PathBuf>,
    pub drop_after: Option<u64>,
    pub stall_acks: bool,
    pub ack_delay_ms: u64,
    pub garbage_push_every: u64,
    pub silent: bool,
    /// Serve the Serena registry instead of a queue.
    pub registry: bool,
    pub node_ttl_ms: u64,
    /// `HOST:PORT` of the registry this node announces itself to.
    pub join: Option<String>,
    pub heartbeat_ms: u64,
    /// PEM certificate chain and key: serve https:// and wss:// instead of plain text.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: clients must present a certificate signed by one.
    pub tls_client_ca: Option<PathBuf>,
}

pub struct State {
    pub cfg: Config,
    pub store: store::Store,
    pub clients: push::Clients,
    pub push_tx: mpsc::UnboundedSender<Vec<store::PushItem>>,
    pub local_addr: SocketAddr,
    /// Registry mode: the node table (and no queue endpoints).
    pub registry: Option<registry::Registry>,
    /// Node mode with `--join`.
    pub member: Option<member::Member>,
}

const HELP: &str = "\
kmq-broker: a development KapokMQ node (same wire protocol, quirks included)

Usage: kmq-broker [OPTIONS]

Options:
  --host H                 address to listen on (default 127.0.0.1)
  --port N                 port to listen on; 0 picks a free port (default 8011, 8031 with --registry)
  --secret-key K           secret key for sockets and the HTTP API (default test)
  --push-mode 1|2          1: each message to one consumer, 2: to every consumer (default 1)
  --push-count N           messages pushed before each throttle pause (default 1000)
  --push-speed-ms MS       throttle pause; 0 disables the throttle (default 1000)
  --check-speed-ms MS      period of the delayed/retry check (default 5000)
  --push-retry-ms MS       re-push unconsumed messages after this long, their age counted in
                           whole seconds as the node counts it (default 300000)
  --clean-consumed         delete messages as soon as they are acked
  --wal PATH               append-only log of messages and acks, replayed at start
  --join HOST:PORT         announce this node to the registry at HOST:PORT (POST /Registry/Join)
                           and answer /Console/GetNodes with the registry's list
  --heartbeat-ms MS        period of those announcements (default 500)
  --tls-cert PEM           certificate chain (leaf first); with --tls-key, every connection is
                           TLS: https:// for the HTTP API and the registry, wss:// for sockets
  --tls-key PEM            private key of that certificate (PKCS#8, PKCS#1 or SEC1)
  --tls-client-ca PEM      require client certificates signed by a CA of this file (mutual TLS)
Registry mode (Serena):
  --registry               serve POST /Registry/GetNodes (and /Registry/Join) instead of a queue
  --node-ttl-ms MS         a node that has not announced itself for this long leaves the list
                           (default 5000)
Test switches:
  --drop-after N           drop a producer connection (no close frame) at its N-th message frame,
                           which is neither stored nor acked
  --stall-acks             store producer messages but never send \"ok\"
  --ack-delay-ms MS        delay each \"ok\" by MS
  --garbage-push-every N   send the non-JSON text frame \"garbage\" before every N-th push to a consumer
  --silent                 complete the WebSocket upgrade, then never say anything
  -h, --help               print this help

When ready it prints one line to stdout: `kmq-broker listening on ADDR:PORT`.
";

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        host: "127.0.0.1".into(),
        port: 8011,
        secret_key: "test".into(),
        push_mode: 1,
        push_count: 1000,
        push_speed_ms: 1000,
        check_speed_ms: 5000,
        push_retry_ms: 300_000,
        clean_consumed: false,
        wal: None,
        drop_after: None,
        stall_acks: false,
        ack_delay_ms: 0,
        garbage_push_every: 0,
        silent: false,
        registry: false,
        node_ttl_ms: 5000,
        join: None,
        heartbeat_ms: 500,
        tls_cert: None,
        tls_key: None,
        tls_client_ca: None,
    };
    let mut port = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let flag = |v: &Option<String>| -> Result<(), String> {
            match v {
                Some(_) => Err(format!("{name} takes no value")),
                None => Ok(()),
            }
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => args.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse::<T>().map_err(|_| format!("{name}: {v:?} is not a valid number"))
        }
        match name.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            "--host" => c.host = value()?,
            "--port" => port = Some(num(&name, value()?)?),
            "--secret-key" => c.secret_key = value()?,
            "--push-mode" => {
                c.push_mode = num(&name, value()?)?;
                if c.push_mode != 1 && c.push_mode != 2 {
                    return Err("--push-mode must be 1 or 2".into());
                }
            }
            "--push-count" => c.push_count = num(&name, value()?)?,
            "--push-speed-ms" => c.push_speed_ms = num(&name, value()?)?,
            "--check-speed-ms" => c.check_speed_ms = num(&name, value()?)?,
            "--push-retry-ms" => c.push_retry_ms = num(&name, value()?)?,
            "--clean-consumed" => {
                flag(&inline)?;
                c.clean_consumed = true
            }
            "--wal" => c.wal = Some(PathBuf::from(value()?)),
            "--drop-after" => {
                let n: u64 = num(&name, value()?)?;
                if n == 0 {
                    return Err("--drop-after must be at least 1".into());
                }
                c.drop_after = Some(n)
            }
            "--stall-acks" => {
                flag(&inline)?;
                c.stall_acks = true
            }
            "--ack-delay-ms" => c.ack_delay_ms = num(&name, value()?)?,
            "--garbage-push-every" => c.garbage_push_every = num(&name, value()?)?,
            "--silent" => {
                flag(&inline)?;
                c.silent = true
            }
            "--registry" => {
                flag(&inline)?;
                c.registry = true
            }
            "--node-ttl-ms" => c.node_ttl_ms = num(&name, value()?)?,
            "--join" => {
                let v = value()?;
                match v.rsplit_once(':') {
                    Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p != 0) => {}
                    _ => return Err(format!("--join: {v:?} is not HOST:PORT")),
                }
                c.join = Some(v)
            }
            "--heartbeat-ms" => c.heartbeat_ms = num(&name, value()?)?,
            "--tls-cert" => c.tls_cert = Some(PathBuf::from(value()?)),
            "--tls-key" => c.tls_key = Some(PathBuf::from(value()?)),
            "--tls-client-ca" => c.tls_client_ca = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {a:?} (see --help)")),
        }
    }
    if c.tls_cert.is_some() != c.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if c.tls_client_ca.is_some() && c.tls_cert.is_none() {
        return Err("--tls-client-ca needs --tls-cert and --tls-key".into());
    }
    if c.registry && c.join.is_some() {
        return Err("--join is for MQ nodes, not for --registry".into());
    }
    // Serena's default port differs from a node's.
    c.port = port.unwrap_or(if c.registry { 8031 } else { 8011 });
    Ok(c)
}

fn main() {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kmq-broker: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("kmq-broker").build().unwrap_or_else(
        |e| {
            eprintln!("kmq-broker: cannot start the runtime: {e}");
            std::process::exit(1);
        },
    );
    rt.block_on(run(cfg));
}

async fn run(cfg: Config) {
    let store = match store::Store::open(cfg.wal.as_deref(), cfg.clean_consumed, cfg.push_retry_ms as i64) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmq-broker: cannot open the WAL: {e}");
            std::process::exit(1);
        }
    };
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => match tls::acceptor(cert, key, cfg.tls_client_ca.as_deref()) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("kmq-broker: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    let listener = match tokio::net::TcpListener::bind((cfg.host.as_str(), cfg.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kmq-broker: cannot listen on {}:{}: {e}", cfg.host, cfg.port);
            std::process::exit(1);
        }
    };
    let local_addr = listener.local_addr().expect("bound socket has an address");
    let (push_tx, push_rx) = mpsc::unbounded_channel();
    let registry = cfg.registry.then(|| registry::Registry::new(Duration::from_millis(cfg.node_ttl_ms)));
    let member = cfg.join.clone().map(|r| member::Member::new(r, cfg.secret_key.clone(), local_addr));
    let st = Arc::new(State { cfg, store, clients: push::Clients::default(), push_tx, local_addr, registry, member });

    if st.registry.is_none() {
        tokio::spawn(push::push_loop(st.clone(), push_rx));
        tokio::spawn(push::check_loop(st.clone()));
    }
    if let Some(m) = &st.member {
        // Listed before the ready line, so whoever waits for that line finds the node listed.
        m.heartbeat().await;
        tokio::spawn(member::heartbeat_loop(st.clone()));
    }
    tokio::spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        std::process::exit(0);
    });

    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "kmq-broker listening on {local_addr}");
        let _ = out.flush();
    }

    loop {
        match listener.accept().await {
            Ok((sock, peer)) => {
                let _ = sock.set_nodelay(true);
                let st = st.clone();
                match &tls {
                    None => {
                        tokio::spawn(http::serve(tls::Sock::Plain(sock), peer, st));
                    }
                    Some(acceptor) => {
                        // The handshake runs in the connection's own task, so a slow or
                        // broken client never holds up the accept loop.
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            match tls::accept(&acceptor, sock).await {
                                Ok(sock) => http::serve(sock, peer, st).await,
                                Err(e) => eprintln!("kmq-broker: TLS handshake with {peer}: {e}"),
                            }
                        });
                    }
                }
            }
            Err(e) => {
                eprintln!("kmq-broker: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
