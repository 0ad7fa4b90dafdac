#!/usr/bin/env bash
# Throughput/latency of AssumeRole and GetCallerIdentity-with-session-credentials against a release build,
# server and load generator on the same host. Usage: ./scripts/bench.sh [seconds]
# BENCH_BIN_DIR=DIR runs prebuilt `stsd` and `loadgen` from DIR instead of building (to compare two commits back
# to back on the same machine). BENCH_STORE=postgres://… runs the server on that (empty) PostgreSQL database.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
BIN=${BENCH_BIN_DIR:-target/release}
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  cargo build --release -q -p stsd -p loadgen
fi
DIR=$(mktemp -d)
PORT=18556
export STSD_ACCOUNT_ID=111122223333 STSD_ROOT_ACCESS_KEY_ID=AKIABTX3GSDSQBHCDE22 STSD_ROOT_SECRET_ACCESS_KEY=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
STORE_ARGS=()
if [ -n "${BENCH_STORE:-}" ]; then
  STORE_ARGS=(--store "$BENCH_STORE")
fi
STSD_LOG=warn "$BIN/stsd" serve --listen 127.0.0.1:$PORT --data-dir "$DIR" "${STORE_ARGS[@]}" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
sleep 1
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
print(f"KEY={k['AccessKeyId']} SECRET={k['SecretAccessKey']} ROLE={role}")
PY
eval "$(cat "$DIR/setup.env")"
for mode in assume-role caller-identity-session; do
  for c in 1 16 64; do
    "$BIN/loadgen" --endpoint $E --mode $mode --access-key-id "$KEY" --secret-access-key "$SECRET" --role-arn "$ROLE" --concurrency $c --seconds "$SECS"
  done
done
