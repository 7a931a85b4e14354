#!/usr/bin/env bash
# Durable executions over loopback (issue 11): inject requests/s and p99 into
# the 3-node graph of bench/serve.sh (wrk -t1 -c50 --latency, keep-alive)
# with DURABILITY=fsync, DURABILITY=process and --memory, interleaved in one
# sitting (ROUNDS rounds of SECS s each; medians), the inputs committed per
# journal transaction at that load (deltas of weir_journal_records_total /
# weir_journal_commits_total), and the recovery time of NEXEC executions of
# NIN inputs each (the start log's "recovery: ... in X ms").
# Usage: bench/durable.sh BUILD_DIR [ROUNDS SECS NEXEC NIN]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=${1:-build}
rounds=${2:-3} secs=${3:-10} nexec=${4:-1000} nin=${5:-1000}
command -v wrk >/dev/null || { echo "wrk is not installed (make bench installs it)"; exit 1; }
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT
# start NAME ARGS...: a server with its log in $dir/NAME.log; sets pid and port
start() {
  local name=$1; shift
  "$build/weir" serve --port 0 "$@" 2>"$dir/$name.log" &
  pid=$!
  pids+=("$pid")
  logged_port "$pid" "$dir/$name.log" 6000 # recovery of a big journal comes first
}
graph='{"symbia":"1.0","name":"bench","metadata":{"role":"pipeline","ingress":{"node":"input"}},"nodes":[
 {"id":"input","component":"symbia.core.passthrough"},
 {"id":"double","component":"symbia.core.map","config":{"expression":"value * 2"}},
 {"id":"output","component":"symbia.core.passthrough"}],"edges":[
 {"source":{"node":"input","port":"out"},"target":{"node":"double","port":"in"}},
 {"source":{"node":"double","port":"out"},"target":{"node":"output","port":"in"}}]}'
cat > "$dir/inject.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"nodeId":"input","port":"in","value":21}'
wrk.headers["Content-Type"] = "application/json"
LUA
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
declare -A port_of url_of
for mode in fsync process memory; do
  case $mode in
    fsync) start $mode --data-dir "$dir/fsync" --durability fsync ;;
    process) start $mode --data-dir "$dir/process" --durability process ;;
    memory) start $mode --memory ;;
  esac
  gid=$(curl -s -X POST "http://127.0.0.1:$port/api/graphs" -H 'content-type: application/json' -d "$graph" |
        sed 's/.*"id": *"\([^"]*\)".*/\1/')
  xid=$(curl -s -X POST "http://127.0.0.1:$port/api/graphs/$gid/execute" | sed 's/.*"executionId": *"\([^"]*\)".*/\1/')
  port_of[$mode]=$port
  url_of[$mode]="http://127.0.0.1:$port/api/executions/$xid/inject"
done
echo "inject into a 3-node graph (wait: true), wrk -t1 -c50 -d${secs}s, $rounds interleaved rounds (median):"
for r in $(seq "$rounds"); do
  for mode in fsync process memory; do
    p=${port_of[$mode]}
    [[ $mode != memory ]] && { c0=$(metric "$p" weir_journal_commits_total); n0=$(metric "$p" weir_journal_records_total); }
    wrk -t1 -c50 -d"${secs}s" --latency -s "$dir/inject.lua" "${url_of[$mode]}" >"$dir/wrk.$mode.$r"
    if [[ $mode != memory ]]; then
      c1=$(metric "$p" weir_journal_commits_total); n1=$(metric "$p" weir_journal_records_total)
      echo "$(( n1 - n0 )) $(( c1 - c0 ))" >"$dir/batch.$mode.$r"
    fi
  done
done
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# p99 in ms whatever unit wrk prints
p99() { awk '$1 == "99%" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         print (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v}' "$1"; }
declare -A rps
for mode in fsync process memory; do
  rps[$mode]=$(for r in $(seq "$rounds"); do awk '/Requests\/sec/ {print $2}' "$dir/wrk.$mode.$r"; done | median)
  lat=$(for r in $(seq "$rounds"); do p99 "$dir/wrk.$mode.$r"; done | median)
  all=$(for r in $(seq "$rounds"); do awk '/Requests\/sec/ {printf "%s ", $2}' "$dir/wrk.$mode.$r"; done)
  errs=$(cat "$dir"/wrk.$mode.* | awk '/Non-2xx|Socket errors/ {printf "%s; ", $0}')
  line="  $(printf '%-8s' "$mode") ${rps[$mode]} requests/s (rounds: ${all% }), p99 $lat ms"
  if [[ $mode != memory ]]; then
    per=$(for r in $(seq "$rounds"); do awk '{printf "%.1f\n", $2 ? $1 / $2 : 0}' "$dir/batch.$mode.$r"; done | median)
    line+=", $per inputs per commit"
  fi
  echo "$line${errs:+ ($errs)}"
done
awk -v f="${rps[fsync]}" -v p="${rps[process]}" -v m="${rps[memory]}" \
  'BEGIN {printf "  fsync %.2fx memory (target >= 0.5x), process %.2fx memory (target >= 0.8x)\n", f / m, p / m}'
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

# Recovery: NEXEC executions, NIN inputs each (one ingress batch each: the
# newest execution of the graph takes it), then kill -9 and a restart.
echo "recovery of $nexec executions x $nin inputs each (kill -9, restart):"
start fill --data-dir "$dir/rec" --durability process --max-concurrent-executions $((nexec + 1))
seq -s, 1 "$nin" | sed 's/^/[/; s/$/]/' >"$dir/batch.json"
gid=$(curl -s -X POST "http://127.0.0.1:$port/api/graphs" -H 'content-type: application/json' -d "$graph" |
      sed 's/.*"id": *"\([^"]*\)".*/\1/')
for _ in $(seq "$nexec"); do
  curl -s -o /dev/null -X POST "http://127.0.0.1:$port/api/graphs/$gid/execute"
  curl -s -o /dev/null -X POST "http://127.0.0.1:$port/api/ingress/bench" -H 'content-type: application/json' \
    --data-binary @"$dir/batch.json"
done
echo "  journal: $(metric "$port" weir_journal_records_total) records, $(du -sh "$dir/rec" | cut -f1) on disk"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
pids=()
for r in 1 2; do
  start "rec$r" --data-dir "$dir/rec" --max-concurrent-executions $((nexec + 1))
  echo "  start $r: $(grep -o 'recovery: .* ms' "$dir/rec$r.log"), RSS $(ps -o rss= -p "$pid") KiB"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  pids=()
done
