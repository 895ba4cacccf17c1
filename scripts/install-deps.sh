#!/usr/bin/env bash
# Installs what observer needs to build, run and test, from Debian's packages.
# Idempotent: installs only what is missing, and runs apt-get update only then.
# On macOS, run instead:
#   brew install cmake pkg-config libuv curl libmicrohttpd inih cmocka pcre2 python3
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libuv1-dev libcurl4-openssl-dev libmicrohttpd-dev libinih-dev libcmocka-dev libpcre2-dev
  nlohmann-json3-dev
  python3 openssl ca-certificates util-linux curl
  # /metrics: promtool and a real Prometheus in the tests
  prometheus
  # alerts (tests/alerts/): real Alertmanagers, alone and as an HA pair
  prometheus-alertmanager
  # the status page's browser test (tests/status/): a headless Chromium
  chromium
  # init/ verification: systemd-analyze, shellcheck, man
  systemd shellcheck man-db groff-base strace
  # init.systemd_real: a Debian 12 container booted with systemd-nspawn
  debootstrap systemd-container
  # fuzzing (scripts/fuzz.sh): clang with its libFuzzer runtime
  clang libclang-rt-14-dev
)

if ! command -v dpkg >/dev/null 2>&1; then
  echo "install-deps: not a Debian system; install the equivalents of: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root (need: ${missing[*]})" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
