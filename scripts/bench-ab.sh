#!/usr/bin/env bash
# Two stsd binaries back to back (issue #14): this machine's throughput varies by tens of percent between runs,
# so a change is judged by alternating the binary before and after it. Each run starts a fresh server (audit
# trail on), applies `scripts/bench.sh`'s setup, warms up 2 s, then drives AssumeRole at c=64 (or CONCURRENCY) for
# SECONDS with `loadgen` and prints the server's CPU time per request (user + system, from /proc) beside loadgen's
# result.
# CPU per request is the steadier measure: it does not depend on how much of the machine the generator got.
#
# Usage: ./scripts/bench-ab.sh STSD_A STSD_B [seconds] [runs]    (defaults: 8 s, 3 alternated pairs)
#   The binaries' paths are printed as given: keep copies under target/ (e.g. target/ab/stsd-<commit>).
#   BENCH_BIN_DIR=DIR   take `loadgen` from DIR instead of building it
#   MODE=assume-role|caller-identity-session   the workload (default assume-role)
#   CONCURRENCY=N       connections (default 64; at 1 loadgen's p50 is the latency a lone client sees)
set -euo pipefail
A=$(realpath "$1")
B=$(realpath "$2")
cd "$(dirname "$0")/.."
SECS=${3:-8}
RUNS=${4:-3}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
ticks_per_s=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
C=${CONCURRENCY:-64}
echo "# bench-ab $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, ${MODE:-assume-role} c=$C, ${SECS} s per run"
echo "# A = $1"
echo "# B = $2"
for run in $(seq "$RUNS"); do
  for side in A B; do
    bin=$A
    [ "$side" = B ] && bin=$B
    STSD=$bin start "$WORK/data-$run-$side"
    eval "$(setup)"
    load() {
      "$BIN/loadgen" --endpoint "$E" --mode "${MODE:-assume-role}" --access-key-id "$KEY" \
        --secret-access-key "$SECRET" --role-arn "$ROLE" --concurrency "$C" --seconds "$1"
    }
    load 2 > /dev/null
    t0=$(cpu_ticks)
    out=$(load "$SECS")
    t1=$(cpu_ticks)
    stop
    n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$out")
    us=$(awk -v t=$((t1 - t0)) -v hz="$ticks_per_s" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    echo "run $run $side: server_cpu_us_per_request=$us $out"
  done
done
