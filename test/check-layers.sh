#!/bin/sh
# The house rules of lib/ that a compiler does not check (lib/README.md):
#  1. every include between rooms goes down a floor: a room includes only rooms below it;
#  2. no raw malloc, calloc or realloc outside lib/common/alloc.c: every allocation goes through
#     gatrec__malloc & co, which record a message and can be made to fail by the tests;
#  4. numbers are read and written in the C locale: no strtod/strtof, and no float conversion in a
#     plain snprintf, outside lib/common/text.c (gatrec__strtod, gatrec__snprintf, gatrec__buf_printf);
#  3. every random draw names its stream with gatrec__stream(PURPOSE, index) (common.h's
#     registry; a variable named `stream` holding one is fine), never a bare number, so that two
#     purposes never share a stream.
set -eu
cd "$(dirname "$0")/.."
# room floor (keep in step with lib/README.md)
floors="common 0
data 1
kernels 1
graph 2
eval 2
profiles 3
llm 4
embed 5
rerank 5
model 6"
floor() { printf '%s\n' "$floors" | awk -v r="$1" '$1 == r {print $2}'; }
bad=0
for f in lib/*/*.c lib/*/*.h; do
    room=$(basename "$(dirname "$f")")
    own=$(floor "$room")
    if [ -z "$own" ]; then
        echo "check-layers: $f: room '$room' has no floor (add it to lib/README.md and test/check-layers.sh)" >&2
        bad=1
        continue
    fi
    for to in $(sed -n 's|^#include "\.\./\([a-z_]*\)/.*|\1|p' "$f" | sort -u); do
        theirs=$(floor "$to")
        if [ -z "$theirs" ] || [ "$theirs" -ge "$own" ]; then
            echo "check-layers: $f (room $room, floor $own) includes room $to (floor ${theirs:-none}): includes go down" >&2
            bad=1
        fi
    done
done
raw=$(grep -nE '(^|[^_a-zA-Z0-9])(malloc|calloc|realloc)\(' lib/*/*.c | grep -v '^lib/common/alloc.c:' || true)
if [ -n "$raw" ]; then
    printf 'check-layers: raw allocations (use gatrec__malloc, gatrec__calloc, gatrec__realloc_array):\n%s\n' "$raw" >&2
    bad=1
fi
bare=$(grep -nE 'gatrec__rng_(u64|below|unit)\(|gatrec__init_(normal|glorot)\(' lib/*/*.c lib/*/*.h |
    grep -v -e '^lib/common/rng.c:' -e '^lib/common/common.h:' | grep -vE 'gatrec__stream\(|, stream,' || true)
if [ -n "$bare" ]; then
    printf 'check-layers: random draws from a stream that is not a gatrec__stream(PURPOSE, index):\n%s\n' "$bare" >&2
    bad=1
fi
localed=$(grep -nE '(^|[^_a-zA-Z0-9])(strto[df]|strtof_l|atof|sscanf)\(|(^|[^_a-zA-Z0-9])v?snprintf\([^;]*%[-+ #0-9.]*[gfeGFE]' \
    lib/*/*.c | grep -v '^lib/common/text.c:' || true)
if [ -n "$localed" ]; then
    printf 'check-layers: numbers read or written in the host'"'"'s locale (use gatrec__strtod, gatrec__strtof, gatrec__snprintf):\n%s\n' "$localed" >&2
    bad=1
fi
[ "$bad" = 0 ] || exit 1
echo "check-layers: $(ls lib/*/*.c lib/*/*.h | wc -l) files in $(printf '%s\n' "$floors" | wc -l) rooms: includes go down, allocations go through alloc.c, random streams are named, numbers are locale-free: ok"
