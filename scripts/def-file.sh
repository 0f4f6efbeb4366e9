#!/usr/bin/env bash
# Prints a module-definition (.def) file listing the functions a Windows
# DLL exports, from its export table, for dlltool to make the import
# library MSVC links with.
#   def-file.sh KAPOKMQ.DLL
set -euo pipefail
[[ $# -eq 1 && -f $1 ]] || { echo "usage: $0 DLL" >&2; exit 2; }
names=$(x86_64-w64-mingw32-objdump -p "$1" | sed -n 's/^\s*\[ *[0-9]*\] \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p')
[[ -n $names ]] || { echo "def-file: $1 exports nothing" >&2; exit 1; }
echo "LIBRARY $(basename "$1")"
echo "EXPORTS"
sed 's/^/    /' <<<"$names"
