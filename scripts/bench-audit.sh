#!/usr/bin/env bash
# The audit trail's cost and speed, on a release build, server and load generator on this host:
#  1. bytes per event on disk: AssumeRole at c=64 (scripts/bench.sh's setup: role with 10 attached policies,
#     user with an inline policy) for SECS seconds, then audit.db's size over the events it holds;
#  2. what recording costs: the same run with the trail off (--audit-disabled-for-benchmarks), as a ratio;
#     median of 3 alternating runs each, after a warm-up;
#  3. LookupEvents p50/p99 per attribute (pagination included) on trails of 1 and 10 million events made by
#     `stsd audit generate` (synthetic traffic shaped like real: see crates/stsd/src/audit/synth.rs).
# Usage: ./scripts/bench-audit.sh [seconds] [big-trail-events]   (defaults 20 and 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
BIG=${2:-10000000}
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

echo "# bench-audit $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD) on $(nproc) cores"
echo
echo "## AssumeRole at c=64, ${SECS} s per run: audit trail on vs off"
echo
echo "| run | trail | req/s | p50 ms | p99 ms | events stored | audit.db bytes | bytes/event |"
echo "|---|---|---|---|---|---|---|---|"
declare -a ON OFF
for run in 1 2 3; do
  for trail in on off; do
    DIR="$WORK/run-$run-$trail"
    flags=()
    [ $trail = off ] && flags=(--audit-disabled-for-benchmarks)
    start "$DIR" "${flags[@]}"
    eval "$(setup)"
    "$BIN/loadgen" --endpoint $E --mode assume-role --access-key-id "$KEY" --secret-access-key "$SECRET" --role-arn "$ROLE" --concurrency 64 --seconds 2 >/dev/null
    out=$("$BIN/loadgen" --endpoint $E --mode assume-role --access-key-id "$KEY" --secret-access-key "$SECRET" --role-arn "$ROLE" --concurrency 64 --seconds "$SECS")
    stop
    rps=$(sed -n 's/.*throughput=\([0-9.]*\).*/\1/p' <<<"$out")
    p50=$(sed -n 's/.*p50=\([0-9.]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/.*p99=\([0-9.]*\).*/\1/p' <<<"$out")
    if [ $trail = on ]; then
      # A row is a block of `events` events.
      events=$("$PY" -c "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute('SELECT sum(events) FROM audit_records').fetchone()[0])" "$DIR/audit.db")
      bytes=$(stat -c %s "$DIR/audit.db")
      per=$(( bytes / events ))
      ON+=("$rps"); PER+=("$per")
      echo "| $run | on | $rps | $p50 | $p99 | $events | $bytes | $per |"
    else
      OFF+=("$rps")
      echo "| $run | off | $rps | $p50 | $p99 | | | |"
    fi
    rm -rf "$DIR"
  done
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
m_on=$(median "${ON[@]}"); m_off=$(median "${OFF[@]}"); m_per=$(median "${PER[@]}")
echo
echo "median: trail on $m_on req/s, off $m_off req/s, ratio $("$PY" -c "print(f'{$m_on/$m_off:.2f}')"); $m_per bytes per event on disk (audit.db, index included)"
echo
echo "## LookupEvents on synthetic trails"
echo
for n in 1000000 "$BIG"; do
  # A fresh trail per size, its events spread evenly over the last 30 days (time order, as a real trail).
  DIR="$WORK/lookup-$n"
  start "$DIR"; stop
  "$BIN/stsd" audit generate --data-dir "$DIR" --events $n --seed $n 2>&1 | sed 's/^/    /'
  echo "    audit.db: $(stat -c %s "$DIR/audit.db") bytes for $n events"
  start "$DIR"
  "$PY" scripts/bench_audit_lookup.py "$E" "$n events" 100
  stop
  rm -rf "$DIR"
done
