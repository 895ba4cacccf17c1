#!/usr/bin/env bash
# soak.sh [SECONDS]: runs observer (the supervisor, from build/default) for
# SECONDS (default 600) against a mix of healthy and faulty targets on a
# local test server (127.0.0.1 only), sends SIGHUP every SOAK_HUP_EVERY
# seconds (default 5), and reports, after a warm-up and at the end: RSS of the
# supervisor and the worker, their open fds, and the number of workers. Exits
# non-zero unless everything is flat:
#   * RSS (supervisor, worker) grew by less than 20% + 1 MiB after warm-up;
#   * the supervisor's fds are equal +-2; the worker's non-socket fds equal
#     +-2 (its sockets are in-flight probes and vary with the moment);
#   * exactly one worker at start and end, never more than two (a hand-over);
#   * every SIGHUP ended in a reload, no worker crashed or was restarted;
#   * every line on stdout is a well-formed text-format line, nothing on
#     stderr, and observer exits 0 on SIGTERM.
# Not run in CI. Environment: SOAK_OBSERVER_BIN (default
# build/default/bin/observer), SOAK_HUP_EVERY, SOAK_KEEP=1 keeps the work dir.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-600}
hup_every=${SOAK_HUP_EVERY:-5}
bin=${SOAK_OBSERVER_BIN:-$top/build/default/bin/observer}
[ -x "$bin" ] || { echo "soak: $bin not built; run: cmake --preset default && cmake --build --preset default" >&2; exit 1; }
[ "$duration" -ge 30 ] || { echo "soak: run for at least 30 seconds" >&2; exit 2; }
warmup=$(( duration / 5 < 60 ? duration / 5 : 60 ))

work=$(mktemp -d)
server_pid=""; tls_pid=""; observer_pid=""
cleanup() {
  for pid in $observer_pid $server_pid $tls_pid; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [ "${SOAK_KEEP:-}" = 1 ]; then echo "soak: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {  # start_server NAME [tls args...]: sets $port
  local name=$1; shift
  python3 "$top/tests/support/http_server.py" --port-file "$work/$name.port" --log "$work/$name.log" "$@" &
  local pid=$!
  for _ in $(seq 200); do [ -s "$work/$name.port" ] && break; sleep 0.05; done
  port=$(cat "$work/$name.port")
  eval "${name}_pid=$pid"
}
set_path() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read()' "$1" >/dev/null; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" -out "$work/tls.pem" \
  -days 30 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_server server; p=$port
start_server tls --tls-cert "$work/tls.pem" --tls-key "$work/tls.key"; tp=$port
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
u=http://127.0.0.1:$p
set_path "$u/__set/loop?redirect=$u/loop"

cat > "$work/observer.conf" <<EOF
tick=1s
timeout=700ms
status=200
[healthy1]
url=$u/h1
[healthy2]
url=$u/h2?server=nginx
server=nginx
[healthy3]
url=$u/h3?delay_ms=100
tick=500ms
timeout=500ms
[flapping]
url=$u/flap
[mismatch]
url=$u/m?status=503
[refused]
url=http://127.0.0.1:$closed/
[hang]
url=$u/hang?hang=1
[reset]
url=$u/rst?reset=1
[reset_mid]
url=$u/rm?reset_mid=1&body_bytes=100000
[trickle]
url=$u/tb?trickle_body_ms=500
[gib]
url=$u/gib?body_bytes=1073741824
max_body=1MiB
body_contains=never-there
[chunked]
url=$u/ch?chunked_forever=1
max_body=256KiB
[loop]
url=$u/loop
max_redirects=3
[gopher]
url=$u/g?redirect=gopher://127.0.0.1:1/
[malformed]
url=$u/mal?malformed=1
[selfsigned]
url=https://127.0.0.1:$tp/
EOF
ntargets=$(grep -c '^\[' "$work/observer.conf")

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
non_socket_fds() { local n=0 f; for f in /proc/$1/fd/*; do case $(readlink "$f" 2>/dev/null) in socket:*) ;; *) n=$((n+1));; esac; done; echo $n; }
workers() {  # live children of observer
  local c out=""
  for c in $(cat "/proc/$observer_pid/task/$observer_pid/children" 2>/dev/null); do
    [ "$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)" = Z ] || out="$out $c"
  done
  echo $out
}
sample() {  # sample LABEL: waits for exactly one worker (a hand-over may be under way), prints figures
  local w=""
  for _ in $(seq 100); do w=$(workers); [ "$(echo $w | wc -w)" = 1 ] && break; sleep 0.1; done
  local n; n=$(echo $w | wc -w)
  if [ "$n" != 1 ]; then echo "$1 workers=$n"; return; fi
  echo "$1 workers=1 sup_rss_kib=$(rss "$observer_pid") sup_fds=$(fds "$observer_pid")" \
       "worker_pid=$w worker_rss_kib=$(rss "$w") worker_fds=$(fds "$w") worker_non_socket_fds=$(non_socket_fds "$w")"
}
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }

"$bin" -config "$work/observer.conf" > "$work/stdout" 2> "$work/stderr" &
observer_pid=$!
echo "soak: $(date -u +%FT%TZ) observer pid $observer_pid, $ntargets targets, ${duration}s, SIGHUP every ${hup_every}s, warm-up ${warmup}s, work dir $work" >&2

t0=$(date +%s); hups=0; max_workers=0; flap=0; last_hup=$t0; start_line=""
while :; do
  now=$(date +%s); el=$((now - t0))
  [ "$el" -ge "$duration" ] && break
  kill -0 "$observer_pid" 2>/dev/null || { echo "soak: observer died" >&2; exit 1; }
  n=$(echo $(workers) | wc -w); [ "$n" -gt "$max_workers" ] && max_workers=$n
  if [ -z "$start_line" ] && [ "$el" -ge "$warmup" ]; then start_line=$(sample start); echo "soak: $start_line" >&2; fi
  if [ $((now - last_hup)) -ge "$hup_every" ]; then
    kill -HUP "$observer_pid"; hups=$((hups + 1)); last_hup=$now
    flap=$((1 - flap)); set_path "$u/__set/flap?status=$([ $flap = 1 ] && echo 500 || echo 200)"
  fi
  sleep 0.5
done
# Let the last reload finish before the final figures.
sleep 3
end_line=$(sample end); echo "soak: $end_line" >&2
kill -TERM "$observer_pid"; rc=0; wait "$observer_pid" || rc=$?; observer_pid=""

fail=0
bad() { echo "soak: FAIL: $*" >&2; fail=1; }
[ "$rc" = 0 ] || bad "observer exited $rc on SIGTERM"
[ "$(field "$start_line" workers)" = 1 ] || bad "not exactly one worker at start: $start_line"
[ "$(field "$end_line" workers)" = 1 ] || bad "not exactly one worker at end: $end_line"
[ "$max_workers" -le 2 ] || bad "$max_workers workers at once"
if [ "$fail" = 0 ]; then
  grew() { # grew START END: END > START * 1.2 + 1024 KiB
    [ "$2" -gt $(( $1 * 12 / 10 + 1024 )) ]; }
  s_rss=$(field "$start_line" sup_rss_kib); e_rss=$(field "$end_line" sup_rss_kib)
  grew "$s_rss" "$e_rss" && bad "supervisor RSS grew $s_rss -> $e_rss KiB"
  s_rss=$(field "$start_line" worker_rss_kib); e_rss=$(field "$end_line" worker_rss_kib)
  grew "$s_rss" "$e_rss" && bad "worker RSS grew $s_rss -> $e_rss KiB"
  s=$(field "$start_line" sup_fds); e=$(field "$end_line" sup_fds)
  [ $((e - s)) -le 2 ] && [ $((s - e)) -le 2 ] || bad "supervisor fds $s -> $e"
  s=$(field "$start_line" worker_non_socket_fds); e=$(field "$end_line" worker_non_socket_fds)
  [ $((e - s)) -le 2 ] && [ $((s - e)) -le 2 ] || bad "worker non-socket fds $s -> $e"
  e=$(field "$end_line" worker_fds)
  [ "$e" -le $(( $(field "$end_line" worker_non_socket_fds) + ntargets + 4 )) ] || bad "worker holds $e fds for $ntargets targets"
fi

lines=$(wc -l < "$work/stdout")
malformed=$(grep -Evc '^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} (\[[A-Za-z0-9_.-]+\] )?[^ ].*$' "$work/stdout" || true)
[ "$malformed" = 0 ] || { bad "$malformed malformed lines, e.g.:"; grep -Ev '^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} (\[[A-Za-z0-9_.-]+\] )?[^ ].*$' "$work/stdout" | head -5 >&2; }
[ -s "$work/stderr" ] && { bad "stderr is not empty:"; head -5 "$work/stderr" >&2; }
reloads=$(grep -c 'Reloaded: worker (pid [0-9]*) takes over from worker' "$work/stdout" || true)
[ "$reloads" = "$hups" ] || bad "$hups SIGHUPs but $reloads reloads"
crashes=$(grep -Ec 'crashed|restarting in|Reload failed|broke the control protocol|dropped' "$work/stdout" || true)
[ "$crashes" = 0 ] || { bad "$crashes crash/restart/drop lines:"; grep -E 'crashed|restarting in|Reload failed|broke the control protocol|dropped' "$work/stdout" | head -5 >&2; }
for t in healthy1 healthy2 healthy3; do
  n=$(grep -c "\[$t\]" "$work/stdout" || true)
  [ "$n" = 0 ] || { bad "$n lines about the healthy target $t:"; grep "\[$t\]" "$work/stdout" | head -3 >&2; }
done
probes=$(wc -l < "$work/server.log")

echo "soak: $(date -u +%FT%TZ) duration ${duration}s, $hups SIGHUPs, $reloads reloads, $lines log lines ($malformed malformed), $probes requests served, max workers at once $max_workers"
echo "soak: $start_line"
echo "soak: $end_line"
if [ "$fail" = 0 ]; then echo "soak: PASS: flat"; else echo "soak: FAIL"; fi
exit "$fail"
