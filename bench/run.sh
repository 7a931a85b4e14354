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
echo "== virtual runtime (in-process)"
"$build/bench/bench_virtual"
echo "== service over loopback"
"$(dirname "$0")/serve.sh" "$build"
