#!/usr/bin/env python3
"""Sends messages to a KapokMQ topic and waits until the server confirmed them.

    python3 examples/producer.py hello world        sends "hello" and "world"
    python3 examples/producer.py -n 100             sends "message 1" ... "message 100"
    python3 examples/producer.py --port 8012 hi     another server (also --host, --topic)

Server and topic default to KAPOKMQ_ADDR (127.0.0.1), KAPOKMQ_PORT (8011) and
KAPOKMQ_TOPIC (demo).
"""

import argparse
import os
import sys

import kapokmq


def main() -> int:
    parser = argparse.ArgumentParser(description="Send messages to a KapokMQ topic.")
    parser.add_argument("--host", default=os.environ.get("KAPOKMQ_ADDR", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KAPOKMQ_PORT", "8011")))
    parser.add_argument("--topic", default=os.environ.get("KAPOKMQ_TOPIC", "demo"))
    parser.add_argument("-n", type=int, metavar="COUNT", help="send COUNT numbered messages")
    parser.add_argument("words", nargs="*", help="messages to send")
    args = parser.parse_args()
    messages = [f"message {i}" for i in range(1, args.n + 1)] if args.n else args.words
    if not messages:
        parser.error("give messages to send, or -n COUNT")

    failed = []

    def on_delivery(err, ident):
        # Runs inside flush(), on this thread, once the message's fate is known.
        if err is not None:
            failed.append(ident)
            print(f"message {ident} failed: {err}", file=sys.stderr)

    try:
        with kapokmq.Producer(
            topic=args.topic, producer_id="example-producer", mq_addr=args.host, mq_port=args.port
        ) as p:
            for data in messages:
                p.send(data, on_delivery=on_delivery)  # returns at once
            p.flush(timeout=10.0)  # waits for the confirmations and runs the callbacks
            print(f"{p.stats().confirmed} of {len(messages)} messages confirmed")
    except kapokmq.KapokMQError as e:
        print(f"producer: {e.code}: {e}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
