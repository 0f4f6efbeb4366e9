//! wss:// and https:// end to end: a kmq-broker serving TLS with a
//! certificate made at test time (a throwaway CA and a server certificate
//! for 127.0.0.1 signed by it, made with the openssl command), and clients
//! that trust the CA through `tls_ca_file`, trust nothing extra, or turn
//! checks off with `tls_verify=false`.

mod common;

use common::{topic, Broker};
use kapokmq::{Config, Consumer, ErrorKind, Producer};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA, and a server certificate and key for 127.0.0.1 signed by it.
struct Certs {
    dir: PathBuf,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the TLS tests make their certificates with the openssl command: {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn make_certs(name: &str) -> Certs {
    let dir = common::temp_path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=kapokmq test CA", "-keyout", "ca.key", "-out", "ca.pem"];
    ca.extend(ec);
    openssl(&dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "server.csr"];
    csr.extend(ec);
    openssl(&dir, &csr);
    // A server certificate, not a CA: webpki refuses a CA certificate as
    // the server's own, and checks the address against subjectAltName.
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509", "-req", "-days", "2", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-extfile", "server.ext", "-out", "cert.pem",
        ],
    );
    Certs { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem"), dir }
}

fn tls_broker(certs: &Certs, extra: &[&str]) -> Broker {
    let (cert, key) = (certs.cert.to_string_lossy(), certs.key.to_string_lossy());
    let mut args = vec!["--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    Broker::start(&args)
}

fn wss_config(broker: &Broker, name: &str, settings: &[(&str, &str)]) -> Config {
    let mut cfg = broker.config(&topic(name));
    cfg.set("mq_protocol", "wss").unwrap();
    cfg.set("connect_timeout_ms", "3000").unwrap();
    for (k, v) in settings {
        cfg.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    cfg
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

fn assert_certificate_refused(e: &kapokmq::Error) {
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.message().to_lowercase().contains("certificate"), "the error must say why: {e}");
    eprintln!("refused as it should be: {e}");
}

#[test]
fn wss_with_the_ca_file_works_end_to_end() {
    let certs = make_certs("tls-ca");
    let broker = tls_broker(&certs, &[]);
    round_trip(&wss_config(&broker, "wss-ca", &[("tls_ca_file", &certs.ca.to_string_lossy())]));
}

#[test]
fn wss_without_the_ca_is_refused_naming_the_certificate() {
    let certs = make_certs("tls-noca");
    let broker = tls_broker(&certs, &[]);
    let cfg = wss_config(&broker, "wss-noca", &[]);
    assert_certificate_refused(&Producer::connect(&cfg).err().expect("an unknown CA must be refused"));
    assert_certificate_refused(&Consumer::connect(&cfg).err().expect("an unknown CA must be refused"));

    // Another CA than the one that signed the server's certificate.
    let other = make_certs("tls-other");
    let cfg = wss_config(&broker, "wss-other", &[("tls_ca_file", &other.ca.to_string_lossy())]);
    assert_certificate_refused(&Producer::connect(&cfg).err().expect("a certificate of another CA must be refused"));
}

#[test]
fn tls_verify_false_accepts_the_unknown_certificate() {
    let certs = make_certs("tls-noverify");
    let broker = tls_broker(&certs, &[]);
    round_trip(&wss_config(&broker, "wss-noverify", &[("tls_verify", "false")]));
}

#[test]
fn plain_ws_to_a_tls_broker_fails_quickly() {
    let certs = make_certs("tls-plain");
    let broker = tls_broker(&certs, &[]);
    let mut cfg = broker.config(&topic("plain"));
    cfg.set("connect_timeout_ms", "2000").unwrap();
    let started = std::time::Instant::now();
    let e = Producer::connect(&cfg).err().expect("plain text to a TLS port must fail");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(started.elapsed() < std::time::Duration::from_millis(2500), "{:?}", started.elapsed());
}

/// A registry behind https: with the CA the client gets its answer (no
/// node is alive, so `NoNodes`); without it the certificate is refused.
#[test]
fn https_registry_is_trusted_through_the_ca_file() {
    let certs = make_certs("tls-registry");
    let registry = tls_broker(&certs, &["--registry"]);
    let config = |settings: &[(&str, &str)]| {
        let mut c = Config::new();
        c.set("registry_addr", "127.0.0.1").unwrap();
        c.set("registry_port", &registry.port.to_string()).unwrap();
        c.set("registry_protocol", "https").unwrap();
        c.set("topic", "t").unwrap();
        c.set("producer_id", "p1").unwrap();
        for (k, v) in settings {
            c.set(k, v).unwrap();
        }
        c
    };
    let e = Producer::connect_cluster(&config(&[("tls_ca_file", &certs.ca.to_string_lossy())]))
        .err()
        .expect("no node is alive");
    assert_eq!(e.kind(), ErrorKind::NoNodes, "{e}");
    let e = Producer::connect_cluster(&config(&[])).err().expect("an unknown CA must be refused");
    assert_certificate_refused(&e);
}
