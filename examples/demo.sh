#!/bin/sh
# The README's main job on a fresh Debian machine: install the packages libgatrec needs, build,
# fetch MovieLens 100K from GroupLens (checksum verified; skipped when $GATREC_DATA_DIR already
# holds it), write user and item profiles (by the LLM when $GATREC_LLM_BASE_URL is set, else
# templates), embed them offline (LSA), train libgatrec's model on them (attn, fold u1),
# evaluate, and recommend with a justification for each item (reranked and justified by the LLM
# when one is set).
set -eu
cd "$(dirname "$0")/.."
packages="build-essential pkg-config ca-certificates python3 libcurl4-openssl-dev libjansson-dev libblis-dev zlib1g-dev check libmicrohttpd-dev"
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
if [ -n "${GATREC_LLM_BASE_URL:-}" ]; then
    echo "== profiles: written by the LLM at $GATREC_LLM_BASE_URL (cached; templates for any it cannot write)"
    rerank="--rerank list"
else
    echo "== profiles: templates written from the data (set GATREC_LLM_BASE_URL to have an LLM write them)"
    rerank=""
fi
$gatrec profiles generate --dataset ml-100k --split u1 --out "$work/profiles.jsonl"
echo "== embedding the profiles with the offline LSA embedder (TF-IDF + randomised SVD, 384 dimensions)"
$gatrec embed --dataset ml-100k --profiles "$work/profiles.jsonl" --embedder lsa --embedder-out "$work/embedder.bin" \
    --out "$work/features.tsv"
echo "== training attn (graph attention on ID + text) on fold u1 from those features (about a minute on 2 cores)"
$gatrec train --dataset ml-100k --split u1 --model attn --features "$work/features.tsv" --embedder "$work/embedder.bin" \
    --epochs "${GATREC_DEMO_EPOCHS:-25}" --out "$work/attn.gatrec"
echo "== evaluating (paper protocol and standard protocol, K = 10)"
$gatrec eval --model "$work/attn.gatrec" --protocol paper -k 10
$gatrec eval --model "$work/attn.gatrec" --protocol standard -k 10
echo "== recommending for user ${GATREC_DEMO_USER:-1}, each with its justification and evidence"
# shellcheck disable=SC2086
$gatrec recommend --model "$work/attn.gatrec" --user "${GATREC_DEMO_USER:-1}" -k 5 --evidence --explain \
    --profiles "$work/profiles.jsonl" $rerank
