#!/usr/bin/env bash
# The dashboard's figures in headless chromium (bench/dashboard.cjs): time to
# first paint of / with 1,000 executions and a 200-node graph, and frames per
# second while 100,000 events/s flow to the page.  Needs chromium and the npm
# clients of the tests (tests/js/setup.sh installs both).
# Usage: bench/dashboard.sh BUILD_DIR [EXECS] [NODES] [EVENTS_PER_S]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../tests/js/setup.sh" "$build/js" >/dev/null
dir=$(mktemp -d)
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
"$build/weir" serve --port 0 --memory --max-concurrent-executions 5000 2>"$dir/log" &
pid=$!
logged_port "$pid" "$dir/log"
NODE_PATH="$build/js/node_modules" node "$here/dashboard.cjs" "$port" "${2:-1000}" "${3:-200}" "${4:-100000}"
