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
