"""TLS as a Python user meets it: the one-liner self-signed certificate in
``tls_ca_file`` works, and each refusal is a ``ConnectError`` at once whose
text is one sentence in plain words (no Rust ``Debug`` output), for
producers over wss, the console over https and cluster producers asking a
registry over https. Certificates come from tests/tls/make_certs.sh."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

import kapokmq

from conftest import REPO, Broker

DEBUG_MARKS = ("Other(", "Error(", "InvalidCertificate", "AlertReceived", "{ ")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", str(REPO / "tests" / "tls" / "make_certs.sh"), str(out)], check=True)
    return out


def serve(start_broker: Callable[..., Broker], certs: Path, name: str, *extra: str) -> Dict[str, Broker]:
    """A node (wss and the https console) and a registry serving ``name``."""
    tls = ("--tls-cert", str(certs / f"{name}.pem"), "--tls-key", str(certs / f"{name}.key"), *extra)
    return {"node": start_broker(*tls), "registry": start_broker(*tls, "--registry")}


def each_way(servers: Dict[str, Broker], topic: str, **settings: Any) -> Iterator[Callable[[], None]]:
    """Connecting a producer over wss, pinging the console over https, and
    asking the registry over https (no node joined it: NoNodesError is its
    success)."""
    node, registry = servers["node"], servers["registry"]
    common = dict(connect_timeout_ms=4000, **settings)

    def wss() -> None:
        kapokmq.Producer(producer_id="p", mq_protocol="wss", **node.config(topic), **common).close()

    def console() -> None:
        with kapokmq.Console(mq_addr=node.host, mq_port=node.port, mq_protocol="wss", **common) as c:
            c.ping()

    def registry_nodes() -> None:
        try:
            kapokmq.ClusterProducer(
                topic=topic, producer_id="p", registry_addr=registry.host, registry_port=registry.port,
                registry_protocol="https", **common,
            ).close()
        except kapokmq.NoNodesError:
            pass

    return iter((wss, console, registry_nodes))


def assert_refused(servers: Dict[str, Broker], topic: str, words: str, **settings: Any) -> None:
    for connect in each_way(servers, topic, **settings):
        started = time.monotonic()
        with pytest.raises(kapokmq.ConnectError) as info:
            connect()
        assert time.monotonic() - started < 2.5, f"{connect.__name__}: {info.value}"
        text = str(info.value)
        assert words in text, f"{connect.__name__}: {text!r} lacks {words!r}"
        for mark in DEBUG_MARKS:
            assert mark not in text, f"{connect.__name__}: {text!r} has Rust Debug output"


def test_one_liner_certificate_in_tls_ca_file(start_broker, certs, topic) -> None:
    for name in ("self", "self-ec"):
        servers = serve(start_broker, certs, name)
        for connect in each_way(servers, topic, tls_ca_file=str(certs / f"{name}.pem")):
            connect()
        assert_refused(servers, topic, "is self-signed (CN=127.0.0.1")
        assert_refused(servers, topic, "not listed in tls_ca_file", tls_ca_file=str(certs / "other.pem"))


def test_each_refusal_in_plain_words(start_broker, certs, topic) -> None:
    assert_refused(serve(start_broker, certs, "leaf"), topic, "is not signed by a CA in tls_ca_file")
    assert_refused(serve(start_broker, certs, "expired"), topic, "expired on 2020-02-01 00:00:00 UTC",
                   tls_ca_file=str(certs / "expired.pem"))
    assert_refused(serve(start_broker, certs, "other"), topic, "is for example.com, not for 127.0.0.1",
                   tls_ca_file=str(certs / "other.pem"))
    ca = str(certs / "ca.pem")
    assert_refused(serve(start_broker, certs, "leaf", "--tls-client-ca", ca), topic,
                   "requires a client certificate", tls_ca_file=ca)
    plain = {"node": start_broker(), "registry": start_broker("--registry")}
    assert_refused(plain, topic, "did not answer in TLS")


def test_pins(start_broker, certs, topic) -> None:
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(certs / "self.pem")],
                         check=True, capture_output=True, text=True).stdout
    pin = out.strip().rsplit("=", 1)[1]
    servers = serve(start_broker, certs, "self")
    for connect in each_way(servers, topic, tls_pin_sha256=pin):
        connect()
    assert_refused(servers, topic, "matches no value of tls_pin_sha256", tls_pin_sha256="ab" * 32)
    with pytest.raises(kapokmq.InvalidArgumentError, match="tls_pin_sha256"):
        kapokmq.Producer(topic=topic, producer_id="p", tls_pin_sha256="not a pin")
