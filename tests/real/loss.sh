#!/usr/bin/env bash
# How many confirmed messages the real KapokMQ node loses when killed with
# SIGKILL and restarted (snapshot + WAL persistence). One JSON line per run.
# Usage: KMQ_REAL_NODE=/path/to/kapokmq tests/real/loss.sh [--runs N] [--at SECONDS | --snapshot]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${KMQ_REAL_NODE:?set KMQ_REAL_NODE to the built kapokmq binary}"
[ -x "$KMQ_REAL_NODE" ] || { echo "loss.sh: $KMQ_REAL_NODE is not an executable" >&2; exit 2; }
exec "${PYTHON:-python3}" "$here/loss.py" "$@"
