# Shared by the bench scripts (sourced).
# listen_port PID LOG: the port weir serve (PID, started with --port 0 and
# --log-level warn, which hides its start line) listens on, read from the
# process's sockets; sets `port`, or prints LOG and exits when it never
# listened.
listen_port() {
  local p=$1 log=$2
  port=""
  for _ in $(seq 100); do
    port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$p," '$0 ~ p {split($4, a, ":"); print a[length(a)]; exit}')
    [[ -n "$port" ]] && return 0
    sleep 0.05
  done
  echo "weir serve did not start"
  cat "$log"
  exit 1
}

# logged_port PID LOG [TRIES]: the port from weir serve's start line in LOG
# (it listens after recovery, which may take a while: TRIES x 50 ms, 400 by
# default); sets `port`, or prints LOG and exits when it never listened.
logged_port() {
  local p=$1 log=$2 tries=${3:-400}
  port=""
  for _ in $(seq "$tries"); do
    port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\) .*/\1/p' "$log" | head -1)
    [[ -n "$port" ]] && return 0
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  echo "weir serve did not start"
  cat "$log"
  exit 1
}
