# What the tests of dist/ (run.sh, cross.sh) share: a work directory under
# /tmp, PASS/FAIL counting, running as a user would, and a kmq-broker on a
# free port. Sourced; needs $broker_bin.

work=$(mktemp -d /tmp/kapokmq-dist.XXXXXX)
broker_pid=
cleanup() {
    if [[ -n $broker_pid ]]; then
        kill -KILL "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    if [[ ${KEEP_BUILD:-} == 1 ]]; then echo "work directory: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
indent() { sed 's/^/    /' "$@"; }

# The PATH users without Rust have: this one less every directory of
# rustup's (holding cargo or rustc, /usr/bin aside), and first a directory
# whose cargo and rustc fail, for Debian's in /usr/bin.
mkdir -p "$work/no-rust"
for tool in cargo rustc; do
    printf '#!/bin/sh\necho "%s: no Rust toolchain here" >&2\nexit 127\n' "$tool" >"$work/no-rust/$tool"
    chmod +x "$work/no-rust/$tool"
done
no_rust_path=$work/no-rust
IFS=: read -ra path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
    [[ $d != /usr/bin && $d != /bin && (-x $d/cargo || -x $d/rustc) ]] || no_rust_path+=":$d"
done
# Runs a command as a user would: from $work, nothing pointing into the checkout.
as_user() {
    (cd "$work" && env -u KAPOKMQ_LIB -u PYTHONPATH -u LD_LIBRARY_PATH -u KMQ_BROKER PATH="$no_rust_path" "$@")
}
# Runs "$@" with its output in $work/out; passes if it exits 0 and its
# output matches $1.
check() {
    local name=$1 expect=$2
    shift 2
    if "$@" >"$work/out" 2>&1 && grep -Eq -- "$expect" "$work/out"; then
        pass "$name: $(grep -E -- "$expect" "$work/out" | head -n 1)"
    else
        fail "$name"
        indent "$work/out"
    fi
}

# Starts kmq-broker on a free port of 127.0.0.1: sets $port.
start_broker() {
    "$broker_bin" --port 0 >"$work/broker.log" 2>&1 &
    broker_pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/^kmq-broker listening on [0-9.]*:\([0-9]*\)$/\1/p' "$work/broker.log")
        [[ -n $port ]] && break
        kill -0 "$broker_pid" 2>/dev/null || break
        sleep 0.1
    done
    [[ -n $port ]] || { echo "kmq-broker did not start:"; indent "$work/broker.log"; exit 1; }
}
topic() { echo "dist-$1-$$"; }

# Waits (up to 60 s) until the broker lists a consumer of topic $1: the
# node pushes only to consumers it has registered, and a consumer under
# emulation takes a while to connect.
wait_for_consumer() {
    for _ in $(seq 600); do
        curl -fsS -X POST -H 'secretKey: test' "http://127.0.0.1:$port/Console/GetClients" 2>/dev/null |
            grep -q "\"Topic\":\"$1\"" && return 0
        sleep 0.1
    done
    return 1
}
