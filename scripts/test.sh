#!/usr/bin/env bash
# Runs every test: the style gates (rustfmt, clippy with -D warnings), Rust unit, property and integration tests,
# then the end-to-end suite that drives the real stsd binary with boto3, the aws CLI (installed into .venv on
# first run) and Cloud Custodian (into .venv-custodian, re-created when its pinned requirements change). A
# throwaway PostgreSQL cluster (Debian's postgresql, installed if missing) serves the shared-store tests and is
# removed at the end. The console's browser tests drive Debian's headless chromium through chromium-driver
# and read QR codes with zbar-tools (all installed if missing). The authorizer tests run nginx (Debian's nginx, installed if missing) in front of moto's S3
# server (.venv-s3, re-created when tests/e2e/requirements-s3.txt changes).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> generated wire code up to date with crates/wire/models (scripts/gen_wire.py --check)"
python3 scripts/gen_wire.py --check

echo "==> module layers: no import cycle between the top-level modules of any crate (scripts/check-layers.py)"
# Enforcing for every crate of the workspace (cargo itself forbids cycles between crates).
python3 scripts/check-layers.py

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

# The fuzz targets live in their own workspaces (run with `cargo +nightly fuzz run …`); checking them here keeps
# them compiling against today's APIs (they had silently stopped compiling once).
echo "==> fuzz targets compile (crates/*/fuzz, cargo check)"
for f in crates/*/fuzz/Cargo.toml; do
  CARGO_TARGET_DIR=target/fuzz-check cargo check --locked --quiet --manifest-path "$f" --bins
done

echo "==> PostgreSQL for the shared-store tests (a throwaway cluster on a free loopback port)"
pg_dir=$(mktemp -d /tmp/stsd-pg.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
STSD_TEST_PG_URL=$(scripts/pg-cluster.sh start "$pg_dir")
export STSD_TEST_PG_URL STSD_TEST_PG_DIR="$pg_dir" STSD_REQUIRE_PG=1

echo "==> cargo build (stsd binary for the end-to-end suite)"
cargo build --locked -p stsd --bin stsd

echo "==> cargo test --workspace"
cargo test --locked --workspace

echo "==> python venv with boto3 + awscli"
# Re-installed when the pinned requirements change (e.g. selenium for the console's browser tests).
if [ ! -x .venv/bin/pytest ] || ! cmp -s tests/e2e/requirements.txt .venv/requirements.txt; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
  cp tests/e2e/requirements.txt .venv/requirements.txt
fi
export PATH="$PWD/.venv/bin:$PATH"

echo "==> Cloud Custodian in its own venv (tests/e2e/requirements-custodian.txt)"
if [ ! -x .venv-custodian/bin/custodian ] || ! cmp -s tests/e2e/requirements-custodian.txt .venv-custodian/requirements.txt; then
  rm -rf .venv-custodian
  python3 -m venv .venv-custodian
  .venv-custodian/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements-custodian.txt
  cp tests/e2e/requirements-custodian.txt .venv-custodian/requirements.txt
fi
export CUSTODIAN_BIN="$PWD/.venv-custodian/bin/custodian"

echo "==> nginx (Debian's package) and an S3 server (moto's server mode, .venv-s3) for the authorizer tests"
if [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
export NGINX_BIN=/usr/sbin/nginx
if [ ! -x .venv-s3/bin/moto_server ] || ! cmp -s tests/e2e/requirements-s3.txt .venv-s3/requirements.txt; then
  rm -rf .venv-s3
  python3 -m venv .venv-s3
  .venv-s3/bin/pip install --quiet --disable-pip-version-check -r tests/e2e/requirements-s3.txt
  cp tests/e2e/requirements-s3.txt .venv-s3/requirements.txt
fi
export S3_SERVER_BIN="$PWD/.venv-s3/bin/moto_server"

echo "==> headless Chromium and its WebDriver (Debian's chromium + chromium-driver) for the console's browser tests"
# zbar-tools reads the MFA enrolment QR code as an authenticator app would.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/zbarimg ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver zbar-tools >/dev/null
fi
# Screenshots of the console tests' steps (the test prints the folder too).
export STSD_CONSOLE_SHOTS="${STSD_CONSOLE_SHOTS:-$(mktemp -d /tmp/stsd-console-shots.XXXXXX)}"
echo "    console screenshots: $STSD_CONSOLE_SHOTS"

echo "==> end-to-end tests (boto3, aws CLI, Cloud Custodian, nginx + S3 through the authorizer)"
STSD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/stsd" .venv/bin/pytest tests/e2e -q -p no:cacheprovider "$@"
