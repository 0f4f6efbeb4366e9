#!/usr/bin/env bash
# Where the test suites find the release build's kmq-broker and
# libkapokmq.so, and whether those are fresh.
#
#   tests/artifacts.sh [--build] [broker] [lib]
#       prints KMQ_BROKER=PATH and/or KAPOKMQ_LIB=PATH (default: both), one
#       per line. Fails, saying why, when one is missing or older than a
#       source it is built from; with --build it runs
#       `cargo build --release --workspace` first when one is.
#   tests/artifacts.sh --target-dir
#       prints cargo's target directory.
#
# The target directory is cargo's own (CARGO_TARGET_DIR, build.target-dir,
# or target/ of the workspace), as `cargo metadata` reports it. A path set
# in KMQ_BROKER or KAPOKMQ_LIB is an explicit choice, printed unchecked.
# Fresh means what it means to cargo: no file listed in the output's
# dep-info (.d) file is newer than the output.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cargo=${CARGO:-cargo}

target_dir() {
    local json dir
    json=$("$cargo" metadata --no-deps --format-version 1 --manifest-path "$repo/Cargo.toml")
    dir=$(sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p' <<<"$json")
    if [[ -z $dir ]]; then
        echo "artifacts: cargo metadata names no target directory" >&2
        return 1
    fi
    echo "$dir"
}

# The first source listed in dep-info file $2 that is newer than $1 (or
# missing); nothing when $1 is fresh.
newer_source() {
    local out=$1 depinfo=$2 line f
    if [[ ! -f $depinfo ]]; then
        echo "$depinfo"
        return
    fi
    line=$(head -n 1 "$depinfo")
    # "OUTPUT: SOURCE SOURCE ...", spaces in paths escaped as "\ ".
    line=${line#*: }
    line=${line//\\ /$'\x01'}
    for f in $line; do
        f=${f//$'\x01'/ }
        if [[ ! -e $f || $f -nt $out ]]; then
            echo "$f"
            return
        fi
    done
}

# Checks the wanted outputs; prints a line per problem on stdout.
problems() {
    local release=$1 name src
    for name in "${wanted[@]}"; do
        case $name in
            broker) [[ -n ${KMQ_BROKER:-} ]] && continue
                out=$release/kmq-broker depinfo=$release/kmq-broker.d ;;
            lib) [[ -n ${KAPOKMQ_LIB:-} ]] && continue
                out=$release/libkapokmq.so depinfo=$release/libkapokmq.d ;;
        esac
        if [[ ! -f $out ]]; then
            echo "$out does not exist"
        elif src=$(newer_source "$out" "$depinfo") && [[ -n $src ]]; then
            echo "$out is older than $src"
        fi
    done
}

build=0
wanted=()
for arg in "$@"; do
    case $arg in
        --target-dir) target_dir; exit ;;
        --build) build=1 ;;
        broker | lib) wanted+=("$arg") ;;
        *) echo "usage: tests/artifacts.sh [--build] [broker] [lib] | --target-dir" >&2; exit 2 ;;
    esac
done
[[ ${#wanted[@]} -gt 0 ]] || wanted=(broker lib)

release=$(target_dir)/release
stale=$(problems "$release")
if [[ -n $stale && $build == 1 ]]; then
    echo "artifacts: $stale; building" | head -n 1 >&2
    "$cargo" build --release --workspace --manifest-path "$repo/Cargo.toml" >&2
    stale=$(problems "$release")
fi
if [[ -n $stale ]]; then
    sed 's/^/artifacts: /' <<<"$stale" >&2
    echo "artifacts: build them with cargo build --release --workspace (make build)" >&2
    exit 1
fi
for name in "${wanted[@]}"; do
    case $name in
        broker) echo "KMQ_BROKER=${KMQ_BROKER:-$release/kmq-broker}" ;;
        lib) echo "KAPOKMQ_LIB=${KAPOKMQ_LIB:-$release/libkapokmq.so}" ;;
    esac
done
