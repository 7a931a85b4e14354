#!/usr/bin/env bash
# Loopback benchmark of weir serve: inject requests/s and latency into a
# 3-node graph with wrk (-t1 -c50, keep-alive).  Usage: bench/serve.sh BUILD_DIR
set -euo pipefail
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
  port=""
  # --log-level warn hides the start line: find the port from the process instead
  for _ in $(seq 100); do
    port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {split($4, a, ":"); print a[length(a)]; exit}')
    [[ -n "$port" ]] && break
    sleep 0.05
  done
  [[ -n "$port" ]] || { echo "weir serve did not start"; cat "$dir/$name.log"; exit 1; }
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
wrk -t1 -c50 -d10s --latency -s "$dir/inject.lua" "$base/api/executions/$xid/inject" |
  grep -E 'Requests/sec|Latency|50%|99%|Non-2xx|Socket errors'
echo "memory of the server after the run: $(ps -o rss= -p $pid) KiB RSS"
echo "events to 100 WebSocket subscribers of one busy execution:"
"$build/bench/bench_events" "$port" 100 5
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
