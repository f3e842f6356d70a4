#!/usr/bin/env bash
# Where a proxy's CPU per request goes: perf samples of the proxy process under wrk load, over the same backend and
# route as ./updraft.sh bench, with .NET's perf map so the interceptor's JIT-compiled frames have names.
#
#   bench/profile.sh [seconds [interceptor|haproxy|nginx]]   (default 15 s, the interceptor; its settings, such as
#                                                             UPDRAFT_TRANSPORT, pass through from the environment)
#   UPDRAFT_PROFILE_BINARY=path/to/Updraft.Interceptor bench/profile.sh    (a published build, e.g. Native AOT)
#   UPDRAFT_PROFILE_RATE=1000 bench/profile.sh 30 haproxy    (open loop at a fixed rate over 8 connections, the low-load
#                                                             bench's client, instead of wrk as fast as the proxy answers)
#
# HAProxy and nginx run as the load benchmark configures them (one thread, upstream keep-alive), so their kernel and
# user time per request can be set beside the interceptor's. Needs a Release build (./updraft.sh bench makes one),
# perf, wrk and curl (and haproxy or nginx for those). Everything listens on 127.0.0.1. Prints requests per second,
# CPU per request (user and system, from /proc over the sampled run, perf's own cost included), the flat profile by
# library and by symbol, and leaves perf.data and the reports (also inclusive: by-symbol-inclusive.txt) in the
# directory it names.
set -euo pipefail

seconds=${1:-15}
target=${2:-interceptor}
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/updraft-profile-XXXXXX")
backend_port=${UPDRAFT_PROFILE_BACKEND_PORT:-18101}
proxy_port=${UPDRAFT_PROFILE_PROXY_PORT:-18111}
host=app-1250.bench
rate=${UPDRAFT_PROFILE_RATE:-}
pids=()

case "$target" in
  interceptor|haproxy|nginx) ;;
  *) echo "profile: the target is interceptor, haproxy or nginx, not '$target'" >&2; exit 2 ;;
esac
if [ -n "$rate" ] && ! [[ "$rate" =~ ^[1-9][0-9]{0,4}$ ]]; then
  echo "profile: UPDRAFT_PROFILE_RATE is requests per second, 1 to 99999, not '$rate'" >&2; exit 2
fi
for tool in perf wrk curl $([ "$target" = interceptor ] || echo "$target"); do
  command -v "$tool" >/dev/null || { echo "profile: $tool is not installed" >&2; exit 1; }
done

stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 143' TERM # so that the EXIT trap stops what this script started (Ctrl-C reaches them all already)

wait_for() { # a port and a path that must answer
  for _ in $(seq 1 100); do
    if curl -fs -o /dev/null -H "Host: $host" "http://127.0.0.1:$1$2"; then return 0; fi
    sleep 0.1
  done
  echo "profile: nothing answered on port $1" >&2
  exit 1
}

backend="$repo/bench/Backend/bin/Release/net10.0/Updraft.Bench.Backend.dll"
interceptor="$repo/src/Interceptor/bin/Release/net10.0/Updraft.Interceptor.dll"
loadbench="$repo/bench/LoadBench/bin/Release/net10.0/Updraft.Bench.Load.dll"
[ -f "$backend" ] && [ -f "$interceptor" ] && [ -f "$loadbench" ] || { echo "profile: build first (dotnet build Updraft.slnx -c Release)" >&2; exit 1; }

dotnet "$backend" "$backend_port" "$((backend_port + 1))" >"$out/backend.log" 2>&1 &
pids+=($!)
wait_for "$backend_port" /api/v1/items

start_interceptor() {
  cat >"$out/routes.yaml" <<ROUTES
apiVersion: http.keda.sh/v1beta1
kind: InterceptorRoute
metadata: {name: app-1250-api-v1, namespace: bench}
spec:
  target: {service: 127.0.0.1, port: $backend_port}
  scalingMetric:
    concurrency: {targetValue: 100}
  rules: [{hosts: [$host], paths: [{value: "/api/v1"}]}]
ROUTES
  # Without DOTNET_EnableWriteXorExecute=0, JIT-compiled frames show as memfd:doublemapper.
  export KEDA_HTTP_PROXY_PORT=$proxy_port KEDA_HTTP_ADMIN_PORT=$((proxy_port + 1)) OTEL_PROM_EXPORTER_ENABLED=false \
    UPDRAFT_BIND_ADDRESS=127.0.0.1 UPDRAFT_ROUTES_FILE="$out/routes.yaml" UPDRAFT_LOG_LEVEL=Warning \
    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
  if [ -n "${UPDRAFT_PROFILE_BINARY:-}" ]; then
    "$UPDRAFT_PROFILE_BINARY" >"$out/interceptor.log" 2>&1 &
  else
    dotnet "$interceptor" >"$out/interceptor.log" 2>&1 &
  fi
}

start_haproxy() {
  cat >"$out/haproxy.cfg" <<CONFIG
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend proxy
    bind 127.0.0.1:$proxy_port
    default_backend app
backend app
    server backend 127.0.0.1:$backend_port
CONFIG
  haproxy -db -f "$out/haproxy.cfg" >"$out/haproxy.log" 2>&1 &
}

start_nginx() {
  local prefix="$out/nginx"
  mkdir -p "$prefix"
  cat >"$prefix/nginx.conf" <<CONFIG
daemon off;
master_process off;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $prefix/client_body;
    proxy_temp_path $prefix/proxy;
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    upstream backend { server 127.0.0.1:$backend_port; keepalive 128; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$proxy_port;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONFIG
  nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$out/nginx.log" 2>&1 &
}

"start_$target"
target_pid=$!
pids+=("$target_pid")
wait_for "$proxy_port" /api/v1/items

# Warm up (tiered JIT settles, upstream connections open), then sample while the same load runs.
url="http://127.0.0.1:$proxy_port/api/v1/items"
# In the background and waited for, so that SIGTERM stops the run at once rather than after the warm-up.
background() { "$@" & pids+=("$!"); wait "$!"; }
background wrk -t1 -c32 -d5s -H "Host: $host" "$url" >/dev/null
# At a low rate, code that wrk never ran hot (idle waits, timers) is still being tiered up: 10 s more at that rate.
[ -z "$rate" ] || background dotnet "$loadbench" rate "$proxy_port" "$rate" 10 >/dev/null
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$target_pid/stat"; }
read -r user_before system_before < <(cpu_ticks)
if [ -n "$rate" ]; then
  dotnet "$loadbench" rate "$proxy_port" "$rate" "$((seconds + 2))" >"$out/load.txt" &
else
  wrk -t1 -c32 -d"$((seconds + 2))s" -H "Host: $host" "$url" >"$out/load.txt" &
fi
load_pid=$!
pids+=("$load_pid")
sleep 1
calls=(epoll_wait epoll_pwait epoll_ctl futex read write recvfrom sendto recvmsg sendmsg)
events=context-switches,raw_syscalls:sys_enter$(printf ',syscalls:sys_enter_%s' "${calls[@]}")
perf stat -x, -e "$events" -p "$target_pid" -o "$out/perf-stat.csv" -- sleep "$seconds" &
stat_pid=$!
pids+=("$stat_pid")
background perf record -q -F 1999 -g -p "$target_pid" -o "$out/perf.data" -- sleep "$seconds" 2>"$out/perf-record.log"
wait "$stat_pid" || true
wait "$load_pid"
read -r user_after system_after < <(cpu_ticks)
if [ -n "$rate" ]; then
  requests=$(awk '/requests answered/ { print $1 }' "$out/load.txt")
  summary=$(cat "$out/load.txt")
else
  requests=$(awk '/requests in/ { print $1 }' "$out/load.txt")
  summary=$(grep -E 'Requests/sec' "$out/load.txt")
fi
awk -v u=$((user_after - user_before)) -v s=$((system_after - system_before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "CPU per request: %.1f µs (user %.1f, system %.1f) over %d requests\n", (u + s) * 1e6 / hz / n, u * 1e6 / hz / n, s * 1e6 / hz / n, n }' \
  >"$out/cpu.txt"
# perf covers the sampled seconds only; the load ran 2 s longer at a steady rate, so its requests in those seconds are:
sampled=$(awk -v n="$requests" -v s="$seconds" 'BEGIN { printf "%d", n * s / (s + 2) }')
awk -F, -v n="$sampled" '$3 == "context-switches" { c = $1 } $3 == "raw_syscalls:sys_enter" { k = $1 }
   $3 ~ /^syscalls:sys_enter_/ && $1 > 0 { sub(/^syscalls:sys_enter_/, "", $3); each = each sprintf(" %s %.2f", $3, $1 / n) }
   END { if (c != "" && k != "") printf "Per request: %.2f context switches, %.2f system calls (%s)\n", c / n, k / n, substr(each, 2) }' \
  "$out/perf-stat.csv" >>"$out/cpu.txt"

perf report -i "$out/perf.data" --no-children --sort dso -n --stdio -g none >"$out/by-library.txt" 2>/dev/null
perf report -i "$out/perf.data" --no-children --sort sym --stdio -g none >"$out/by-symbol.txt" 2>/dev/null
perf report -i "$out/perf.data" --children --sort sym --stdio -g none >"$out/by-symbol-inclusive.txt" 2>/dev/null
top() { grep -v '^#' "$1" | grep -v '^$' | head -"$2" || true; }
echo "$target: $summary"
cat "$out/cpu.txt"
# perf samples the process's CPU time (cpu-clock) 1999 times a second, so samples per library are CPU time per library.
echo "--- by library: share of the samples, CPU µs per request"
top "$out/by-library.txt" 12 | awk -v n="$sampled" \
  '{ library = $3; for (i = 4; i <= NF; i++) library = library " " $i; printf "%8s %7.1f µs  %s\n", $1, $2 * 1e6 / 1999 / n, library }'
echo "--- by symbol (self)"; top "$out/by-symbol.txt" 60
echo "profile: $out"
