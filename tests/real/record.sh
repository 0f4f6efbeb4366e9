#!/usr/bin/env bash
# Records the real KapokMQ node and Serena into tests/recorded/ (or DIR).
# Usage: KMQ_REAL_NODE=/path/to/kapokmq KMQ_REAL_SERENA=/path/to/serena tests/real/record.sh [DIR]
# Then `cargo test --release --test replay` checks the library and kmq-broker against them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${KMQ_REAL_NODE:?set KMQ_REAL_NODE to the built kapokmq binary}"
: "${KMQ_REAL_SERENA:?set KMQ_REAL_SERENA to the built serena binary}"
for bin in "$KMQ_REAL_NODE" "$KMQ_REAL_SERENA"; do
  [ -x "$bin" ] || { echo "record.sh: $bin is not an executable" >&2; exit 2; }
done
exec "${PYTHON:-python3}" "$here/record.py" "${1:-$here/../recorded}"
