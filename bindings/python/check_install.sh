#!/usr/bin/env bash
# Proves the package installs the way a user installs it: a fresh venv,
# `pip install ./bindings/python` (which compiles the Rust library and puts it
# inside the package), then `import kapokmq` from an unrelated directory with
# no KAPOKMQ_LIB or PYTHONPATH help.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
# pip builds in the source tree; its leftovers go with the temp dir.
trap 'rm -rf "$work" "$here/build" "$here/src/kapokmq.egg-info"' EXIT

"${PYTHON:-python3}" -m venv "$work/venv"
# Reuse the dependencies the repository build already compiled.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$here"

cd "$work"
env -u KAPOKMQ_LIB -u PYTHONPATH "$work/venv/bin/python" -c 'import kapokmq; print(kapokmq.version())'
# The library must be the copy inside the installed package.
env -u KAPOKMQ_LIB -u PYTHONPATH "$work/venv/bin/python" - "$work/venv" <<'PY'
import sys, kapokmq
assert kapokmq.LIBRARY_PATH.startswith(sys.argv[1]), kapokmq.LIBRARY_PATH
print("loaded", kapokmq.LIBRARY_PATH)
PY
# The copy in the package is stripped of the release build's debug info.
lib=$(env -u KAPOKMQ_LIB -u PYTHONPATH "$work/venv/bin/python" -c 'import kapokmq; print(kapokmq.LIBRARY_PATH)')
if readelf -S --wide "$lib" | grep -q '\.debug_'; then
    echo "$lib keeps debug info" >&2
    exit 1
fi
echo "no debug info in $lib ($(du -h "$lib" | cut -f1))"
