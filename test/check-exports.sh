#!/bin/sh
# The cheapest ABI guard (after jansson's check-exports): the shared library must export exactly
# the symbols listed in test/exports.txt. Adding a public function means adding it there too;
# removing one is an ABI break and needs a new major version.
set -eu
lib=$1
expected=$2
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sed 's/@.*//' | sort -u > "$actual"
if ! diff -u "$expected" "$actual"; then
    echo "check-exports: the exported symbols of $lib differ from $expected (see the diff above)" >&2
    exit 1
fi
bad=$(grep -v '^gatrec_[a-z]' "$actual" || true)
if [ -n "$bad" ]; then
    echo "check-exports: symbols outside the gatrec_ prefix are exported: $bad" >&2
    exit 1
fi
header=$(dirname "$0")/../include/gatrec.h
declared=$(grep -oE 'gatrec_[a-z_0-9]+\(' "$header" | tr -d '(' | sort -u)
if [ "$declared" != "$(cat "$actual")" ]; then
    echo "check-exports: functions declared in gatrec.h and exported symbols differ:" >&2
    printf '%s\n' "$declared" | diff - "$actual" >&2 || true
    exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libgatrec.so.0" ] || { echo "check-exports: SONAME is '$soname', expected libgatrec.so.0" >&2; exit 1; }
echo "check-exports: $(wc -l < "$actual") gatrec_* symbols, SONAME $soname: ok"
