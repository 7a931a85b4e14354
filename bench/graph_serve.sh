#!/usr/bin/env bash
# What `weir serve` keeps per stored graph: RSS before and after each of 5
# POSTs of a 100,000-node passthrough chain (fresh DATA_DIR), and the time
# of a POST and of a GET /api/graphs/:id.  Usage: bench/graph_serve.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
bin="$build/weir"
n=100000
port=$((20000 + RANDOM % 20000))
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
awk -v n=$n 'BEGIN {
  printf "{\"symbia\":\"1\",\"name\":\"chain\",\"nodes\":["
  for (i = 0; i < n; i++) printf "%s{\"id\":\"n%d\",\"component\":\"symbia.core.passthrough\"}", (i ? "," : ""), i
  printf "],\"edges\":["
  for (i = 0; i + 1 < n; i++)
    printf "%s{\"source\":{\"node\":\"n%d\",\"port\":\"out\"},\"target\":{\"node\":\"n%d\",\"port\":\"in\"}}", (i ? "," : ""), i, i + 1
  printf "]}"
}' > "$tmp/chain.json"
DATA_DIR="$tmp/data" MAX_BODY_BYTES=64m LOG_LEVEL=error "$bin" serve --port "$port" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done
rss() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }
r0=$(rss) prev=$(rss) out="" post=""
for k in 1 2 3 4 5; do
  post="$post $(curl -s -o /dev/null -w '%{time_total}' -H 'Content-Type: application/json' \
    --data-binary @"$tmp/chain.json" "http://127.0.0.1:$port/api/graphs")"
  r=$(rss); out="$out +$(((r - prev) / 1024))MB"; prev=$r
done
id=$(curl -s "http://127.0.0.1:$port/api/graphs" | sed 's/^\[{"id":"\([^"]*\)".*/\1/')
get=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/api/graphs/$id")
echo "serve, 5 × POST of a $n-node chain ($(($(stat -c %s "$tmp/chain.json") / 1024)) KB): RSS$out," \
  "$(((prev - r0) / 1024)) MB in all; POST s:$post; GET ${get} s; server CPU $(awk '{print ($14 + $15) / 100}' "/proc/$pid/stat") s"
