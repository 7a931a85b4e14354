#!/usr/bin/env bash
# Live views: bytes/s to one execution:<id> view subscriber at two hop rates
# (bench/bench_views.cjs).  Usage: bench/views.sh BUILD_DIR [SECONDS] [WIDTH]
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node is not installed (the view benchmark is a Node.js client)"; exit 1; }
"$here/../tests/js/setup.sh" "$build/js" >/dev/null
dir=$(mktemp -d)
"$build/weir" serve --port 0 --memory --log-level warn 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=""
for _ in $(seq 100); do
  port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {split($4, a, ":"); print a[length(a)]; exit}')
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { echo "weir serve did not start"; cat "$dir/log"; exit 1; }
NODE_PATH="$build/js/node_modules" node "$here/bench_views.cjs" "$port" "${2:-3}" "${3:-30}"
