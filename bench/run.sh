#!/usr/bin/env bash
# Print every benchmark figure.  Usage: bench/run.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
echo "== machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== core (in-process)"
"$build/bench/bench_core"
if [[ -x "$build/bench/bench_expr" ]]; then
  echo "== expressions"
  "$build/bench/bench_expr"
fi
echo "== weir run end to end"
"$(dirname "$0")/run_chain.sh" "$build"
if [[ -x "$build/bench/bench_journal" ]]; then
  echo "== input journal (SQLite, group commit)"
  "$build/bench/bench_journal"
fi
echo "== time travel and recovery on a long journal"
"$(dirname "$0")/travel.sh" "$build"
echo "== graph loading (in-process): time and bytes kept per node"
"$build/bench/bench_graph"
"$(dirname "$0")/graph_serve.sh" "$build"
echo "== virtual runtime (in-process)"
"$build/bench/bench_virtual"
if [[ -x "$build/bench/bench_replay" ]]; then
  echo "== weir replay (a journal of 1,000,000 small waves)"
  "$build/bench/bench_replay" "$build/weir"
fi
echo "== weir sim (the double-capture example)"
"$(dirname "$0")/sim.sh" "$build"
echo "== service over loopback"
"$(dirname "$0")/serve.sh" "$build"
echo "== durable executions over loopback (DURABILITY=fsync / process / --memory; recovery)"
"$(dirname "$0")/durable.sh" "$build"
echo "== live views: bytes/s to one execution:<id> subscriber at two hop rates"
"$(dirname "$0")/views.sh" "$build"
echo "== idle WebSocket connections"
"$(dirname "$0")/idle.sh" "$build" 10000 all
if command -v chromium >/dev/null; then
  echo "== the dashboard in headless chromium (first paint; frames/s under 100,000 events/s)"
  "$(dirname "$0")/dashboard.sh" "$build" || echo "(the dashboard figures failed: not a gate)"
fi
