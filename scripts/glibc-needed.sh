#!/usr/bin/env bash
# Prints the newest glibc symbol version (such as 2.17) that an ELF file
# imports: the oldest glibc it loads on. Prints 0 when it imports none (a
# musl library). readelf reads ELF files of every architecture.
#   glibc-needed.sh FILE
set -euo pipefail
[[ $# -eq 1 && -f $1 ]] || { echo "usage: $0 ELF-FILE" >&2; exit 2; }
versions=$(readelf -W --version-info "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' || true)
printf '%s\n' 0 $versions | sort -V | tail -n 1
