#!/usr/bin/env bash
# The authorizer's speed: authorize decisions per second and their latency asked of /_stsd/authorize directly
# (an S3 GetObject signed freshly with role-session credentials, as nginx's auth_request forwards it), at
# concurrency 1, 16 and 64; then the latency the authorizer adds on the proxy path: the same GetObject through
# nginx with the README's auth_request snippet vs through nginx without it, to the same upstream (a static nginx
# answer, so only the proxy path is measured). Release binaries, audit trail on, everything on this host.
# Usage: ./scripts/bench-authorize.sh [seconds]   (needs nginx: installed with apt if missing; boto3 from .venv)
# Prints markdown tables to paste, with date and commit; fails if any measured request was not answered 200.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
BIN=${BENCH_BIN_DIR:-target/release}
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  cargo build --release -q -p stsd -p loadgen
fi
if [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
DIR=$(mktemp -d)
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port); PROXY=$(free_port); PLAIN=$(free_port); STATIC=$(free_port)
export STSD_ACCOUNT_ID=111122223333 STSD_ROOT_ACCESS_KEY_ID=AKIABTX3GSDSQBHCDE22 STSD_ROOT_SECRET_ACCESS_KEY=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
STSD_LOG=warn "$BIN/stsd" serve --listen 127.0.0.1:$PORT --data-dir "$DIR/stsd" &
PID=$!
NGINX_PID=
cleanup() {
  kill "$PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
# wait_port PORT WHAT: until something listens on 127.0.0.1:PORT (30 s at most).
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench-authorize: $2 did not start listening on port $1" >&2
  exit 1
}
wait_port "$PORT" stsd
E=http://127.0.0.1:$PORT
"$PY" - "$E" > "$DIR/setup.env" <<'PY'
import json, sys, urllib.parse, urllib.request
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
e = sys.argv[1]
key, secret = "AKIABTX3GSDSQBHCDE22", "Zx9Tq4LmN8vB2cR7hJ5kW3pY6sD1fG0aE4uI8oPq"
kw = dict(endpoint_url=e, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
iam = boto3.client("iam", **kw)
body = urllib.parse.urlencode({"Action": "RegisterBucket", "Version": "2010-05-08", "BucketName": "bench-data"})
req = AWSRequest(method="POST", url=e + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
SigV4Auth(Credentials(key, secret), "iam", "us-east-1").add_auth(req)
urllib.request.urlopen(urllib.request.Request(req.url, data=body.encode(), headers=dict(req.headers), method="POST"))
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
# A realistic role: 10 attached policies, and the one that allows the benchmark's object.
for i in range(10):
    p = iam.create_policy(PolicyName=f"p{i}", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i}*"], "Resource": f"arn:aws:s3:::b{i}/*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="bench", PolicyArn=p)
iam.put_role_policy(RoleName="bench", PolicyName="data", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench-data/*"}]}))
iam.create_user(UserName="loader")
iam.put_user_policy(UserName="loader", PolicyName="assume", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}]}))
k = iam.create_access_key(UserName="loader")["AccessKey"]
print(f"KEY={k['AccessKeyId']} SECRET={k['SecretAccessKey']} ROLE={role}")
PY
eval "$(cat "$DIR/setup.env")"
LG=("$BIN/loadgen" --access-key-id "$KEY" --secret-access-key "$SECRET" --role-arn "$ROLE" --sts-endpoint "$E" --seconds "$SECS")
# run NAME ARGS…: one loadgen run; its result line is kept in $DIR/NAME. Fails unless every request was a 200.
run() {
  local name=$1; shift
  "${LG[@]}" "$@" > "$DIR/$name"
  if ! grep -q ' errors=0 ' "$DIR/$name" || grep -q ' requests=0 ' "$DIR/$name"; then
    echo "bench-authorize: run $name failed: $(cat "$DIR/$name")" >&2
    exit 1
  fi
}
# field NAME KEY: a number from a run's result line (throughput, p50, p99).
field() { sed -E "s/.* $2=([0-9.]+).*/\1/" "$DIR/$1"; }
echo "# stsd authorizer benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, ${SECS} s per run"
echo
echo "## Authorize decisions (an S3 GetObject asked of /_stsd/authorize directly)"
echo
echo "| concurrency | decisions/s | p50 | p99 |"
echo "| --- | --- | --- | --- |"
for c in 1 16 64; do
  run "authorize-$c" --endpoint "$E" --mode authorize-s3 --concurrency $c
  echo "| $c | $(field "authorize-$c" throughput) | $(field "authorize-$c" p50) ms | $(field "authorize-$c" p99) ms |"
done
# nginx: the README's snippet in front of a static upstream, and a plain proxy to the same upstream.
mkdir -p "$DIR/nginx"/{body,proxy,fastcgi,uwsgi,scgi}
"$PY" - "$PORT" "$STATIC" "$PROXY" > "$DIR/nginx/snippet.conf" <<'PY'
import re, sys
text = open("README.md").read()
snippet = re.search(r"<!-- nginx-s3-snippet:begin -->\n```nginx\n(.*?)```\n<!-- nginx-s3-snippet:end -->", text, re.S).group(1)
stsd, static, proxy = sys.argv[1:]
print(snippet.replace("127.0.0.1:8556", f"127.0.0.1:{stsd}").replace("127.0.0.1:9000", f"127.0.0.1:{static}").replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{proxy};"))
PY
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat > "$DIR/nginx/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
daemon off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    include $DIR/nginx/snippet.conf;
    server {
        listen 127.0.0.1:$STATIC;
        location / { return 200 "object\n"; }
    }
    upstream plain_backend {
        server 127.0.0.1:$STATIC;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$PLAIN;
        location / {
            proxy_set_header Host \$http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://plain_backend;
        }
    }
}
CONF
/usr/sbin/nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" &
NGINX_PID=$!
wait_port "$PROXY" nginx
wait_port "$PLAIN" nginx
echo
echo "## Proxy path: GetObject through nginx without auth_request vs with the README's snippet (same upstream)"
echo
echo "| concurrency | plain req/s | plain p50 / p99 | with stsd req/s | with stsd p50 / p99 | added p50 / p99 |"
echo "| --- | --- | --- | --- | --- | --- |"
for c in 1 64; do
  run "plain-$c" --endpoint "http://127.0.0.1:$PLAIN" --mode s3-get --concurrency $c
  run "authz-$c" --endpoint "http://127.0.0.1:$PROXY" --mode s3-get --concurrency $c
  added() { awk -v a="$(field "authz-$c" "$1")" -v b="$(field "plain-$c" "$1")" 'BEGIN { printf "%.2f", a - b }'; }
  echo "| $c | $(field "plain-$c" throughput) | $(field "plain-$c" p50) / $(field "plain-$c" p99) ms" \
    "| $(field "authz-$c" throughput) | $(field "authz-$c" p50) / $(field "authz-$c" p99) ms" \
    "| $(added p50) / $(added p99) ms |"
done
