#!/usr/bin/env python3
"""Records the real KapokMQ node and Serena registry on the wire.

Starts the real binaries (KMQ_REAL_NODE, KMQ_REAL_SERENA) in temporary
directories on free ports, runs a fixed script of WebSocket and HTTP
exchanges against them with raw sockets (so every frame's opcode and exact
bytes are kept, invalid UTF-8 included) and writes the transcript to
tests/recorded/*.json. tests/recorded.rs replays those transcripts through
the library's parsers and against kmq-broker.

Transcript format (one JSON object per file):
  {"node_config": {...}, "ports": {"name": port}, "steps": [step, ...]}
A step is one of
  {"op": "open", "conn": C, "path": P, "answer": [..]} WebSocket upgrade (the 101 head)
  {"op": "send", "conn": C, "opcode": N, "payload": B} client frame
  {"op": "recv", "conn": C, "opcode": N, "payload": B} server frame
  {"op": "eof",  "conn": C}                            server closed TCP, no close frame
  {"op": "close","conn": C}                            client closed its socket
  {"op": "http", "request": {...}, "response": {...}}  one HTTP exchange
  {"op": "sleep", "ms": N}
  {"op": "quiet", "conn": C, "ms": N}                  no frame from the server for N ms
B (a payload) is a list of pieces, concatenated: {"t": text}, {"b64": bytes},
{"rep": char, "n": count} (a run of one character), {"code_of": step index}
(the first 32-hex-digit message code found in that earlier step's server
payload or HTTP body).
"""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

CODE_RE = re.compile(rb"[0-9a-f]{32}")


# ---------------------------------------------------------------- payloads

def pieces(data: bytes):
    """Encodes bytes as payload pieces: long runs of one byte compressed,
    valid UTF-8 as text, the rest as base64."""
    out = []
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= 64 and data[i] < 0x80:
            out.append({"rep": chr(data[i]), "n": j - i})
            i = j
            continue
        # up to the next long run
        k = i + 1
        while k < len(data):
            if k + 64 <= len(data) and data[k:k + 64] == bytes([data[k]]) * 64 and data[k] < 0x80:
                break
            k += 1
        chunk = data[i:k]
        try:
            out.append({"t": chunk.decode("utf-8")})
        except UnicodeDecodeError:
            out.append({"b64": base64.b64encode(chunk).decode()})
        i = k
    return out or [{"t": ""}]


def expand(payload, steps):
    out = b""
    for p in payload:
        if "t" in p:
            out += p["t"].encode()
        elif "b64" in p:
            out += base64.b64decode(p["b64"])
        elif "rep" in p:
            out += p["rep"].encode() * p["n"]
        elif "code_of" in p:
            out += code_in(steps[p["code_of"]])
    return out


def code_in(step):
    if step["op"] == "http":
        body = expand(step["response"]["body"], [])
    else:
        body = expand(step["payload"], [])
    m = CODE_RE.search(body)
    if not m:
        raise SystemExit(f"no message code in step {step}")
    return m.group(0)


# ---------------------------------------------------------------- WebSocket

class WS:
    def __init__(self, port, path, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        # RFC 6455's sample key: the answer's Sec-WebSocket-Accept is fixed.
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise IOError(f"upgrade of {path}: connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise IOError(f"upgrade of {path} refused: {head!r}")
        self.head = head.decode("latin-1").split("\r\n")

    def send(self, opcode, data: bytes):
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = bytes([0x80 | opcode, 0x80 | n])
        elif n < 65536:
            hdr = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            hdr = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(hdr + mask + masked)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def frame(self):
        """One frame as (fin, opcode, payload), or None at end of stream."""
        if not self._need(2):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            if not self._need(4):
                return None
            n = int.from_bytes(self.buf[2:4], "big")
            off = 4
        elif n == 127:
            if not self._need(10):
                return None
            n = int.from_bytes(self.buf[2:10], "big")
            off = 10
        if not self._need(off + n):
            return None
        data = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x80 != 0, b0 & 0x0F, data

    def recv(self):
        """One whole message as (opcode, payload, fragment sizes), or None at
        end of stream. Large messages arrive as a first frame plus
        continuation frames: the sizes say how the node cut them."""
        got = self.frame()
        if got is None:
            return None
        fin, opcode, data = got
        sizes = [len(data)]
        while not fin:
            got = self.frame()
            if got is None:
                return None
            fin, cont, more = got
            if cont != 0:
                raise IOError(f"opcode {cont} inside a fragmented message")
            data += more
            sizes.append(len(more))
        return opcode, data, sizes

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- HTTP

def http(port, method, path, headers, body: bytes):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    for k, v in headers:
        req += f"{k}: {v}\r\n"
    req += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    s.sendall(req.encode() + body)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding") == "chunked":
        body_out = b""
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            body_out += rest[:n]
            rest = rest[n + 2:]
        rest = body_out
    return lines[0], hdrs, rest


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def yaml(d, indent=0):
    out = ""
    for k, v in d.items():
        if isinstance(v, dict):
            out += " " * indent + f"{k}:\n" + yaml(v, indent + 2)
        else:
            out += " " * indent + f"{k}: {v}\n"
    return out


def wait_port(port, proc, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port}")


class Proc:
    """A real binary run in its own directory with its own application.yaml."""

    def __init__(self, binary, config, port, what):
        self.dir = tempfile.mkdtemp(prefix="kmq-real-")
        with open(os.path.join(self.dir, "application.yaml"), "w") as f:
            f.write(yaml(config))
        # The node's router loads view/index.html at start and exits without it.
        os.makedirs(os.path.join(self.dir, "view"))
        with open(os.path.join(self.dir, "view", "index.html"), "w") as f:
            f.write("<html></html>\n")
        self.log = open(os.path.join(self.dir, "out.log"), "w")
        self.proc = subprocess.Popen([binary], cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(port, self.proc, what)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def node_config(port, gossip, cluster=None, **mq):
    cfg = {
        "server": {"addr": "127.0.0.1", "port": port},
        "mq": {"secretKey": "test", "pushType": 1, "messageChanBuffer": 10000000,
               "pushMessagesSpeed": 1, "pushCount": 1000, "pushRetryTime": 300,
               "persistentFile": "MQDATA", "isPersistent": 0, "recoveryStrategy": 0,
               "persistentTime": 5, "isCleanConsumed": 0, "isRePush": 1, "isClean": 1,
               "checkSpeed": 1, "cleanTime": 172800},
        "cluster": {"isCluster": 0, "gossipPort": gossip, "registryAddr": "127.0.0.1",
                    "registryGossipPort": 0},
        "sync": {"isSync": 0, "isSlave": 0, "masterProtocol": "ws", "masterAddr": "127.0.0.1",
                 "masterPort": port},
    }
    cfg["mq"].update(mq)
    if cluster:
        cfg["cluster"].update(cluster)
    return cfg


# ---------------------------------------------------------------- recording

class Recorder:
    def __init__(self, ports):
        self.ports = ports
        self.steps = []
        self.conns = {}

    def add(self, step):
        self.steps.append(step)
        return len(self.steps) - 1

    def open(self, conn, path, port="node"):
        ws = self.conns[conn] = WS(self.ports[port], path)
        # The upgrade answer: status line and headers, in the node's order.
        self.add({"op": "open", "conn": conn, "path": path, "port": port, "answer": ws.head})

    def send(self, conn, data, opcode=1):
        if isinstance(data, str):
            data = data.encode()
        self.conns[conn].send(opcode, data)
        return self.add({"op": "send", "conn": conn, "opcode": opcode, "payload": pieces(data)})

    def send_code_of(self, conn, step):
        """Acks the message code found in an earlier step."""
        data = code_in(self.steps[step])
        self.conns[conn].send(1, data)
        return self.add({"op": "send", "conn": conn, "opcode": 1, "payload": [{"code_of": step}]})

    def recv(self, conn):
        got = self.conns[conn].recv()
        if got is None:
            return self.add({"op": "eof", "conn": conn})
        opcode, data, sizes = got
        step = {"op": "recv", "conn": conn, "opcode": opcode, "payload": pieces(data)}
        if len(sizes) > 1:
            step["fragments"] = sizes
        return self.add(step)

    def quiet(self, conn, ms):
        """Expects no frame for `ms`; records the frame instead if one comes."""
        ws = self.conns[conn]
        ws.sock.settimeout(ms / 1000)
        try:
            ws._need(1)
        except socket.timeout:
            pass
        ws.sock.settimeout(10.0)
        if ws.buf:
            return self.recv(conn)
        return self.add({"op": "quiet", "conn": conn, "ms": ms})

    def close(self, conn):
        self.conns.pop(conn).close()
        self.add({"op": "close", "conn": conn})

    def sleep(self, ms):
        time.sleep(ms / 1000)
        self.add({"op": "sleep", "ms": ms})

    def handshake(self, conn, path, wrong_key=None):
        """Opens `conn` and authenticates, after trying `wrong_key` first
        (the node then says "error" and prompts again)."""
        self.open(conn, path)
        self.recv(conn)
        if wrong_key is not None:
            self.send(conn, wrong_key)
            self.recv(conn)
            self.recv(conn)
        self.send(conn, "test")
        self.recv(conn)

    def http(self, path, fields=None, key="test", port="node", code_of=None, method="POST", upgrade=False):
        headers = []
        if key is not None:
            headers.append(("secretKey", key))
        body = b""
        body_pieces = []
        if fields is not None:
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            for i, (k, v) in enumerate(fields):
                sep = "&" if i else ""
                if v is None:  # the message code of an earlier step
                    body += f"{sep}{k}=".encode() + code_in(self.steps[code_of])
                    body_pieces += [{"t": f"{sep}{k}="}, {"code_of": code_of}]
                else:
                    enc = urlencode(v)
                    body += f"{sep}{k}={enc}".encode()
                    body_pieces.append({"t": f"{sep}{k}={enc}"})
        if upgrade:
            headers += [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
        status, hdrs, rbody = http(self.ports[port], method, path, headers, body)
        return self.add({"op": "http", "port": port,
                         "request": {"method": method, "path": path,
                                     "headers": [[k, v] for k, v in headers],
                                     "body": body_pieces or [{"t": ""}]},
                         "response": {"status_line": status, "headers": hdrs, "body": pieces(rbody)}})

    def write(self, path, config):
        with open(path, "w") as f:
            json.dump({"recorded_with": "real KapokMQ node and Serena", "node_config": config,
                       "ports": self.ports, "steps": self.steps}, f, indent=1, ensure_ascii=False)
            f.write("\n")


def urlencode(v):
    out = ""
    for b in v.encode():
        c = chr(b)
        out += c if c.isalnum() and b < 0x80 or c in "-._~" else f"%{b:02X}"
    return out


def record_standalone(node_bin, out_dir, name, script, **mq):
    """Runs `script` against one node outside a cluster, started with the
    `mq` settings, and writes its transcript to `name`."""
    port, gossip = free_port(), free_port()
    cfg = node_config(port, gossip, **mq)
    node = Proc(node_bin, cfg, port, "kapokmq")
    try:
        r = Recorder({"node": port})
        script(r)
        r.write(os.path.join(out_dir, name), cfg)
    finally:
        node.stop()


def script_node(r):
    """Sockets and the console of one standalone node."""
    # Nothing connected yet.
    r.http("/Console/GetClients")
    r.http("/Console/CountMessage")

    # Producer: wrong key, what follows, then the right key and sends.
    r.handshake("p", "/Producers/Conn/rec_topic/P1", wrong_key="qqq")
    # Consumer on the topic before anything is sent.
    r.handshake("c", "/Consumers/Conn/rec_topic/C1", wrong_key="wrong")
    # The node adds a client to its table just after "succeeded".
    r.sleep(300)
    r.http("/Console/GetClients")

    def produce_and_consume(frame, opcode=1):
        r.send("p", frame, opcode)
        r.recv("p")
        push = r.recv("c")
        r.send_code_of("c", push)
        return push

    hello = produce_and_consume('{"MessageData":"hello","DelayTime":0}')
    # Acked: consumed, with its ConsumedTime.
    r.sleep(200)
    r.http("/Console/GetMessage", [("messageCode", None)], code_of=hello)
    produce_and_consume('{"MessageData":"binary frame","DelayTime":0}', opcode=2)
    produce_and_consume('{"messagedata":"lower case","delaytime":0}')
    produce_and_consume('{"MessageData":"nul\\u0000 and tab\\t","DelayTime":0}')
    produce_and_consume('{"MessageData":"multi-byte: é ü 中文 😀","DelayTime":0}')
    produce_and_consume(b'{"MessageData":"bad utf-8: \xff\xfe end","DelayTime":0}')
    produce_and_consume('{"MessageData":"quote \\" backslash \\\\ <&> \\u2028","DelayTime":0}')
    produce_and_consume('{"MessageData":"' + "x" * (1 << 20) + '","DelayTime":0}')
    produce_and_consume('{"MessageData":"unknown field","DelayTime":0,"Extra":[1,2]}')
    produce_and_consume('{"DelayTime":0}')
    produce_and_consume('{"MessageData":"negative delay","DelayTime":-5}')
    # Around gorilla's 4096-byte write buffer (4082 bytes of it for the
    # payload): pushes of up to 4082 bytes are one frame, longer ones are
    # cut in 4082-byte frames, and over 8192 bytes (twice the buffer) go
    # as one frame plus an empty final one. 155 bytes of a push here are
    # not MessageData.
    for size in (4082, 4083, 4096, 8180, 8192, 8193, 8221):
        produce_and_consume('{"MessageData":"' + "y" * (size - 155) + '","DelayTime":0}')
    # An ack that is no message code is ignored; the consumer stays.
    r.send("c", "not a code")
    produce_and_consume('{"MessageData":"after a bad ack","DelayTime":0}')
    # Delayed: pushed by the periodic check once due (checkSpeed 1 s).
    r.send("p", '{"MessageData":"delayed","DelayTime":2}')
    r.recv("p")
    push = r.recv("c")
    r.send_code_of("c", push)
    # While a delayed message waits, it counts as delayed.
    r.send("p", '{"MessageData":"counted as delayed","DelayTime":3}')
    r.recv("p")
    r.http("/Console/CountMessage")
    push = r.recv("c")
    r.send_code_of("c", push)
    # Unknown codes are ignored silently; acks of acked codes too.
    r.send("c", "0123456789abcdef0123456789abcdef")
    r.send_code_of("c", push)

    # Sent while no consumer of its topic is connected: a consumer that
    # connects later is not pushed it (only the re-push after
    # pushRetryTime would).
    r.handshake("p2", "/Producers/Conn/rec_late_topic/P6")
    r.send("p2", '{"MessageData":"nobody listens","DelayTime":0}')
    r.recv("p2")
    r.sleep(300)
    r.handshake("late", "/Consumers/Conn/rec_late_topic/C3")
    r.quiet("late", 2500)
    r.http("/Console/CountMessage")
    r.close("late")
    r.close("p2")

    # Ping / pong on both sides.
    r.send("p", "ping payload", opcode=9)
    r.recv("p")
    r.send("c", "", opcode=9)
    r.recv("c")

    # Console answers while things are stored.
    sent = r.http("/Producer/Send", [("messageData", "over http"), ("topic", "rec_http"), ("delayTime", "0")])
    r.http("/Console/GetMessage", [("messageCode", None)], code_of=sent)
    r.http("/Console/GetMessage", [("messageCode", "0123456789abcdef0123456789abcdef")])
    later = r.http("/Producer/Send", [("messageData", "später ✓"), ("topic", "rec_later"), ("delayTime", "600")])
    r.http("/Console/GetMessage", [("messageCode", None)], code_of=later)
    r.http("/Console/GetMessageList", [("startTime", "2000-01-01 00:00:00"), ("endTime", "2100-01-01 00:00:00"),
                                       ("status", "0"), ("topic", "rec_later")])
    r.http("/Console/DelMessage", [("messageCode", None)], code_of=later)
    neg = r.http("/Producer/Send", [("messageData", "negative"), ("topic", "rec_neg"), ("delayTime", "-3")])
    r.http("/Console/GetMessage", [("messageCode", None)], code_of=neg)
    r.http("/Console/DelMessage", [("messageCode", None)], code_of=neg)
    r.http("/Console/GetMessage", [])
    r.http("/Console/GetMessageList", [("startTime", "2000-01-01 00:00:00"), ("endTime", "2100-01-01 00:00:00"),
                                       ("status", "3"), ("topic", "rec_http")])
    r.http("/Console/GetMessageList", [("startTime", "2000-01-01 00:00:00"), ("endTime", "2100-01-01 00:00:00"),
                                       ("status", "1"), ("topic", "no_such_topic")])
    r.http("/Console/GetMessageList", [("startTime", "bad"), ("endTime", "2100-01-01 00:00:00"),
                                       ("status", "3"), ("topic", "rec_http")])
    r.http("/Console/GetMessageList", [("startTime", "2000-01-01 00:00:00"), ("endTime", "2100-01-01 00:00:00"),
                                       ("status", "x"), ("topic", "rec_http")])
    r.http("/Console/CountMessage")
    r.http("/Console/DelMessage", [("messageCode", None)], code_of=sent)
    r.http("/Console/DelMessage", [("messageCode", "0123456789abcdef0123456789abcdef")])
    r.http("/Console/CountMessage")
    r.http("/Producer/Send", [("messageData", "no delay"), ("topic", "rec_http")])
    r.http("/Producer/Send", [("messageData", "bad delay"), ("topic", "rec_http"), ("delayTime", "soon")])
    r.http("/Producer/Send", [("topic", "rec_http"), ("delayTime", "0")])
    r.http("/Producer/Send", [("messageData", "no topic"), ("delayTime", "0")])
    r.http("/Console/Ping")
    r.http("/Console/GetConfig")
    r.http("/Console/GetNodes")
    for path in ["/Producer/Send", "/Console/Ping", "/Console/GetClients", "/Console/GetConfig",
                 "/Console/CountMessage", "/Console/GetMessage", "/Console/GetMessageList",
                 "/Console/DelMessage", "/Console/GetNodes"]:
        r.http(path, key="qqq")
        r.http(path, key=None)
    r.http("/Console/Ping", method="GET")
    r.http("/Console/NoSuchThing")
    r.http("/Producers/Conn/a%2Fb/P1", key=None, method="GET")
    r.http("/Producers/Conn/a%2Fb/P1", key=None, method="GET", upgrade=True)
    r.http("/Consumers/Conn/a%2Fb/C1", key=None, method="GET", upgrade=True)
    r.http("/Producers/Conn/a/b/P1", key=None, method="GET", upgrade=True)
    r.http("/Console/Ping", key=None, method="OPTIONS")
    # The socket paths without an upgrade.
    r.http("/Producers/Conn/rec_topic/P9", key=None, method="GET")
    r.http("/Consumers/Conn/rec_topic/C9", key=None, method="POST")

    # The key in a binary frame is accepted like a text one.
    r.open("bk", "/Consumers/Conn/rec_other/C2")
    r.recv("bk")
    r.send("bk", "test", opcode=2)
    r.recv("bk")
    r.close("bk")
    # A close frame from the client: gorilla echoes its code, then the
    # handler returns.
    r.handshake("cl", "/Producers/Conn/rec_other/P5")
    r.send("cl", b"\x03\xe8bye", opcode=8)
    r.recv("cl")
    r.recv("cl")

    # A frame that is not a message: the node drops the TCP connection.
    r.handshake("bad1", "/Producers/Conn/rec_bad/P2")
    r.send("bad1", "this is not json")
    r.recv("bad1")
    r.handshake("bad2", "/Producers/Conn/rec_bad/P3")
    r.send("bad2", '{"MessageData":5,"DelayTime":0}')
    r.recv("bad2")
    r.handshake("bad3", "/Producers/Conn/rec_bad/P4")
    r.send("bad3", '{"MessageData":"x","DelayTime":"1"}')
    r.recv("bad3")
    r.http("/Console/CountMessage")
    r.close("p")
    r.close("c")


def script_retry(r):
    """Re-pushes of unacked messages (pushRetryTime 2 s) and acked messages
    deleted at once (isCleanConsumed 1)."""
    r.handshake("c", "/Consumers/Conn/rec_retry/C1")
    r.handshake("p", "/Producers/Conn/rec_retry/P1")
    r.send("p", '{"MessageData":"not acked at first","DelayTime":0}')
    r.recv("p")
    r.recv("c")
    # Pushed again by the check once DelayTime + pushRetryTime < now -
    # CreateTime, with DelayTime rewritten to that age: its value depends
    # on when the check ran, hence the range.
    again = r.recv("c")
    r.steps[again]["delay_range"] = [3, 8]
    r.send_code_of("c", again)
    r.sleep(300)
    r.http("/Console/GetMessage", [("messageCode", None)], code_of=again)
    r.quiet("c", 4000)
    r.http("/Console/CountMessage")
    r.close("c")
    r.close("p")


def script_pubsub(r):
    """Push mode 2 (publish/subscribe): every consumer of the topic gets
    each message, a consumer of another topic none."""
    r.handshake("c1", "/Consumers/Conn/rec_pubsub/C1")
    r.handshake("c2", "/Consumers/Conn/rec_pubsub/C2")
    r.handshake("other", "/Consumers/Conn/rec_pubsub_other/C3")
    r.handshake("p", "/Producers/Conn/rec_pubsub/P1")
    r.sleep(300)
    r.send("p", '{"MessageData":"to everyone","DelayTime":0}')
    r.recv("p")
    first = r.recv("c1")
    r.recv("c2")
    r.send_code_of("c1", first)
    r.send_code_of("c2", first)
    r.quiet("other", 1500)
    r.sleep(300)
    r.http("/Console/CountMessage")
    for conn in ("c1", "c2", "other", "p"):
        r.close(conn)


def record_cluster(node_bin, serena_bin, out_dir):
    """Serena's node list, empty and with two nodes, and a node's own view."""
    sport, sgossip = free_port(), free_port()
    scfg = {"server": {"addr": "127.0.0.1", "port": sport},
            "registry": {"secretKey": "test", "gossipPort": sgossip}}
    serena = Proc(serena_bin, scfg, sport, "serena")
    ports = {"serena": sport}
    procs = [serena]
    r = Recorder(ports)
    try:
        r.http("/Registry/GetNodes", port="serena", fields=[])
        r.http("/Registry/GetNodes", port="serena", fields=[], key="qqq")
        r.http("/Registry/GetNodes", port="serena", fields=[], key=None)
        for name in ["node_a", "node_b"]:
            port, gossip = free_port(), free_port()
            cfg = node_config(port, gossip, {"isCluster": 1, "registryGossipPort": sgossip})
            procs.append(Proc(node_bin, cfg, port, name))
            ports[name] = port
        deadline = time.time() + 20
        while time.time() < deadline:
            _, _, body = http(sport, "POST", "/Registry/GetNodes", [("secretKey", "test")], b"")
            if body.count(b"Name") == 2:
                break
            time.sleep(0.2)
        r.http("/Registry/GetNodes", port="serena", fields=[])
        r.http("/Console/GetNodes", port="node_a")
        r.http("/Console/GetNodes", port="node_a", key="qqq")
        r.http("/Console/GetConfig", port="node_a")
        r.write(os.path.join(out_dir, "cluster.json"), cfg)
    finally:
        for p in reversed(procs):
            p.stop()


def main():
    node_bin = os.environ.get("KMQ_REAL_NODE")
    serena_bin = os.environ.get("KMQ_REAL_SERENA")
    if not node_bin or not serena_bin:
        raise SystemExit("set KMQ_REAL_NODE and KMQ_REAL_SERENA to the built kapokmq and serena binaries")
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "recorded")
    os.makedirs(out_dir, exist_ok=True)
    node_bin = os.path.abspath(node_bin)
    record_standalone(node_bin, out_dir, "node.json", script_node)
    record_standalone(node_bin, out_dir, "retry.json", script_retry, pushRetryTime=2, isCleanConsumed=1)
    record_standalone(node_bin, out_dir, "pubsub.json", script_pubsub, pushType=2)
    record_cluster(node_bin, os.path.abspath(serena_bin), out_dir)
    print(f"recorded into {os.path.abspath(out_dir)}")


if __name__ == "__main__":
    main()
