#!/usr/bin/env bash
# Where a proxy's CPU per request goes: perf samples of the proxy process under wrk load, over the same backend and
# route as ./updraft.sh bench, with .NET's perf map so the interceptor's JIT-compiled frames have names.
#
#   bench/profile.sh [seconds [interceptor|haproxy|nginx]]   (default 15 s, the interceptor; its settings, such as
#                                                             UPDRAFT_TRANSPORT, pass through from the environment)
#   UPDRAFT_PROFILE_BINARY=path/to/Updraft.Interceptor bench/profile.sh    (a published build, e.g. Native AOT)
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
pids=()

case "$target" in
  interceptor|haproxy|nginx) ;;
  *) echo "profile: the target is interceptor, haproxy or nginx, not '$target'" >&2; exit 2 ;;
esac
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
[ -f "$backend" ] && [ -f "$interceptor" ] || { echo "profile: build first (dotnet build Updraft.slnx -c Release)" >&2; exit 1; }

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
wrk -t1 -c32 -d5s -H "Host: $host" "$url" >/dev/null
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$target_pid/stat"; }
read -r user_before system_before < <(cpu_ticks)
wrk -t1 -c32 -d"$((seconds + 2))s" -H "Host: $host" "$url" >"$out/wrk.txt" &
wrk_pid=$!
pids+=("$wrk_pid")
sleep 1
perf record -q -F 1999 -g -p "$target_pid" -o "$out/perf.data" -- sleep "$seconds" 2>"$out/perf-record.log"
wait "$wrk_pid"
read -r user_after system_after < <(cpu_ticks)
requests=$(awk '/requests in/ { print $1 }' "$out/wrk.txt")
awk -v u=$((user_after - user_before)) -v s=$((system_after - system_before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "CPU per request: %.1f µs (user %.1f, system %.1f) over %d requests\n", (u + s) * 1e6 / hz / n, u * 1e6 / hz / n, s * 1e6 / hz / n, n }' \
  >"$out/cpu.txt"

perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none >"$out/by-library.txt" 2>/dev/null
perf report -i "$out/perf.data" --no-children --sort sym --stdio -g none >"$out/by-symbol.txt" 2>/dev/null
perf report -i "$out/perf.data" --children --sort sym --stdio -g none >"$out/by-symbol-inclusive.txt" 2>/dev/null
top() { grep -v '^#' "$1" | grep -v '^$' | head -"$2" || true; }
echo "$target: $(grep -E 'Requests/sec' "$out/wrk.txt")"
cat "$out/cpu.txt"
echo "--- by library"; top "$out/by-library.txt" 12
echo "--- by symbol (self)"; top "$out/by-symbol.txt" 60
echo "profile: $out"
