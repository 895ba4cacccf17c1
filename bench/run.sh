#!/bin/sh
# observer benchmarks (issues 6 and 12): one command, prints two markdown
# tables (the issue's targets, then every measure behind them).
#
#   bench/run.sh [--quick] [--bins DIR] [bench.py options...]
#
# Installs its tools from Debian (nginx-light, monit,
# prometheus-blackbox-exporter, wrk, openssl, python3), builds observer into
# build/bench unless --bins names a dir holding observer + observer-worker,
# widens the ephemeral port range for the run (and puts it back), and runs
# bench/bench.py, which starts every server it needs on 127.0.0.1 ports of its
# own and stops each of them by PID. The https scenarios use a CA and a
# certificate bench.py makes at run time with openssl in its temp dir.
# --quick: a small run (about a minute) that proves the harness works, the
# https path included; its figures mean nothing.
set -eu
PATH="$PATH:/usr/sbin:/sbin"  # nginx lives in /usr/sbin
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
quick=0
bins=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --bins) bins=$2; shift 2 ;;
    --bins=*) bins=${1#--bins=}; shift ;;
    *) break ;;
  esac
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
need=""
for pair in nginx:nginx-light monit:monit prometheus-blackbox-exporter:prometheus-blackbox-exporter \
            wrk:wrk openssl:openssl python3:python3 cmake:cmake; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
if [ -n "$need" ]; then
  echo "bench: installing$need" >&2
  $sudo apt-get update -qq
  # policy-rc.d 101: the packages' own services are never started.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need >&2 || { $sudo rm -f /usr/sbin/policy-rc.d; exit 1; }
  $sudo rm -f /usr/sbin/policy-rc.d
fi

if [ -z "$bins" ]; then
  bins="$root/build/bench/bin"
  cmake -S "$root" -B "$root/build/bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$root/build/bench" -j"$(nproc)" >/dev/null
fi
[ -x "$bins/observer" ] && [ -x "$bins/observer-worker" ] || { echo "bench: no observer in $bins" >&2; exit 1; }

# 10 000 fresh connections a second need more client ports than Linux's
# default 28 000 while they sit in TIME_WAIT; put the range back afterwards.
range_file=/proc/sys/net/ipv4/ip_local_port_range
old_range=$(cat $range_file)
restore() { echo "$old_range" | $sudo tee $range_file >/dev/null 2>&1 || true; }
trap restore EXIT
trap 'restore; exit 130' INT TERM
if echo "15000 64999" | $sudo tee $range_file >/dev/null 2>&1; then
  echo "bench: ip_local_port_range $old_range -> 15000 64999 for the run (restored at exit)" >&2
else
  echo "bench: could not widen ip_local_port_range ($old_range)" >&2
fi

echo "bench: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)," \
     "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [ "$quick" -eq 1 ]; then
  set -- --runs 1 --targets 1000 --low 50 --lag-targets 200 --window 2 --low-window 2 --warmup 1.5 \
         --tls-start 50 --tls-steps 1 --tls-step-window 2 "$@"
fi
python3 "$here/bench.py" --bins "$bins" "$@"
