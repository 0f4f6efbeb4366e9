#!/usr/bin/env bash
# Prints the newest glibc symbol version (such as 2.17) that an ELF file
# imports: the oldest glibc it loads on. Prints 0 when it imports none (a
# musl library). readelf reads ELF files of every architecture.
#   glibc-needed.sh FILE
#   glibc-needed.sh --at-most VERSION FILE   also fails when that is newer than VERSION
set -euo pipefail
limit=
if [[ ${1:-} == --at-most ]]; then
    limit=$2
    shift 2
fi
[[ $# -eq 1 && -f $1 ]] || { echo "usage: $0 [--at-most VERSION] ELF-FILE" >&2; exit 2; }
versions=$(readelf -W --version-info "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' || true)
newest=$(printf '%s\n' 0 $versions | sort -V | tail -n 1)
echo "$newest"
[[ -z $limit || $(printf '%s\n%s\n' "$newest" "$limit" | sort -V | tail -n 1) == "$limit" ]]
