#!/bin/sh
# Your own data, end to end, with no MovieLens: the project's synthetic generator writes a shop's
# log as an application would have it (string ids, implicit "plays" events with repeats, ISO 8601
# times, a catalogue of titles, descriptions and categories), and the command line takes it from
# there: import, template profiles from the catalogue, the offline LSA embedder, attn trained on a
# temporal split, a list for a customer by their string id, a new customer folded in from what they
# played, and the evaluation on the latest tenth of the log.
#
# On your own files: replace the generator's step by your events (and catalogue) and name your
# columns: gatrec data import --events my-events.csv --user-column ... --item-column ... (docs/data.md).
#
# make check runs it with the programs it built: GATREC_CLI and GATREC_SYNTH name them (then nothing
# is built here), GATREC_OWN_DATA_DIR the working directory, GATREC_OWN_DATA_EPOCHS attn's epochs
# (default 20; fewer under the sanitizers).
set -eu
cd "$(dirname "$0")/.."
work=${GATREC_OWN_DATA_DIR:-build/own-data}
gatrec=${GATREC_CLI:-build/gatrec}
synth=${GATREC_SYNTH:-build/bench/bench_synth}
[ -n "${GATREC_CLI:-}" ] || make -s -j2 all build/bench/bench_synth
mkdir -p "$work"
echo "== an application's own data (synthetic: 1,200 customers, 900 products)"
"$synth" --generic "$work" small
echo "== import: string ids, implicit events (repeats summed), a catalogue"
$gatrec data import --events "$work/events.csv" --user-column customer --item-column sku --weight-column plays \
    --time-column when --items "$work/items.csv" --users "$work/users.csv" --domain products --out "$work/shop"
$gatrec data info --dataset "$work/shop"
echo "== profiles written from the catalogue's columns, embedded offline (LSA)"
$gatrec profiles generate --dataset "$work/shop" --split temporal:0.1 --out "$work/profiles.jsonl"
$gatrec embed --dataset "$work/shop" --profiles "$work/profiles.jsonl" --embedder lsa \
    --embedder-out "$work/embedder.bin" --out "$work/features.tsv"
echo "== attn on the log but its latest tenth"
$gatrec train --dataset "$work/shop" --split temporal:0.1 --model attn --epochs "${GATREC_OWN_DATA_EPOCHS:-20}" --features "$work/features.tsv" \
    --embedder "$work/embedder.bin" --out "$work/attn.gatrec"
echo "== a customer's list, by their own id"
$gatrec recommend --model "$work/attn.gatrec" --user cust-000001 -k 5
echo "== a new customer, folded in from two plays (an id with a comma is quoted)"
$gatrec recommend --model "$work/attn.gatrec" --new-user "likes bold, bright pieces" \
    --rated 'sku-00064:4,"sku-00005, édition ""deluxe""":2' -k 5
echo "== evaluated on the latest tenth of the log"
$gatrec eval --model "$work/attn.gatrec" -k 10
