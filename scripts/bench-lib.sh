# Shared by the benchmark scripts that drive one stsd with loadgen (sourced, not run): release binaries (built
# unless BENCH_BIN_DIR names prebuilt ones), fixed root keys, a work directory removed on exit, and
#   start DATA_DIR [serve flags…]   run stsd (or the binary in $STSD) on a free loopback port (sets PID, PORT, E)
#   stop                            stop it
#   setup                           print `scripts/bench.sh`'s setup (user, role, keys) as shell assignments
BIN=${BENCH_BIN_DIR:-target/release}
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  cargo build --release -q -p stsd -p loadgen
fi
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
export STSD_ACCOUNT_ID=111122223333 STSD_ROOT_ACCESS_KEY_ID=AKIABTX3GSDSQBHCDE22 STSD_ROOT_SECRET_ACCESS_KEY=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
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
start() { # DATA_DIR [serve flags…]
  local dir=$1; shift
  PORT=$(free_port)
  STSD_LOG=${STSD_LOG:-warn} "${STSD:-$BIN/stsd}" serve --listen 127.0.0.1:$PORT --data-dir "$dir" "$@" &
  PID=$!
  for _ in $(seq 100); do
    "$PY" -c "import socket;socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
    sleep 0.1
  done
  E=http://127.0.0.1:$PORT
}
stop() { kill $PID; wait $PID || true; PID=; }
setup() { sed -n '/^python3 - "\$E"/,/^PY$/p' scripts/bench.sh | sed '1d;$d' > "$WORK/setup.py"; "$PY" "$WORK/setup.py" "$E"; }
