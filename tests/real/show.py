#!/usr/bin/env python3
"""Prints a recorded transcript (tests/recorded/*.json) one step a line."""

import json
import sys


def text(payload, limit=240):
    out = ""
    for p in payload:
        if "t" in p:
            out += p["t"]
        elif "rep" in p:
            out += f"<{p['rep']!r} x {p['n']}>"
        elif "b64" in p:
            out += f"<base64 {p['b64']}>"
        else:
            out += f"<code of step {p['code_of']}>"
    return repr(out)[:limit]


def main():
    for path in sys.argv[1:]:
        t = json.load(open(path))
        print(f"== {path} ports {t['ports']}")
        for i, s in enumerate(t["steps"]):
            if s["op"] == "http":
                rq, rs = s["request"], s["response"]
                key = [v for k, v in rq["headers"] if k == "secretKey"]
                print(f"{i:3} http {rq['method']} {rq['path']} key={key} {text(rq['body'])}")
                print(f"      -> {rs['status_line']} [{rs['headers'].get('content-type')}] {text(rs['body'])}")
            elif s["op"] in ("send", "recv"):
                frags = f" in frames of {s['fragments']}" if "fragments" in s else ""
                print(f"{i:3} {s['op']} {s['conn']} op{s['opcode']} {text(s['payload'])}{frags}")
            else:
                rest = {k: v for k, v in s.items() if k != "op"}
                print(f"{i:3} {s['op']} {rest}")


if __name__ == "__main__":
    main()
