#!/usr/bin/env bash
# weir sim on the double-capture example: seeds per second (the fixed graph,
# every seed runs to its end; --jobs 1 and 2), seeds until the race is
# first found (median over 20 first seeds), and the time shrinking takes.
# Usage: bench/sim.sh BUILD_DIR [SEEDS]
set -euo pipefail
build=${1:-build}
n=${2:-200000}
root=$(cd "$(dirname "$0")/.." && pwd)
dc="$root/examples/double-capture"
json_num() { sed -n "s/.*\"$1\": \([0-9.e+-]*\).*/\1/p" | head -1; }
for jobs in 1 2; do
  rate=$("$build/weir" sim "$dc/payment-fixed.json" --scenario "$dc/sim.yaml" --seed 1 --seeds "$n" --jobs "$jobs" \
         --json | json_num seedsPerSecond)
  awk -v r="$rate" -v j="$jobs" -v n="$n" 'BEGIN { printf "weir sim, double capture (fixed graph): %d seeds, --jobs %d: %.0f seeds/s\n", n, j, r }'
done
# CPU time per seed (user + system, one thread): the figure a busy machine does not move
TIMEFORMAT='%U %S'
cpu=$( { time "$build/weir" sim "$dc/payment-fixed.json" --scenario "$dc/sim.yaml" --seed 1 --seeds "$n" --jobs 1 \
         >/dev/null; } 2>&1 )
awk -v c="$cpu" -v n="$n" 'BEGIN { split(c, t, " "); us = (t[1] + t[2]) * 1e6 / n;
  printf "weir sim, double capture (fixed graph): %.1f us CPU per seed (%.0f seeds/s per core)\n", us, 1e6 / us }'
found=()
shrink=()
for base in $(seq 1000 1000 20000); do
  out=$("$build/weir" sim "$dc/payment.json" --scenario "$dc/sim.yaml" --seed "$base" --seeds 100000 --json || true)
  found+=("$(echo "$out" | sed -n 's/.*"seedsRun": \([0-9]*\).*/\1/p' | tail -1)")
  shrink+=("$(echo "$out" | json_num shrinkSeconds)")
done
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
awk -v m="$(med "${found[@]}")" -v x="$(max "${found[@]}")" 'BEGIN {
  printf "weir sim, double capture (race): seeds until found, median %s, most %s (20 first seeds)\n", m, x }'
awk -v m="$(med "${shrink[@]}")" -v x="$(max "${shrink[@]}")" 'BEGIN {
  printf "weir sim, double capture (race): shrink to the two injects, median %.1f ms, slowest %.1f ms\n", m * 1000, x * 1000 }'
