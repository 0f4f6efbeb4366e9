#!/usr/bin/env python3
"""Draws docs/bench/throughput.png from the CSV that `kmq bench` writes.

    python3 docs/bench/plot.py [results.csv] [throughput.png]

Two panels, one per throughput section (confirmed producer throughput, end
to end), grouped bars per message count, one bar per client. A client whose
figure is missing (the Go client when its module cannot be fetched) is
named in the legend as unavailable instead of being left out silently.
"""

from __future__ import annotations

import csv
import sys
from collections import OrderedDict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

HERE = Path(__file__).resolve().parent
SECTIONS = [
    ("producer", 'Producer throughput (every message confirmed by "ok")'),
    ("end_to_end", "End to end: produce → consume → ack"),
]


def load(path: Path) -> "list[dict[str, str]]":
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def short(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def rate(y: float, _pos: object = None) -> str:
    return f"{y / 1e6:.1f}M" if y >= 1e6 else f"{y / 1e3:.0f}k"


def panel(ax, rows: "list[dict[str, str]]", section: str, title: str) -> "dict[str, str]":
    """Draws one section; returns the clients with no figure and why."""
    rows = [r for r in rows if r["section"] == section and r["metric"] == "throughput"]
    sizes = sorted({int(r["messages"]) for r in rows})
    clients: "OrderedDict[str, dict[int, float]]" = OrderedDict()
    missing: "dict[str, str]" = {}
    for r in rows:
        values = clients.setdefault(r["client"], {})
        if r["value"]:
            values[int(r["messages"])] = float(r["value"])
        else:
            missing[r["client"]] = r["note"]
    shown = [c for c, v in clients.items() if v]
    width = 0.8 / max(len(shown), 1)
    for i, client in enumerate(shown):
        xs = [j + (i - (len(shown) - 1) / 2) * width for j in range(len(sizes))]
        ys = [clients[client].get(n, 0.0) for n in sizes]
        bars = ax.bar(xs, ys, width, label=client)
        for bar, y in zip(bars, ys):
            if y:
                ax.annotate(rate(y), (bar.get_x() + bar.get_width() / 2, y),
                            ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(sizes)), [f"{short(n)} messages" for n in sizes])
    ax.set_ylabel("messages per second")
    ax.yaxis.set_major_formatter(FuncFormatter(rate))
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1, frameon=False)
    return {c: why for c, why in missing.items() if not clients[c]}


def main() -> int:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.csv"
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "throughput.png"
    rows = load(src)
    fig, axes = plt.subplots(1, len(SECTIONS), figsize=(13, 6.5))
    missing: "dict[str, str]" = {}
    for ax, (section, title) in zip(axes, SECTIONS):
        missing.update(panel(ax, rows, section, title))
    fig.suptitle("kapokmq vs a raw WebSocket client and the Go client, one kmq-broker, same run", fontsize=11)
    if missing:
        text = "\n".join(f"not measured: {c}: {why}" for c, why in missing.items())
        fig.text(0.01, 0.01, text, fontsize=7, color="dimgray", va="bottom")
    fig.tight_layout(rect=(0, 0.06 if missing else 0, 1, 1))
    fig.savefig(dst, dpi=110)
    print(f"bench: chart written to {dst}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
