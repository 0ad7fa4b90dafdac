#!/usr/bin/env bash
# Measurements for several nodes on PostgreSQL (issue #13), on one host, release build:
#   1. AssumeRole and session GetCallerIdentity throughput of one node on PostgreSQL vs the embedded SQLite store
#      (scripts/bench.sh with BENCH_STORE);
#   2. write-to-visible latency between nodes: CreateUser on node A, polled (1 ms) on node B, p50/p99 of N writes;
#   3. AssumeRole p99 on a node while an IAM write burst (PutUserPolicy at a fixed rate) runs against it.
# Usage: ./scripts/bench-cluster.sh [seconds-per-run]. Prints a table to paste, with date and commit.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
cargo build --release -q -p stsd -p loadgen
BIN=target/release
PG_DIR=$(mktemp -d /tmp/stsd-bench-pg.XXXXXX)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/pg-cluster.sh stop "$PG_DIR"
  rm -rf "$PG_DIR" "$WORK"
}
trap cleanup EXIT
ADMIN=$(scripts/pg-cluster.sh start "$PG_DIR")
db() { local name="bench_$1"; psql "$ADMIN" -q -c "CREATE DATABASE $name" >/dev/null; echo "${ADMIN%/*}/$name"; }

echo "# stsd cluster benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD), $(nproc) cores"
echo
echo "## 1. One node: SQLite vs PostgreSQL"
echo
echo "### SQLite"
BENCH_RUNS=1 BENCH_BASELINE=0 BENCH_BIN_DIR=$BIN ./scripts/bench.sh "$SECS"
echo
echo "### PostgreSQL"
BENCH_RUNS=1 BENCH_BASELINE=0 BENCH_BIN_DIR=$BIN BENCH_STORE=$(db single) ./scripts/bench.sh "$SECS"

export STSD_ACCOUNT_ID=111122223333 STSD_ROOT_ACCESS_KEY_ID=AKIABTX3GSDSQBHCDE22 STSD_ROOT_SECRET_ACCESS_KEY=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
CLUSTER=$(db cluster)
for port in 18601 18602; do
  STSD_LOG=warn "$BIN/stsd" serve --listen 127.0.0.1:$port --data-dir "$WORK/$port" --store "$CLUSTER" &
  PIDS+=($!)
done
sleep 2
echo
echo "## 2. Write-to-visible latency (CreateUser on node A, GetUser polled every 1 ms on node B)"
echo
python3 - <<'PY'
import time, boto3, botocore.config
kw = dict(region_name="us-east-1", aws_access_key_id="AKIABTX3GSDSQBHCDE22",
          aws_secret_access_key="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",
          config=botocore.config.Config(retries={"total_max_attempts": 1}))
a = boto3.client("iam", endpoint_url="http://127.0.0.1:18601", **kw)
b = boto3.client("iam", endpoint_url="http://127.0.0.1:18602", **kw)
lat = []
for i in range(200):
    name = f"vis{i}"
    a.create_user(UserName=name)
    t0 = time.perf_counter()
    while True:
        try:
            b.get_user(UserName=name)
            break
        except b.exceptions.NoSuchEntityException:
            time.sleep(0.001)
    lat.append(time.perf_counter() - t0)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"| writes | p50 | p99 | max |\n| --- | --- | --- | --- |\n| {len(lat)} | {q(0.5):.1f} ms | {q(0.99):.1f} ms | {lat[-1]*1000:.1f} ms |")
PY
echo
burst_bench() {  # $1 = endpoint; a role, a loader and a burst user with keys, then AssumeRole alone and with a burst
  python3 - "$1" > "$WORK/setup.env" <<'PY'
import json, sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIABTX3GSDSQBHCDE22",
          aws_secret_access_key="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")
iam = boto3.client("iam", **kw)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="burstbench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
iam.create_user(UserName="burstloader")
iam.create_user(UserName="burst")
iam.put_user_policy(UserName="burstloader", PolicyName="assume", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}]}))
k = iam.create_access_key(UserName="burstloader")["AccessKey"]
print(f"KEY={k['AccessKeyId']} SECRET={k['SecretAccessKey']} ROLE={role}")
PY
  eval "$(cat "$WORK/setup.env")"
  local run=("$BIN/loadgen" --endpoint "$1" --mode assume-role --access-key-id "$KEY" --secret-access-key "$SECRET" --role-arn "$ROLE" --concurrency 64 --seconds "$SECS")
  echo "without burst:"
  "${run[@]}"
  echo "with 200 PutUserPolicy/s on the same node (loadgen put-user-policy, root keys):"
  "$BIN/loadgen" --endpoint "$1" --mode put-user-policy --user-name burst --access-key-id AKIABTX3GSDSQBHCDE22 \
    --secret-access-key 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 --role-arn "$ROLE" --concurrency 4 --rate 200 \
    --seconds "$((SECS + 1))" > "$WORK/burst.out" &
  local burst=$!
  "${run[@]}"
  wait $burst
  echo "burst: $(cat "$WORK/burst.out")"
}

echo "## 3. AssumeRole (c=64) on a node, without and with an IAM write burst on the same node"
echo
echo "### PostgreSQL (node A of the cluster)"
burst_bench http://127.0.0.1:18601
echo
echo "### SQLite"
STSD_LOG=warn "$BIN/stsd" serve --listen 127.0.0.1:18603 --data-dir "$WORK/sqlite" &
PIDS+=($!)
sleep 2
burst_bench http://127.0.0.1:18603
