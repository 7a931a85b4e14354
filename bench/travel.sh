#!/usr/bin/env bash
# Time travel and recovery on a journal of N inputs (default 1,000,000; a
# snapshot every 1024): bench_travel writes it, weir serve recovers it, and
# GET /api/executions/:id/at/:tick is timed at 21 ticks spread over it
# (median and slowest), beside /at/latest.  Usage: bench/travel.sh BUILD_DIR [N]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=${1:-build}
n=${2:-1000000}
dir=$(mktemp -d)
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
"$build/bench/bench_travel" "$dir/data" "$n"
"$build/weir" serve --port 0 --data-dir "$dir/data" 2>"$dir/log" &
pid=$!
logged_port "$pid" "$dir/log"
grep -o 'recovery: .*' "$dir/log" | sed 's/ {.*//' | head -1
times=()
for i in $(seq 0 20); do
  tick=$(( (n * i / 20) > n ? n : (n * i / 20) ))
  [[ $tick -lt 1 ]] && tick=1
  t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/api/executions/bench-travel/at/$tick")
  times+=("$t")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n '11p')
worst=$(echo "$sorted" | tail -1)
latest=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/api/executions/bench-travel/at/latest")
awk -v n="$n" -v m="$median" -v w="$worst" -v l="$latest" 'BEGIN {
  printf "time travel on a %d-input journal: GET /at/:tick median %.1f ms, slowest %.1f ms (21 ticks); /at/latest %.1f ms\n",
    n, m * 1000, w * 1000, l * 1000 }'
