"""A produce/consume round trip with an installed kapokmq package:
N messages sent and confirmed, all received intact and acked.

    python roundtrip.py PORT TOPIC

Prints "N messages round-tripped, library LIBRARY_PATH"; exits non-zero
otherwise."""

import sys

import kapokmq

N = 100
port, topic = int(sys.argv[1]), sys.argv[2]
common = dict(topic=topic, mq_addr="127.0.0.1", mq_port=port, secret_key="test")
with kapokmq.Consumer(consumer_id="c1", **common) as c, kapokmq.Producer(producer_id="p1", **common) as p:
    sent = [f"python {i} \u00e9\u6771" for i in range(N)]
    for text in sent:
        p.send(text)
    p.flush(timeout=10.0)
    got = []
    while len(got) < N:
        m = c.receive(timeout=10.0)
        if m is None:
            sys.exit(f"only {len(got)} of {N} messages came back")
        got.append(m.text)
        c.ack(m)
if sorted(got) != sorted(sent):
    sys.exit("the messages that came back differ from those sent")
print(f"{N} messages round-tripped, library {kapokmq.LIBRARY_PATH}")
