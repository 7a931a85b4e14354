#!/usr/bin/env bash
# Loopback benchmark of weir serve: inject requests/s and latency into a
# 3-node graph with wrk (-t1 -c50, keep-alive).  Usage: bench/serve.sh BUILD_DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=${1:-build}
command -v wrk >/dev/null || { echo "wrk is not installed (make bench installs it)"; exit 1; }
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT
# start NAME ARGS...: a server with its log in $dir/NAME.log; sets pid and port
start() {
  local name=$1; shift
  "$build/weir" serve --port 0 --log-level warn "$@" 2>"$dir/$name.log" &
  pid=$!
  pids+=("$pid")
  listen_port "$pid" "$dir/$name.log"
}
start main --enable-metrics true --data-dir "$dir/data"
base="http://127.0.0.1:$port"
graph='{"symbia":"1.0","name":"bench","metadata":{"role":"pipeline"},"nodes":[
 {"id":"input","component":"symbia.core.passthrough"},
 {"id":"double","component":"symbia.core.map","config":{"expression":"value * 2"}},
 {"id":"output","component":"symbia.core.passthrough"}],"edges":[
 {"source":{"node":"input","port":"out"},"target":{"node":"double","port":"in"}},
 {"source":{"node":"double","port":"out"},"target":{"node":"output","port":"in"}}]}'
gid=$(curl -s -X POST "$base/api/graphs" -H 'content-type: application/json' -d "$graph" | sed 's/.*"id": *"\([^"]*\)".*/\1/')
xid=$(curl -s -X POST "$base/api/graphs/$gid/execute" | sed 's/.*"executionId": *"\([^"]*\)".*/\1/')
cat > "$dir/inject.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"nodeId":"input","port":"in","value":21}'
wrk.headers["Content-Type"] = "application/json"
LUA
echo "inject into a 3-node graph (wait: true, outputs returned), wrk -t1 -c50 -d10s:"
wrk -t1 -c50 -d10s --latency -s "$dir/inject.lua" "$base/api/executions/$xid/inject" | tee "$dir/wrk0.out" |
  grep -E 'Requests/sec|Latency|50%|99%|Non-2xx|Socket errors'
echo "memory of the server after the run: $(ps -o rss= -p $pid) KiB RSS"
# The same with one /ws subscriber watching a fresh execution of the graph:
# one that asked only for metrics:update (target >= 0.9x no subscriber), one
# for every event (target >= 0.5x).  EVENTS: its events list, or "all".
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
watched() {
  local events=$1 x wpid
  x=$(curl -s -X POST "$base/api/graphs/$gid/execute" | sed 's/.*"executionId": *"\([^"]*\)".*/\1/')
  if [[ $events == all ]]; then "$build/bench/bench_events" watch "$port" "$x" >"$dir/watch.out" &
  else "$build/bench/bench_events" watch "$port" "$x" "$events" >"$dir/watch.out" & fi
  wpid=$!
  for _ in $(seq 100); do grep -q subscribed "$dir/watch.out" && break; sleep 0.05; done
  wrk -t1 -c50 -d10s -s "$dir/inject.lua" "$base/api/executions/$x/inject" >"$dir/wrk.out"
  kill "$wpid"; wait "$wpid" || true
  echo "  with one subscriber to $events: $(rate "$dir/wrk.out") requests/s" \
    "($(awk -v a="$(rate "$dir/wrk.out")" -v b="$(rate "$dir/wrk0.out")" 'BEGIN {printf "%.2f", a / b}')x no subscriber;" \
    "it read $(sed -n 's/watched: \([0-9]*\) frames.*/\1/p' "$dir/watch.out") frames)"
}
watched metrics:update
watched all
echo "events to 100 WebSocket subscribers of one busy execution (64 injects in flight):"
BENCH_SERVER_PID=$pid "$build/bench/bench_events" "$port" 100 5 64
echo "memory of the server after the events run: $(ps -o rss= -p $pid) KiB RSS"
cat > "$dir/graph.lua" <<LUA
wrk.method = "POST"
wrk.body = [[$graph]]
wrk.headers["Content-Type"] = "application/json"
LUA
echo "graph upload (POST /api/graphs), one client, wrk -t1 -c1 -d5s:"
echo "  stored in DATA_DIR before the 201 (SQLite WAL, synchronous=FULL):"
wrk -t1 -c1 -d5s --latency -s "$dir/graph.lua" "$base/api/graphs" | grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors'
start memory --memory
echo "  --memory:"
wrk -t1 -c1 -d5s --latency -s "$dir/graph.lua" "http://127.0.0.1:$port/api/graphs" |
  grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors'
