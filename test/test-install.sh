#!/bin/sh
# Installs into a scratch prefix and builds examples/quickstart.c (and text_features.c,
# host_transport.c) with nothing but
# `pkg-config --cflags --libs gatrec`, dynamically and statically; then checks DESTDIR and
# uninstall. Run by `make check`.
set -eu
: "${CC:=cc}" "${MAKE:=make}" "${BUILD:=build}" "${SAN:=}"
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$MAKE -s install PREFIX="$tmp/usr" BUILD="$BUILD" >/dev/null
export PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig"
[ "$(pkg-config --modversion gatrec)" = "$(sed -n 's/^#define GATREC_VERSION_STRING "\(.*\)"/\1/p' include/gatrec.h)" ]
cd "$tmp"
printf 'user,item,rating\n' > ratings.csv
for u in 1 2 3 4 5 6 7 8; do for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    [ $(( (u * i) % 3 )) -ne 0 ] && printf '%d,%d,%d\n' "$u" "$i" $(( (u + i) % 5 + 1 )) >> ratings.csv
done; done
# shellcheck disable=SC2046
$CC $SAN -o quick "$top/examples/quickstart.c" $(pkg-config --cflags --libs gatrec)
LD_LIBRARY_PATH="$tmp/usr/lib" ./quick ratings.csv 1 > out.txt
[ "$(wc -l < out.txt)" -ge 1 ] && grep -q '^1\. item ' out.txt || { echo "test-install: quickstart printed:"; cat out.txt; exit 1; }
LD_LIBRARY_PATH="$tmp/usr/lib" ldd ./quick | grep -q "$tmp/usr/lib/libgatrec.so.0" || { echo "test-install: not linked to the installed copy"; exit 1; }
# shellcheck disable=SC2046
$CC $SAN -o quick-static "$top/examples/quickstart.c" $(pkg-config --cflags gatrec) "$tmp/usr/lib/libgatrec.a" \
    $(pkg-config --libs libcurl jansson zlib) $(sed -n 's/^Libs.private: //p' "$tmp/usr/lib/pkgconfig/gatrec.pc")
./quick-static ratings.csv 1 | cmp - out.txt
# the README's program is examples/movielens.c, to the byte; built against the installed copy,
# and run for 2 epochs (1 under a sanitizer: CI's time) when MovieLens 100K is at hand
sed -n '/^## In C$/,/^## /p' "$top/README.md" | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' > readme.c
cmp -s readme.c "$top/examples/movielens.c" || { echo "test-install: the README's C program and examples/movielens.c differ:"; diff readme.c "$top/examples/movielens.c"; exit 1; }
# shellcheck disable=SC2046
$CC $SAN -o movielens "$top/examples/movielens.c" $(pkg-config --cflags --libs gatrec)
if [ -f "${GATREC_TEST_DATA:-}/ml-100k/u1.base" ]; then
    LD_LIBRARY_PATH="$tmp/usr/lib" ./movielens "$GATREC_TEST_DATA/ml-100k" "$([ -n "$SAN" ] && echo 1 || echo 2)" > ml.txt
    grep -q '^P@10 0\.[0-9]*  R@10 0\.[0-9]*  NDCG@10 ' ml.txt || { echo "test-install: movielens printed:"; cat ml.txt; exit 1; }
else
    echo "SKIP: running examples/movielens.c (no ml-100k in \$GATREC_TEST_DATA; built only)"
fi
# the text-features example: profiles -> offline embedder -> GAT -> a new user folded in
# shellcheck disable=SC2046
$CC $SAN -o text-features "$top/examples/text_features.c" $(pkg-config --cflags --libs gatrec)
LD_LIBRARY_PATH="$tmp/usr/lib" ./text-features > tf.txt
grep -q '^1\. A tense crime thriller' tf.txt || { echo "test-install: text_features printed:"; cat tf.txt; exit 1; }
# the host-transport example: the host's own "network" under the reranker
# shellcheck disable=SC2046
$CC $SAN -o host-transport "$top/examples/host_transport.c" $(pkg-config --cflags --libs gatrec)
LD_LIBRARY_PATH="$tmp/usr/lib" ./host-transport 2>/dev/null > ht.txt
[ "$(head -1 ht.txt)" = "1. item 127" ] || { echo "test-install: host_transport printed:"; cat ht.txt; exit 1; }
"$tmp/usr/bin/gatrec" version | grep -q "gatrec "
cd "$top"
$MAKE -s install DESTDIR="$tmp/stage" PREFIX=/opt/gatrec BUILD="$BUILD" >/dev/null
for f in include/gatrec.h lib/libgatrec.so.0 lib/libgatrec.a lib/pkgconfig/gatrec.pc bin/gatrec; do
    [ -e "$tmp/stage/opt/gatrec/$f" ] || { echo "test-install: DESTDIR install lacks $f"; exit 1; }
done
grep -q '^prefix=/opt/gatrec$' "$tmp/stage/opt/gatrec/lib/pkgconfig/gatrec.pc"
$MAKE -s uninstall DESTDIR="$tmp/stage" PREFIX=/opt/gatrec BUILD="$BUILD" >/dev/null
[ -z "$(find "$tmp/stage" -type f)" ] || { echo "test-install: uninstall left files"; exit 1; }
echo "test-install: pkg-config build (shared and static), DESTDIR install and uninstall: ok"
