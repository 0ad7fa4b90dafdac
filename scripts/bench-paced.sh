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
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
STORE_ARGS=()
[ -n "${BENCH_STORE:-}" ] && STORE_ARGS=(--store "$BENCH_STORE")
start "$WORK/data" "${STORE_ARGS[@]}" >"$WORK/stsd.log" 2>&1
eval "$(setup)"
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
