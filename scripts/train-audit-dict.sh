#!/usr/bin/env bash
# Maintainers only: (re)train the audit trail's compression dictionary. Starts a release stsd on a temporary
# data dir, drives it with scripts/audit_dict_corpus.py (varied, seeded traffic: many actions, refusals, SDK user
# agents, random names), then trains a dictionary on the stored records. Prints where it wrote the dictionary.
# A dictionary that records were written with must never change: a new one needs a new record format byte in
# crates/core/src/trail.rs (the old dictionary stays for reading). Usage: ./scripts/train-audit-dict.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:-4000}
cargo build --release -q -p stsd
DIR=$(mktemp -d)
PORT=18558
export STSD_ACCOUNT_ID=$(python3 -c 'import random; print(random.Random(7).randint(10**11, 10**12 - 1))')
export STSD_ROOT_ACCESS_KEY_ID=AKIAQ3EGRDICTTRAIN01 STSD_ROOT_SECRET_ACCESS_KEY=dictTrainingRootSecretKey000000000000000
STSD_LOG=warn target/release/stsd serve --listen 127.0.0.1:$PORT --data-dir "$DIR" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
sleep 1
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
"$PY" scripts/audit_dict_corpus.py "http://127.0.0.1:$PORT" "$STSD_ROOT_ACCESS_KEY_ID" "$STSD_ROOT_SECRET_ACCESS_KEY" "$CALLS"
kill $PID; wait $PID 2>/dev/null || true
OUT=${OUT:-target/audit-dict.zdict}
target/release/stsd audit train-dictionary --data-dir "$DIR" --out "$OUT" --size "${SIZE:-16384}"
echo "dictionary: $OUT"
