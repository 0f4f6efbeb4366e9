//! wss://, and https:// for the registry and the console API, end to end
//! against kmq-broker serving TLS with certificates made at test time by
//! tests/tls/make_certs.sh: the one-liner self-signed certificate (RSA and
//! EC), a CA and a leaf signed by it, an expired certificate, one for
//! another name. Every refusal must be one sentence in plain words, with no
//! Rust `Debug` output, and arrive at once.

mod common;

use common::{topic, Broker, ClientConfig};
use kapokmq::console::Console;
use kapokmq::{Config, Consumer, Error, ErrorKind, Producer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The certificates of make_certs.sh in a directory removed on drop.
struct Certs {
    dir: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Certs {
    fn make(name: &str) -> Certs {
        let dir = common::temp_path(name);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/make_certs.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("the TLS tests make their certificates with {}: {e}", script.display()));
        assert!(out.status.success(), "make_certs.sh: {}", String::from_utf8_lossy(&out.stderr));
        Certs { dir }
    }

    /// `name.pem` (the certificate) as a string for a config value.
    fn pem(&self, name: &str) -> String {
        self.dir.join(format!("{name}.pem")).to_string_lossy().into_owned()
    }

    /// A broker serving `name.pem` with `name.key`, plus `extra` flags.
    fn broker(&self, name: &str, extra: &[&str]) -> Broker {
        let key = self.dir.join(format!("{name}.key")).to_string_lossy().into_owned();
        let cert = self.pem(name);
        let mut args = vec!["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
        args.extend_from_slice(extra);
        Broker::start(&args)
    }

    /// The SHA-256 fingerprint of `name.pem` as openssl prints it
    /// (`AB:CD:...`), the form a user copies into `tls_pin_sha256`.
    fn fingerprint(&self, name: &str) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", &self.pem(name)])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim().rsplit('=').next().unwrap().to_string()
    }
}

/// A node serving TLS (wss and the https console) and a registry serving
/// the same certificate.
struct Servers {
    node: Broker,
    registry: Broker,
}

impl Servers {
    fn start(certs: &Certs, name: &str, extra: &[&str]) -> Servers {
        let mut registry_flags = vec!["--registry"];
        registry_flags.extend_from_slice(extra);
        Servers { node: certs.broker(name, extra), registry: certs.broker(name, &registry_flags) }
    }

    fn plain() -> Servers {
        Servers { node: Broker::start(&[]), registry: Broker::start(&["--registry"]) }
    }

    /// A config for this node (wss) and this registry (https) with `settings`.
    fn config(&self, settings: &[(&str, &str)]) -> Config {
        let mut cfg = self.node.config(&topic("tls"));
        cfg.set("mq_protocol", "wss").unwrap();
        cfg.set("registry_addr", "127.0.0.1").unwrap();
        cfg.set("registry_port", &self.registry.port.to_string()).unwrap();
        cfg.set("registry_protocol", "https").unwrap();
        cfg.set("connect_timeout_ms", "4000").unwrap();
        for (k, v) in settings {
            cfg.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
        cfg
    }

    /// Connects over each of the three ways with `settings`: a producer
    /// over wss, the console over https, a cluster producer asking the
    /// registry over https (no node is alive there, so its success is
    /// `NoNodes`). Each failure must come before the time bound.
    fn outcomes(&self, settings: &[(&str, &str)]) -> [(&'static str, Result<(), Error>); 3] {
        let cfg = self.config(settings);
        let timed = |what: &'static str, f: &dyn Fn() -> Result<(), Error>| {
            let started = Instant::now();
            let result = f();
            let took = started.elapsed();
            assert!(took < Duration::from_millis(2500), "{what} took {took:?}: {result:?}");
            (what, result)
        };
        [
            timed("wss", &|| Producer::connect(&cfg).map(drop)),
            timed("https console", &|| Console::new(&cfg)?.ping()),
            timed("https registry", &|| match Producer::connect_cluster(&cfg) {
                Err(e) if e.kind() == ErrorKind::NoNodes => Ok(()),
                other => other.map(drop),
            }),
        ]
    }

    fn assert_accepted(&self, settings: &[(&str, &str)]) {
        for (what, result) in self.outcomes(settings) {
            if let Err(e) = result {
                panic!("{what} with {settings:?} must work: {e}");
            }
        }
    }

    /// Every way is refused with `Connect` and a message holding each of
    /// `words`.
    fn assert_refused(&self, settings: &[(&str, &str)], words: &[&str]) {
        for (what, result) in self.outcomes(settings) {
            let e = result.err().unwrap_or_else(|| panic!("{what} with {settings:?} must be refused"));
            assert_eq!(e.kind(), ErrorKind::Connect, "{what}: {e}");
            assert_plain_words(e.message(), words);
            eprintln!("{what} refused as it should be: {e}");
        }
    }
}

/// A message for users: it holds `words` and none of the marks of Rust's
/// `Debug` output.
fn assert_plain_words(message: &str, words: &[&str]) {
    for word in words {
        assert!(message.contains(word), "{message:?} lacks {word:?}");
    }
    for debug in ["Other(", "Error(", "InvalidCertificate", "CertificateError", "AlertReceived", "Context {", "{ "] {
        assert!(!message.contains(debug), "{message:?} has Rust Debug output {debug:?}");
    }
}

/// Sends three messages over wss and receives them.
fn round_trip(cfg: &Config) {
    let consumer = Consumer::connect(cfg).unwrap_or_else(|e| panic!("consumer over wss: {e}"));
    let producer = Producer::connect(cfg).unwrap_or_else(|e| panic!("producer over wss: {e}"));
    for text in ["one", "twö", "three"] {
        producer.send_wait(text, 0, 5000).unwrap();
        let m = consumer.receive(5000).unwrap();
        assert_eq!(m.data, text);
        consumer.ack(&m.code).unwrap();
    }
}

/// The README's one-liner: the certificate is its own trust anchor.
#[test]
fn the_one_liner_self_signed_certificate_is_trusted_through_tls_ca_file() {
    let certs = Certs::make("tls-self");
    for name in ["self", "self-ec"] {
        let servers = Servers::start(&certs, name, &[]);
        servers.assert_accepted(&[("tls_ca_file", &certs.pem(name))]);
        round_trip(&servers.config(&[("tls_ca_file", &certs.pem(name))]));
        servers.assert_refused(&[], &["self-signed", "CN=127.0.0.1", "not listed in tls_ca_file", "tls_pin_sha256"]);
        // Another certificate in the file is no anchor for this one.
        servers.assert_refused(&[("tls_ca_file", &certs.pem("other"))], &["self-signed", "not listed in tls_ca_file"]);
    }
}

#[test]
fn a_ca_and_its_leaf_work_and_an_unknown_ca_is_named() {
    let certs = Certs::make("tls-ca");
    let servers = Servers::start(&certs, "leaf", &[]);
    servers.assert_accepted(&[("tls_ca_file", &certs.pem("ca"))]);
    round_trip(&servers.config(&[("tls_ca_file", &certs.pem("ca"))]));
    servers.assert_refused(&[], &["is not signed by a CA in tls_ca_file (not set)", "set tls_ca_file"]);
    let other = Certs::make("tls-ca-other");
    servers
        .assert_refused(&[("tls_ca_file", &other.pem("ca"))], &["is not signed by a CA in tls_ca_file (", "ca.pem)"]);
}

#[test]
fn an_expired_certificate_is_refused_with_its_date() {
    let certs = Certs::make("tls-expired");
    let servers = Servers::start(&certs, "expired", &[]);
    let words = ["expired on 2020-02-01 00:00:00 UTC", "renew it"];
    servers.assert_refused(&[("tls_ca_file", &certs.pem("expired"))], &words);
    // Pinned, it is still checked for its dates.
    servers.assert_refused(&[("tls_pin_sha256", &certs.fingerprint("expired"))], &words);
}

#[test]
fn a_name_mismatch_names_the_host_and_the_certificate_names() {
    let certs = Certs::make("tls-name");
    let servers = Servers::start(&certs, "other", &[]);
    let words = ["is for example.com, not for 127.0.0.1"];
    servers.assert_refused(&[("tls_ca_file", &certs.pem("other"))], &words);
    servers.assert_refused(&[("tls_pin_sha256", &certs.fingerprint("other"))], &words);

    // Through a CA, on an address the leaf does not name.
    let leaf = certs.broker("leaf", &["--host", "127.0.0.2"]);
    let mut cfg = leaf.config(&topic("tls-name"));
    for (k, v) in [("mq_addr", "127.0.0.2"), ("mq_protocol", "wss"), ("tls_ca_file", &certs.pem("ca"))] {
        cfg.set(k, v).unwrap();
    }
    let e = Producer::connect(&cfg).err().expect("a name mismatch must be refused");
    assert_plain_words(e.message(), &["is for 127.0.0.1, localhost, not for 127.0.0.2"]);
}

#[test]
fn pins_accept_only_the_pinned_certificate() {
    let certs = Certs::make("tls-pin");
    let servers = Servers::start(&certs, "self", &[]);
    let pin = certs.fingerprint("self");
    let other = certs.fingerprint("other");
    servers.assert_accepted(&[("tls_pin_sha256", &pin)]);
    servers.assert_accepted(&[("tls_pin_sha256", &format!("{other}, {pin}"))]);
    round_trip(&servers.config(&[("tls_pin_sha256", &pin)]));
    // A pin refuses even a certificate tls_ca_file would trust.
    let refused = ["matches no value of tls_pin_sha256"];
    servers.assert_refused(&[("tls_pin_sha256", &other), ("tls_ca_file", &certs.pem("self"))], &refused);
    // tls_verify=false keeps the pin.
    servers.assert_refused(&[("tls_pin_sha256", &other), ("tls_verify", "false")], &refused);

    let mut cfg = Config::new();
    let e = cfg.set("tls_pin_sha256", "AB:CD").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_plain_words(e.message(), &["tls_pin_sha256", "SHA-256"]);
}

#[test]
fn tls_verify_false_accepts_an_unknown_certificate() {
    let certs = Certs::make("tls-noverify");
    let servers = Servers::start(&certs, "leaf", &[]);
    servers.assert_accepted(&[("tls_verify", "false")]);
    round_trip(&servers.config(&[("tls_verify", "false")]));
}

#[test]
fn a_server_that_requires_a_client_certificate_says_so() {
    let certs = Certs::make("tls-mtls");
    let ca = certs.pem("ca");
    let servers = Servers::start(&certs, "leaf", &["--tls-client-ca", &ca]);
    servers.assert_refused(&[("tls_ca_file", &ca)], &["requires a client certificate"]);
}

/// A plain-text server on the port a TLS client dials: kmq-broker answers
/// the TLS hello with HTTP 400, like Go's HTTP server; a bare TCP server
/// closes. Both are reported at once (`outcomes` bounds the time).
#[test]
fn a_plain_text_server_on_a_tls_port_is_reported_at_once() {
    let servers = Servers::plain();
    for (what, result) in servers.outcomes(&[]) {
        let e = result.err().unwrap_or_else(|| panic!("{what}: TLS to a plain port must fail"));
        assert_plain_words(e.message(), &["did not answer in TLS"]);
        let hint = if what == "https registry" { "registry_protocol=http" } else { "mq_protocol=ws" };
        assert_plain_words(e.message(), &[hint]);
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closer = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let _ = std::io::Read::read(&mut sock, &mut [0u8; 16384]);
    });
    let mut cfg = Config::new();
    for (k, v) in [("mq_port", port.to_string().as_str()), ("mq_protocol", "wss"), ("topic", "t"), ("producer_id", "p")]
    {
        cfg.set(k, v).unwrap();
    }
    let started = Instant::now();
    let e = Producer::connect(&cfg).err().expect("a server that closes must fail");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_plain_words(e.message(), &["closed the connection during the TLS handshake", "mq_protocol=ws"]);
    closer.join().unwrap();
}

#[test]
fn plain_ws_to_a_tls_broker_fails_quickly() {
    let certs = Certs::make("tls-plain");
    let broker = certs.broker("self", &[]);
    let mut cfg = broker.config(&topic("plain"));
    cfg.set("connect_timeout_ms", "2000").unwrap();
    let started = Instant::now();
    let e = Producer::connect(&cfg).err().expect("plain text to a TLS port must fail");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
}

/// The README's TLS setup, run as written: its openssl one-liner, the
/// broker's flags, and `tls_ca_file=cert.pem`.
#[test]
fn the_readme_tls_setup_works_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("\n## TLS\n").expect("README has a TLS section")..];
    let one_liner = section.lines().find(|l| l.starts_with("openssl req -x509")).expect("the one-liner");
    let broker_line = section.lines().find(|l| l.contains("kmq-broker")).expect("the broker command");
    assert!(broker_line.ends_with("--tls-cert cert.pem --tls-key key.pem"), "{broker_line}");
    assert!(section.contains(r#""tls_ca_file", "cert.pem""#));

    let dir = common::temp_path("tls-readme");
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("bash").arg("-c").arg(one_liner).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{one_liner}: {}", String::from_utf8_lossy(&out.stderr));
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let broker = Broker::start(&["--tls-cert", &cert.to_string_lossy(), "--tls-key", &key.to_string_lossy()]);
    let mut cfg = broker.config(&topic("readme"));
    cfg.set("mq_protocol", "wss").unwrap();
    cfg.set("tls_ca_file", &cert.to_string_lossy()).unwrap();
    round_trip(&cfg);

    // The CLI line, on this broker's port.
    let cli_line = section.lines().find(|l| l.starts_with("target/release/kmq ")).expect("the CLI line");
    let release = common::release_dir().join("");
    let cli_line = cli_line.split('#').next().unwrap().replace("8443", &broker.port.to_string());
    let cli_line = cli_line.replace("target/release/", &release.to_string_lossy());
    let out = Command::new("bash").arg("-c").arg(&cli_line).current_dir(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("unconsumed"),
        "{cli_line}: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tls_ca_file_that_cannot_be_used_is_an_invalid_argument() {
    let dir = common::temp_path("tls-badfile");
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no PEM here\n").unwrap();
    let missing = dir.join("missing.pem");
    for (file, words) in [
        (&garbage, "is not a valid X.509 certificate"),
        (&empty, "holds no PEM certificate"),
        (&missing, "missing.pem"),
    ] {
        let mut cfg = Config::new();
        for (k, v) in
            [("mq_protocol", "wss"), ("topic", "t"), ("producer_id", "p"), ("tls_ca_file", &file.to_string_lossy())]
        {
            cfg.set(k, v).unwrap();
        }
        let e = Producer::connect(&cfg).err().expect("a bad tls_ca_file must be refused");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert_plain_words(e.message(), &["tls_ca_file", words]);
        eprintln!("refused as it should be: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
