#!/usr/bin/env bash
# `weir run` end to end: a chain of NODES passthrough nodes fed INJECTS lines
# from a file (--input), text output to /dev/null.  Prints hops/s =
# NODES × INJECTS / wall time (median of RUNS), with the CPU time and peak RSS
# of the median run.  Usage: bench/run_chain.sh BUILD_DIR [NODES [INJECTS [RUNS]]]
# WEIR=path/to/weir overrides BUILD_DIR/weir (to compare two builds).
set -euo pipefail
build=${1:-build}
nodes=${2:-200}
injects=${3:-100000}
runs=${4:-3}
weir=${WEIR:-$build/weir}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk -v n="$nodes" 'BEGIN {
  printf "{\"symbia\":\"1\",\"name\":\"chain\",\"nodes\":["
  for (i = 0; i < n; i++) printf "%s{\"id\":\"n%d\",\"component\":\"symbia.core.passthrough\"}", (i ? "," : ""), i
  printf "],\"edges\":["
  for (i = 0; i + 1 < n; i++)
    printf "%s{\"source\":{\"node\":\"n%d\",\"port\":\"out\"},\"target\":{\"node\":\"n%d\",\"port\":\"in\"}}", (i ? "," : ""), i, i + 1
  print "]}"
}' > "$dir/chain.json"
awk -v n="$injects" 'BEGIN { for (i = 0; i < n; i++) printf "{\"nodeId\":\"n0\",\"port\":\"in\",\"value\":%d}\n", i }' \
  > "$dir/input.jsonl"
for r in $(seq "$runs"); do
  if [[ -x /usr/bin/time ]]; then
    # %e wall s, %U user s, %S system s, %M peak RSS KB
    /usr/bin/time -f '%e %U %S %M' -o "$dir/time.$r" "$weir" run "$dir/chain.json" --input "$dir/input.jsonl" \
      > "$dir/out.$r" 2> "$dir/err.$r" || { echo "weir run failed:"; cat "$dir/err.$r"; exit 1; }
  else # bash's time: no peak RSS (shown as 0)
    TIMEFORMAT='%R %U %S 0'
    { time "$weir" run "$dir/chain.json" --input "$dir/input.jsonl" > "$dir/out.$r" 2> "$dir/err.$r" \
        || { echo "weir run failed:"; cat "$dir/err.$r"; exit 1; } ; } 2> "$dir/time.$r"
  fi
  lines=$(grep -c '^n' "$dir/out.$r" || true)
  [[ "$lines" == "$injects" ]] || { echo "expected $injects outputs, got $lines"; exit 1; }
done
cat "$dir"/time.* | sort -n | awk -v hops=$((nodes * injects)) -v runs="$runs" -v nodes="$nodes" -v inj="$injects" '
  { wall[NR] = $1; cpu[NR] = $2 + $3; rss[NR] = $4 }
  END {
    m = int((NR + 1) / 2)
    printf "weir run, %d-node passthrough chain x %d injects from a file: %.2f M hops/s " \
           "(wall %.2f s; cpu %.2f s = %.2f M hops/s of CPU time; peak RSS %.1f MB; median of %d by wall)\n",
           nodes, inj, hops / wall[m] / 1e6, wall[m], cpu[m], (cpu[m] > 0 ? hops / cpu[m] / 1e6 : 0), rss[m] / 1024, runs
  }'
