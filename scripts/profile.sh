#!/usr/bin/env bash
# Where stsd's CPU goes (issue #14): a release stsd with `scripts/bench.sh`'s setup (audit trail on) under AssumeRole
# at c=64 from `loadgen`, profiled with `perf record --call-graph dwarf` for a few seconds mid-run; writes a
# flamegraph SVG (inferno) and prints each thread's share and the shares of the hot path's parts
# (`scripts/perf-shares.py`). Needs `perf` (Debian: linux-perf) and permission to profile the process
# (`kernel.perf_event_paranoid` ≤ 1, or root); installs inferno's two commands under target/tools if missing.
#
# Usage: ./scripts/profile.sh [OUT.svg] [seconds-profiled]     (defaults: docs/perf/assume-role-c64.svg, 5 s)
#   BENCH_BIN_DIR=DIR   profile prebuilt `stsd` / `loadgen` from DIR instead of building
#   MODE=caller-identity-session   profile the session GetCallerIdentity workload instead
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/perf/assume-role-c64.svg}
SECS=${2:-5}
MODE=${MODE:-assume-role}
command -v perf > /dev/null || { echo "perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 1; }
TOOLS=target/tools
if ! [ -x "$TOOLS/bin/inferno-flamegraph" ]; then
  cargo install --locked --quiet inferno --version 0.12.8 --root "$TOOLS"
fi
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
start "$WORK/data"
eval "$(setup)"
load() {
  "$BIN/loadgen" --endpoint "$E" --mode "$MODE" --access-key-id "$KEY" --secret-access-key "$SECRET" \
    --role-arn "$ROLE" --concurrency 64 --seconds "$1"
}
load 2 > /dev/null
load $((SECS + 3)) > "$WORK/load.out" &
LOAD=$!
sleep 1
perf record -q -F 999 --call-graph dwarf,16384 -p "$PID" -o "$WORK/perf.data" -- sleep "$SECS" 2> /dev/null
wait $LOAD
stop
perf script -i "$WORK/perf.data" 2> /dev/null > "$WORK/perf.txt"
mkdir -p "$(dirname "$OUT")"
"$TOOLS/bin/inferno-collapse-perf" < "$WORK/perf.txt" \
  | "$TOOLS/bin/inferno-flamegraph" --minwidth 0.2 --title "stsd $(git rev-parse --short HEAD 2>/dev/null), $MODE c=64, audit trail on" \
  > "$OUT"
echo "# profile $(date -u +%Y-%m-%dT%H:%MZ) commit $(git rev-parse --short HEAD 2>/dev/null) on $(nproc) cores, $MODE c=64, ${SECS} s of perf"
echo "load: $(cat "$WORK/load.out")"
echo "flamegraph: $OUT"
python3 scripts/perf-shares.py \
  'HTTP connection (hyper, axum, the whole request)=hyper::proto::h1::dispatch' \
  'the request pipeline (stsd::pipeline::process)=stsd::pipeline::process' \
  'authentication (SigV4)=stsd::auth::authenticate_with' \
  '  SigV4 signature check=sigv4::verify::verify_with' \
  'decoding the request (Query → typed input)=stsd_wire::generated::.*Request::read|stsd_wire::query::Params::decode' \
  'AssumeRole: trust and identity-policy decisions=stsd::authz::authorize_assume' \
  'AssumeRole: sealing the session token=stsd_core::tokens::KeyRing::seal' \
  '  XChaCha20-Poly1305=chacha20poly1305' \
  'writing the XML answer=stsd_wire::generated::.*Response as stsd_wire::Output>::encode' \
  'building the CloudTrail event=stsd::audit::event::build_rows_for' \
  'waiting for the audit commit=stsd::audit::Audit::acknowledged' \
  'audit batch (writer thread, or a lone request itself): compressing blocks (zstd)=stsd_core::trail::Codec::encode' \
  'audit batch: sealing and journaling a group=sqlite_audit::AuditDb::append' \
  'audit flusher: journaled groups into audit.db (SQLite)=sqlite_audit::Inner::flush' \
  'audit checkpointer=sqlite_audit::spawn_checkpointer' \
  'response write (writev and what it wakes)=poll_flush' \
  'allocator (mimalloc)=^_?mi_|mi_malloc|mi_free' \
  'kernel scheduling (context switches)=^(__schedule|schedule)$' \
  < "$WORK/perf.txt"
