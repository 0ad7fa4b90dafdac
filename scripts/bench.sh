#!/usr/bin/env bash
# Speed of stsd against a bare SigV4 server (issue #14), server and load generator on the same host, release build.
#
# In one invocation: `sigv4-baseline` (crates/loadgen/src/bin: verifies SigV4 with the same crate as stsd and
# answers a fixed small XML body — the ceiling) and stsd (audit trail on, stored durably before each answer) are
# driven by the same `loadgen` (every request freshly signed, keep-alive HTTP/1.1) with AssumeRole (an IAM user
# with an inline policy assuming a role with 10 attached policies) and GetCallerIdentity signed with session
# credentials, at concurrency 1, 16 and 64. Every run has a 1 s warm-up (loadgen) after a discarded 3 s warm-up
# run per server; runs alternate baseline / stsd; the table shows medians of BENCH_RUNS runs (default 3) and
# the ratio stsd / baseline. Then AssumeRole at c=64 while an IAM write burst (200 PutUserPolicy/s) runs, and
# stsd's resident memory before and after.
#
# Usage: ./scripts/bench.sh [seconds-per-run]
#   BENCH_RUNS=N          runs per workload and server (default 3)
#   BENCH_BASELINE=0      skip the baseline server (stsd only)
#   BENCH_BIN_DIR=DIR     run prebuilt `stsd`, `loadgen` and `sigv4-baseline` from DIR instead of building
#   BENCH_STORE=URL       run stsd on that (empty) PostgreSQL database instead of the embedded store
#   BENCH_SOAK=SECONDS    also run AssumeRole at c=64 for that long, printing stsd's RSS every 30 s
#   BENCH_SOAK_ONLY=1     only the soak (with BENCH_SOAK): no workloads, no burst
#   STSD_LOG=FILTER       the server's log filter (default warn; e.g. warn,stsd_core=debug shows an inline audit flush)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
RUNS=${BENCH_RUNS:-3}
BIN=${BENCH_BIN_DIR:-target/release}
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  cargo build --release -q -p stsd -p loadgen
fi
DIR=$(mktemp -d)
PORT=18556
BASE_PORT=18557
export STSD_ACCOUNT_ID=111122223333 STSD_ROOT_ACCESS_KEY_ID=AKIABTX3GSDSQBHCDE22 STSD_ROOT_SECRET_ACCESS_KEY=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
STORE_ARGS=()
if [ -n "${BENCH_STORE:-}" ]; then
  STORE_ARGS=(--store "$BENCH_STORE")
fi
STSD_LOG=warn "$BIN/stsd" serve --listen 127.0.0.1:$PORT --data-dir "$DIR" "${STORE_ARGS[@]}" &
PID=$!
BASE_PID=
trap 'kill $PID $BASE_PID 2>/dev/null; rm -rf "$DIR"' EXIT
sleep 1
kill -0 $PID 2>/dev/null || { echo "stsd did not start (port $PORT busy?)" >&2; exit 1; }
E=http://127.0.0.1:$PORT
python3 - "$E" > "$DIR/setup.env" <<'PY'
import json, sys, boto3
e = sys.argv[1]
kw = dict(endpoint_url=e, region_name="us-east-1", aws_access_key_id="AKIABTX3GSDSQBHCDE22", aws_secret_access_key="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")
iam = boto3.client("iam", **kw)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
# A realistic role: 10 attached policies.
for i in range(10):
    p = iam.create_policy(PolicyName=f"p{i}", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i}*"], "Resource": f"arn:aws:s3:::b{i}/*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="bench", PolicyArn=p)
iam.create_user(UserName="loader")
iam.put_user_policy(UserName="loader", PolicyName="assume", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}]}))
k = iam.create_access_key(UserName="loader")["AccessKey"]
iam.create_user(UserName="burst")
print(f"KEY={k['AccessKeyId']} SECRET={k['SecretAccessKey']} ROLE={role}")
PY
eval "$(cat "$DIR/setup.env")"
if [ "${BENCH_BASELINE:-1}" != 0 ]; then
  "$BIN/sigv4-baseline" --listen 127.0.0.1:$BASE_PORT --access-key-id "$KEY" --secret-access-key "$SECRET" 2>/dev/null &
  BASE_PID=$!
  sleep 0.5
fi
rss() { awk '/^VmRSS/ {print $2 " kB"}' /proc/$PID/status; }
load() {  # $1 = endpoint, $2 = mode, $3 = concurrency, $4 = seconds
  "$BIN/loadgen" --endpoint "$1" --mode "$2" --access-key-id "$KEY" --secret-access-key "$SECRET" \
    --role-arn "$ROLE" --concurrency "$3" --seconds "$4"
}
servers=(stsd)
if [ -n "$BASE_PID" ]; then servers=(baseline stsd); fi
endpoint() { if [ "$1" = baseline ]; then echo "http://127.0.0.1:$BASE_PORT"; else echo "$E"; fi; }

echo "# stsd speed — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, ${SECS} s per run, median of ${RUNS}"
echo
echo "stsd RSS at start: $(rss)"
if [ "${BENCH_SOAK_ONLY:-0}" = 0 ]; then
for s in "${servers[@]}"; do load "$(endpoint "$s")" assume-role 64 3 > /dev/null; done
RESULTS="$DIR/results"
: > "$RESULTS"
echo
echo '```'
for mode in assume-role caller-identity-session; do
  for c in 1 16 64; do
    for run in $(seq 1 "$RUNS"); do
      for s in "${servers[@]}"; do
        line=$(load "$(endpoint "$s")" "$mode" "$c" "$SECS")
        echo "server=$s run=$run $line"
        echo "server=$s run=$run $line" >> "$RESULTS"
      done
    done
  done
done
echo '```'
echo
python3 - "$RESULTS" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(re.findall(r"(\w+)=([\w.]+)", line))
    rows.setdefault((f["mode"], int(f["concurrency"]), f["server"]), []).append(f)
def med(runs, k):
    return statistics.median(float(r[k]) for r in runs)
print("| workload | concurrency | baseline req/s | stsd req/s | ratio | stsd p50 ms | stsd p99 ms | stsd max ms | stsd errors |")
print("|---|---|---|---|---|---|---|---|---|")
for (mode, c, server), runs in sorted(rows.items()):
    if server != "stsd":
        continue
    base = rows.get((mode, c, "baseline"))
    b = med(base, "throughput") if base else None
    s = med(runs, "throughput")
    print(f"| {mode} | {c} | {f'{b:.0f}' if b else '-'} | {s:.0f} | {f'{s / b:.2f}' if b else '-'} | "
          f"{med(runs, 'p50'):.2f} | {med(runs, 'p99'):.2f} | {med(runs, 'max'):.2f} | "
          f"{sum(int(r['errors']) for r in runs)} |")
PY
echo
echo "## AssumeRole at c=64 during an IAM write burst (200 PutUserPolicy/s with the root keys, same node)"
echo
echo '```'
"$BIN/loadgen" --endpoint "$E" --mode put-user-policy --user-name burst --access-key-id "$STSD_ROOT_ACCESS_KEY_ID" \
  --secret-access-key "$STSD_ROOT_SECRET_ACCESS_KEY" --role-arn "$ROLE" --concurrency 4 --rate 200 \
  --seconds "$((SECS + 1))" > "$DIR/burst.out" &
BURST=$!
echo "with burst: $(load "$E" assume-role 64 "$SECS")"
wait $BURST
echo "burst: $(cat "$DIR/burst.out")"
echo '```'
echo
fi
echo "stsd RSS at end: $(rss)"
if [ -n "${BENCH_SOAK:-}" ]; then
  echo
  echo "## Soak: AssumeRole at c=64 for ${BENCH_SOAK} s, stsd RSS every 30 s"
  load "$E" assume-role 64 "$BENCH_SOAK" > "$DIR/soak.out" &
  SOAK=$!
  while kill -0 $SOAK 2>/dev/null; do echo "t=$(date -u +%H:%M:%S) rss=$(rss)"; sleep 30; done
  cat "$DIR/soak.out"
  echo "stsd RSS after the soak: $(rss)"
fi
