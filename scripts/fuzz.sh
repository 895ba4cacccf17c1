#!/usr/bin/env bash
# Builds the libFuzzer targets (clang) and runs each for SECONDS (default 20),
# starting from the seed corpus in tests/fuzz/corpus/. Findings are written to
# build/fuzz/findings/; a crash fails the script. For a long run: fuzz.sh 3600
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
build=$top/build/fuzz
CC=clang CXX=clang++ cmake -S "$top/tests/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 >/dev/null
mkdir -p "$build/findings"
for name in duration status_spec config control; do
  corpus=$build/corpus/$name
  mkdir -p "$corpus"
  cp -n "$top/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  "$build/fuzz_$name" -max_total_time="$seconds" -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$build/findings/$name-" -print_final_stats=0 "$corpus" 2>"$build/$name.log" \
    || { tail -40 "$build/$name.log"; echo "fuzz: $name FAILED (input in $build/findings/)"; exit 1; }
  grep -E "^#[0-9]+.*DONE" "$build/$name.log" | tail -1 || true
done
echo "fuzz: every target ran ${seconds}s without a finding"
