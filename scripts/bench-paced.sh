#!/usr/bin/env bash
# Tail latency below saturation (issues #13 and #14): AssumeRole paced at fixed rates (c=64, latency counted from
# when each request was due), alone and while an IAM write burst (200 PutUserPolicy/s with the root keys) runs
# on the same node. At a fixed offered rate below capacity the burst's CPU does not turn into queueing, so what
# p99 shows is waiting: for the audit commit, for a lock, for the disk. Release build, scripts/bench.sh's setup
# (a user with an inline policy assuming a role with 10 attached policies), audit trail on and durable.
#
# First the burst runs alone, and the CPU time it cost per write is printed: stsd's (its process) and the
# database's (every local `postgres` process; 0 on the embedded store, whose work is stsd's own), the share of
# the machine's CPU time the hypervisor gave to other guests meanwhile (steal), and stsd's context switches.
# Each AssumeRole line ends with the audit group commits of that run and the bucket bounds of their median and
# 99th-percentile duration in the store (`stsd_store_commit_duration_seconds{what="audit"}`): whether the
# burst makes the store slower to commit the groups every answer waits for.
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
burst() { # SECS
  "$BIN/loadgen" --endpoint "$E" --mode put-user-policy --user-name burst --access-key-id "$STSD_ROOT_ACCESS_KEY_ID" \
    --secret-access-key "$STSD_ROOT_SECRET_ACCESS_KEY" --role-arn unused --concurrency 4 --rate 200 --seconds "$1"
}
ticks() { awk '{s += $14 + $15} END {print s + 0}' "$@" 2>/dev/null || true; }
db_ticks() { local p files=(); for p in $(pgrep -x postgres); do files+=("/proc/$p/stat"); done; [ ${#files[@]} -gt 0 ] && ticks "${files[@]}" || echo 0; }
per_write() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0)}'; }
# Writes the server answered (the load generator's count leaves out its warm-up second).
writes() { "$PY" -c 'import sys,urllib.request; print(sum(int(float(l.split()[-1])) for l in urllib.request.urlopen(sys.argv[1]).read().decode().splitlines() if l.startswith("stsd_requests_total{action=\"PutUserPolicy\"")))' "$E/metrics"; }
# CPU time the hypervisor gave other guests (steal): on a shared host it inflates every figure here.
cpu_line() { awk '/^cpu / {print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
# Context switches of all stsd's threads: each is a thread that waited (for an answer, a lock, a hand-off).
switches() { cat /proc/$PID/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }
s0=$(ticks /proc/$PID/stat) d0=$(db_ticks) w0=$(writes) c0=$(cpu_line) x0=$(switches)
line=$(burst "$SECS")
s1=$(ticks /proc/$PID/stat) d1=$(db_ticks) w1=$(writes) c1=$(cpu_line) x1=$(switches)
n=$((w1 - w0))
steal=$(echo "$c0 $c1" | awk '{printf "%.0f", ($4 > $2 ? 100 * ($3 - $1) / ($4 - $2) : 0)}')
echo "the burst alone: $line cpu_per_write: stsd=$(per_write $((s1 - s0)) "$n") us database=$(per_write $((d1 - d0)) "$n") us (steal ${steal}%)\
 stsd_context_switches_per_write=$(awk -v x=$((x1 - x0)) -v n="$n" 'BEGIN {printf "%.1f", (n > 0 ? x / n : 0)}')"
# How long the store took to commit audit groups (every answer waits for its group's) during one run: the
# bucket bounds (seconds) the median and the 99th percentile of `stsd_store_commit_duration_seconds` fell in.
scrape() { "$PY" -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$E/metrics" > "$1"; }
commits() { # BEFORE AFTER
  "$PY" - "$1" "$2" <<'PY'
import re, sys
def buckets(path):
    pat = re.compile(r'stsd_store_commit_duration_seconds_bucket\{what="audit",le="([^"]+)"\} (\d+)')
    return [(m.group(1), int(m.group(2))) for m in map(pat.match, open(path)) if m]
before = dict(buckets(sys.argv[1]))
delta = [(le, n - before.get(le, 0)) for le, n in buckets(sys.argv[2])]
total = delta[-1][1] if delta else 0
bound = lambda q: next((le for le, n in delta if n >= q * total), "?") if total else "-"
print(f"audit_commits={total} commit_p50<={bound(0.5)}s commit_p99<={bound(0.99)}s")
PY
}
paced() { # SECS RATE: one paced AssumeRole run and the audit commits it waited for
  scrape "$WORK/m0"
  local line
  line=$(assume "$1" "$2")
  scrape "$WORK/m1"
  echo "$line $(commits "$WORK/m0" "$WORK/m1")"
}
for rate in "${RATES[@]}"; do
  for run in $(seq "$RUNS"); do
    echo "rate $rate run $run alone:      $(paced "$SECS" "$rate")"
    burst "$((SECS + 1))" > "$WORK/burst.out" &
    BURST=$!
    echo "rate $rate run $run with burst: $(paced "$SECS" "$rate")"
    wait $BURST
    echo "rate $rate run $run the burst:  $(cat "$WORK/burst.out")"
  done
done
