#!/usr/bin/env bash
# Try multi-worker training on one machine: start N copies of a command, each with its own
# TF_CONFIG, on free 127.0.0.1 ports; prefix each one's output; stop only what it started.
#
#   scripts/local_cluster.sh N -- ./train.py --strategy multiworker [flags...]
#
# Worker 0 is the chief. The exit status is the first non-zero one of the workers, else 0.
set -euo pipefail

usage() { sed -n '2,7s/^# \{0,1\}//p' "$0"; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }
[[ $# -ge 3 && $1 =~ ^[1-9][0-9]*$ && $2 == -- ]] || { usage >&2; exit 2; }
n=$1
shift 2
python=${PYTHON:-python3}
# Line by line as it comes: Python buffers its output when it goes into a pipe.
export PYTHONUNBUFFERED=1

# Ask the kernel for N free loopback ports (bound, read, released).
mapfile -t ports < <("$python" - "$n" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
)
workers=$(printf '"127.0.0.1:%s",' "${ports[@]}")
workers="[${workers%,}]"

pids=()
# shellcheck disable=SC2329  # called from the traps below
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

# Prefix each line with the worker as soon as it arrives. Carriage returns end a line too: the
# scripts print progress as plain lines into a pipe, but a tool that redraws a bar (a worker
# run by hand) would otherwise be held back until the run ends, as sed would hold it.
prefix() {
  "$python" -u -c '
import os, re, sys
tag, out, pending = sys.argv[1].encode(), sys.stdout.buffer, b""
while chunk := os.read(0, 65536):
    *lines, pending = re.split(rb"[\r\n]", pending + chunk)
    out.write(b"".join(tag + line + b"\n" for line in lines if line.strip()))
    out.flush()
if pending.strip():
    out.write(tag + pending + b"\n")
' "$1"
}

for ((i = 0; i < n; i++)); do
  TF_CONFIG="{\"cluster\": {\"worker\": $workers}, \"task\": {\"type\": \"worker\", \"index\": $i}}" \
    "$@" > >(prefix "[worker $i] ") 2> >(prefix "[worker $i] " >&2) &
  pids+=("$!")
done

status=0
for pid in "${pids[@]}"; do
  wait "$pid" || { code=$?; ((status != 0)) || status=$code; }
done
exit "$status"
