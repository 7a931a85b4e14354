#!/usr/bin/env bash
# Idle WebSocket connections: the server's RSS with N of them open, and
# /health latency meanwhile (bench_idle).  The server is started with
# MAX_CONNECTIONS raised to fit them; MAX_CONNECTIONS_PER_IP stays at its
# default (the client spreads over several 127/8 source addresses).
# Usage: bench/idle.sh BUILD_DIR [N] [ws|ws-sub|sio|all]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=${1:-build}
n=${2:-10000}
modes=${3:-all}
[[ $modes == all ]] && modes="ws ws-sub sio"
dir=$(mktemp -d)
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for mode in $modes; do
  "$build/weir" serve --port 0 --log-level warn --memory --max-connections $((n + 1000)) 2>"$dir/serve.log" &
  pid=$!
  listen_port "$pid" "$dir/serve.log"
  "$build/bench/bench_idle" "$port" "$n" "$pid" "$mode"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
done
