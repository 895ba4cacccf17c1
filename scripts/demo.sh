#!/usr/bin/env bash
# Runs observer (from build/default) against a local test server it starts on
# 127.0.0.1, with examples/demo.conf.in. Stops on Ctrl-C, or after
# DEMO_SECONDS seconds when that is set; ends everything it started by PID.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${DEMO_OBSERVER_BIN:-$top/build/default/bin/observer}
[ -x "$bin" ] || { echo "demo: $bin not built; run: cmake --preset default && cmake --build --preset default" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
observer_pid=""
cleanup() {
  [ -n "$observer_pid" ] && kill -TERM "$observer_pid" 2>/dev/null && wait "$observer_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

python3 "$top/tests/support/http_server.py" --port-file "$work/port" --log "$work/requests.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
sed "s/@PORT@/$port/g" "$top/examples/demo.conf.in" > "$work/observer.conf"

metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "demo: test server on 127.0.0.1:$port; running: observer -config $work/observer.conf (Ctrl-C stops)" >&2
echo "demo: metrics at http://127.0.0.1:$metrics_port/metrics" >&2
"$bin" -config "$work/observer.conf" -listen="127.0.0.1:$metrics_port" &
observer_pid=$!
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
  kill -TERM "$observer_pid"
fi
wait "$observer_pid" || true
observer_pid=""
