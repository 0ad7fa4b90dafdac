#!/usr/bin/env bash
# Tail latency below saturation (issues #13 and #14): AssumeRole paced at fixed rates (c=64, latency counted from
# when each request was due), alone and while an IAM write burst (200 PutUserPolicy/s with the root keys) runs
# on the same node. At a fixed offered rate below capacity the burst's CPU does not turn into queueing, so what
# p99 shows is waiting: for the audit commit, for a lock, for the disk. Release build, scripts/bench.sh's setup
# (a user with an inline policy assuming a role with 10 attached policies), audit trail on and durable.
#
# Usage: ./scripts/bench-paced.sh [seconds-per-run] [rate ...]      (defaults: 8 s; 4000 and 8000 req/s)
#   BENCH_RUNS=N        alternated alone/burst pairs per rate (default 2)
#   BENCH_BIN_DIR=DIR   run prebuilt `stsd` and `loadgen` from DIR instead of building
#   BENCH_STORE=URL     run stsd on that (empty) PostgreSQL database instead of the embedded store
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
shift || true
RATES=("$@")
[ ${#RATES[@]} -eq 0 ] && RATES=(4000 8000)
RUNS=${BENCH_RUNS:-2}
BIN=${BENCH_BIN_DIR:-target/release}
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  cargo build --release -q -p stsd -p loadgen
fi
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export STSD_ACCOUNT_ID=111122223333 STSD_ROOT_ACCESS_KEY_ID=AKIABTX3GSDSQBHCDE22 STSD_ROOT_SECRET_ACCESS_KEY=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
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
STORE_ARGS=()
[ -n "${BENCH_STORE:-}" ] && STORE_ARGS=(--store "$BENCH_STORE")
PORT=$(free_port)
STSD_LOG=warn "$BIN/stsd" serve --listen 127.0.0.1:$PORT --data-dir "$WORK/data" "${STORE_ARGS[@]}" >"$WORK/stsd.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  "$PY" -c "import socket;socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
  sleep 0.1
done
E=http://127.0.0.1:$PORT
sed -n '/^python3 - "\$E"/,/^PY$/p' scripts/bench.sh | sed '1d;$d' > "$WORK/setup.py"
eval "$("$PY" "$WORK/setup.py" "$E")"
assume() { # SECS [RATE]
  "$BIN/loadgen" --endpoint "$E" --mode assume-role --access-key-id "$KEY" --secret-access-key "$SECRET" \
    --role-arn "$ROLE" --concurrency 64 --seconds "$1" ${2:+--rate "$2"}
}
assume 3 >/dev/null
echo "# bench-paced $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD) on $(nproc) cores, store: $([ -n "${BENCH_STORE:-}" ] && echo postgres || echo sqlite)"
for rate in "${RATES[@]}"; do
  for run in $(seq "$RUNS"); do
    echo "rate $rate run $run alone:      $(assume "$SECS" "$rate")"
    "$BIN/loadgen" --endpoint "$E" --mode put-user-policy --user-name burst --access-key-id "$STSD_ROOT_ACCESS_KEY_ID" \
      --secret-access-key "$STSD_ROOT_SECRET_ACCESS_KEY" --role-arn unused --concurrency 4 --rate 200 \
      --seconds "$((SECS + 1))" > "$WORK/burst.out" &
    BURST=$!
    echo "rate $rate run $run with burst: $(assume "$SECS" "$rate")"
    wait $BURST
    echo "rate $rate run $run the burst:  $(cat "$WORK/burst.out")"
  done
done
