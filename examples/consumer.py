#!/usr/bin/env python3
"""Receives messages from a KapokMQ topic, prints and acknowledges them.

    python3 examples/consumer.py [COUNT] [--timeout SECONDS] [--host H] [--port N] [--topic T]

Stops after COUNT messages (default 10), when none came for --timeout seconds
(default 10), or on Ctrl-C. Server and topic default to KAPOKMQ_ADDR
(127.0.0.1), KAPOKMQ_PORT (8011) and KAPOKMQ_TOPIC (demo).
"""

import argparse
import os
import sys

import kapokmq


def main() -> int:
    parser = argparse.ArgumentParser(description="Receive messages from a KapokMQ topic.")
    parser.add_argument("--host", default=os.environ.get("KAPOKMQ_ADDR", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KAPOKMQ_PORT", "8011")))
    parser.add_argument("--topic", default=os.environ.get("KAPOKMQ_TOPIC", "demo"))
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a message")
    parser.add_argument("count", type=int, nargs="?", default=10, help="messages to receive")
    args = parser.parse_args()

    received = 0
    try:
        with kapokmq.Consumer(
            topic=args.topic, consumer_id="example-consumer", mq_addr=args.host, mq_port=args.port
        ) as c:
            while received < args.count:
                m = c.receive(timeout=args.timeout)
                if m is None:
                    print(f"no message for {args.timeout:g} s, stopping")
                    break
                print(m.code, m.text)
                c.ack(m)  # handled; otherwise the server delivers it again
                received += 1
    except KeyboardInterrupt:
        pass
    except kapokmq.KapokMQError as e:
        print(f"consumer: {e.code}: {e}", file=sys.stderr)
        return 1
    print(f"{received} messages received")
    return 0


if __name__ == "__main__":
    sys.exit(main())
