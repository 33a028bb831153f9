#!/bin/sh
# The README's main job on a fresh Debian machine: install the packages libgatrec needs, build,
# fetch MovieLens 100K from GroupLens (checksum verified; skipped when $GATREC_DATA_DIR already
# holds it), train the GAT on the official fold u1, evaluate, and recommend with the evidence
# for each item.
set -eu
cd "$(dirname "$0")/.."
packages="build-essential pkg-config ca-certificates python3 libcurl4-openssl-dev libjansson-dev libblis-dev zlib1g-dev check"
need_install=0
for p in $packages; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || need_install=1
done
if [ "$need_install" = 1 ]; then
    echo "== installing Debian packages: $packages"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi
echo "== building"
make -s -j2 all
gatrec=build/gatrec
work=${GATREC_DEMO_DIR:-build/demo}
mkdir -p "$work"
echo "== fetching MovieLens 100K"
$gatrec data fetch ml-100k
$gatrec data info --dataset ml-100k
echo "== training the GAT on fold u1 (about a minute on 2 cores)"
$gatrec train --dataset ml-100k --split u1 --model gat --epochs "${GATREC_DEMO_EPOCHS:-300}" --out "$work/gat.gatrec"
echo "== evaluating (paper protocol and standard protocol, K = 10)"
$gatrec eval --model "$work/gat.gatrec" --protocol paper -k 10
$gatrec eval --model "$work/gat.gatrec" --protocol standard -k 10
echo "== recommending for user ${GATREC_DEMO_USER:-1}, with the rated films that support each"
$gatrec recommend --model "$work/gat.gatrec" --user "${GATREC_DEMO_USER:-1}" -k 5 --evidence
