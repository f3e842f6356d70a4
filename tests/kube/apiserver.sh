#!/usr/bin/env bash
# A real kube-apiserver (v1.20.2) + etcd on loopback for Updraft's Kubernetes tests.
#
#   tests/kube/apiserver.sh build        build kube-apiserver and kube-controller-manager once from Debian's `kubernetes`
#                                        source package and cache them
#   tests/kube/apiserver.sh start DIR    start etcd + kube-apiserver + the garbage collector (kube-controller-manager
#                                        with only that controller) with state in DIR; writes DIR/kubeconfig and DIR/env
#   tests/kube/apiserver.sh restart DIR  stop and start kube-apiserver only, on the same port (etcd keeps its data)
#   tests/kube/apiserver.sh stop DIR     stop all three by the process ids recorded in DIR
#
# The binaries are cached outside the repository, in $UPDRAFT_CACHE (default ~/.cache/updraft), so only the first run
# on a machine pays the ~10 minute build. Only the garbage collector runs of the controllers: owner references work as
# in a cluster (deleting an owner deletes what it owns), while Deployments, Jobs and the like get no status unless a
# test writes it, so the tests decide when a workload is "ready". Debian ships v1.20 (API level 1.20: discovery.k8s.io/v1beta1 EndpointSlices).
set -euo pipefail

VERSION=1.20.2
CACHE=${UPDRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/updraft}
BINARY="$CACHE/kube-apiserver-v$VERSION/kube-apiserver"
CONTROLLER_MANAGER="$CACHE/kube-controller-manager-v$VERSION/kube-controller-manager"
TOKEN=updraft-test-token

say() { echo "apiserver: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# apt-get source needs a deb-src entry; add one next to the machine's own Debian entry for the download only.
download_source() {
  local into=$1 list=/etc/apt/sources.list.d/updraft-kube-src.sources
  local uris
  uris=$(awk '/^URIs:/ && !/security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$uris" ]; then
    uris=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  fi
  if [ -z "$uris" ]; then
    say "cannot find the machine's Debian package source (debian.sources or sources.list) to add a deb-src entry"
    exit 1
  fi
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uris" |
    as_root tee "$list" >/dev/null
  trap 'as_root rm -f "'"$list"'"; as_root apt-get update -qq || true' RETURN
  as_root apt-get update -qq
  (cd "$into" && apt-get source --download-only kubernetes >/dev/null)
}

build() {
  local targets=()
  [ -x "$BINARY" ] || targets+=(cmd/kube-apiserver)
  [ -x "$CONTROLLER_MANAGER" ] || targets+=(cmd/kube-controller-manager)
  if [ ${#targets[@]} -eq 0 ]; then
    say "using cached $BINARY and $CONTROLLER_MANAGER"
    return 0
  fi
  install_packages rsync golang-go golang-github-modern-go-reflect2-dev etcd-server openssl curl
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/updraft-kube-build.XXXXXX")
  say "building ${targets[*]} v$VERSION in $work (about 10 minutes on 2 cores, once per machine)"
  download_source "$work"
  tar xzf "$work"/kubernetes_*.orig.tar.gz -C "$work"
  local tree="$work/kubernetes-$VERSION"
  # The vendored reflect2 1.0.1 crashes under Go >= 1.18 on the first custom resource write; Debian's 1.0.2 does not.
  local reflect2="$tree/vendor/github.com/modern-go/reflect2"
  find "$reflect2" -maxdepth 1 \( -name '*.go' -o -name '*.s' \) -delete
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$reflect2/"
  mkdir -p "$tree/.go/src/k8s.io" "$work/home"
  ln -sfn ../../.. "$tree/.go/src/k8s.io/kubernetes"
  (cd "$tree" && GOPATH="$tree/.go" CGO_ENABLED=0 HOME="$work/home" GOFLAGS=-buildvcs=false make WHAT="${targets[*]}" >"$work/build.log" 2>&1) || {
    tail -40 "$work/build.log" >&2
    say "build failed; the full log is $work/build.log"
    exit 1
  }
  for binary in "$BINARY" "$CONTROLLER_MANAGER"; do
    [ -x "$binary" ] && continue
    mkdir -p "$(dirname "$binary")"
    cp "$tree/_output/bin/$(basename "$binary")" "$binary.partial"
    mv "$binary.partial" "$binary"
  done
  chmod -R u+w "$work" && rm -rf "$work"
  say "cached ${targets[*]} in $CACHE"
}

# A port below the kernel's ephemeral range (32768-60999), so that while kube-apiserver restarts nobody's bind(0)
# or outgoing connection takes its port.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "apiserver: no free port found" >&2
  return 1
}

wait_for() {
  local what=$1 tries=$2
  shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  say "$what did not become ready"
  return 1
}

start() {
  local dir=${1:?usage: apiserver.sh start DIR}
  build
  install_packages etcd-server openssl curl
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local etcd_port etcd_peer_port api_port
  etcd_port=$(free_port)
  etcd_peer_port=$(free_port)
  api_port=$(free_port)
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  # The admin (system:masters) may do anything; the two component users only what RBAC grants them, so tests can
  # check that the documented roles are enough.
  {
    echo "$TOKEN,updraft-admin,1,system:masters"
    echo "updraft-interceptor-token,updraft-interceptor,2"
    echo "updraft-scaler-token,updraft-scaler,3"
    echo "updraft-operator-token,updraft-operator,4"
  } >"$dir/tokens.csv"

  local etcd=etcd
  command -v etcd >/dev/null 2>&1 || etcd=/usr/bin/etcd
  "$etcd" --name updraft-test --data-dir "$dir/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "updraft-test=http://127.0.0.1:$etcd_peer_port" >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  wait_for etcd 80 curl -sf "http://127.0.0.1:$etcd_port/health"

  echo "$etcd_port" >"$dir/etcd.port"
  echo "$api_port" >"$dir/apiserver.port"
  if ! start_apiserver "$dir"; then
    stop "$dir"
    exit 1
  fi

  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: updraft-test
  cluster:
    server: https://127.0.0.1:$api_port
    insecure-skip-tls-verify: true
users:
- name: updraft-admin
  user:
    token: $TOKEN
contexts:
- name: updraft-test
  context:
    cluster: updraft-test
    user: updraft-admin
current-context: updraft-test
EOF
  if ! start_garbage_collector "$dir"; then
    stop "$dir"
    exit 1
  fi
  printf 'UPDRAFT_TEST_KUBECONFIG=%s\n' "$dir/kubeconfig" >"$dir/env"
  say "ready on https://127.0.0.1:$api_port (kubeconfig $dir/kubeconfig)"
}

start_apiserver() {
  local dir=$1 etcd_port api_port
  etcd_port=$(cat "$dir/etcd.port")
  api_port=$(cat "$dir/apiserver.port")
  "$BINARY" --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --secure-port "$api_port" \
    --advertise-address 127.0.0.1 --cert-dir "$dir/certs" --authorization-mode RBAC \
    --token-auth-file "$dir/tokens.csv" --service-cluster-ip-range 10.96.0.0/16 \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$dir/sa.pub" \
    --service-account-signing-key-file "$dir/sa.key" --disable-admission-plugins ServiceAccount \
    >>"$dir/apiserver.log" 2>&1 &
  echo $! >"$dir/apiserver.pid"
  if ! wait_for kube-apiserver 240 curl -skf -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$api_port/readyz"; then
    tail -20 "$dir/apiserver.log" >&2
    return 1
  fi
}

# kube-controller-manager with the garbage collector only, serving nothing (no ports to collide).
start_garbage_collector() {
  local dir=$1
  "$CONTROLLER_MANAGER" --kubeconfig "$dir/kubeconfig" --controllers garbagecollector --leader-elect=false \
    --port 0 --secure-port 0 --concurrent-gc-syncs 5 >>"$dir/controller-manager.log" 2>&1 &
  echo $! >"$dir/controller-manager.pid"
  sleep 0.5
  if ! kill -0 "$(cat "$dir/controller-manager.pid")" 2>/dev/null; then
    tail -20 "$dir/controller-manager.log" >&2
    say "kube-controller-manager did not start"
    return 1
  fi
}

stop_process() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

restart() {
  local dir=${1:?usage: apiserver.sh restart DIR}
  stop_process "$dir/apiserver.pid"
  start_apiserver "$dir"
  say "restarted on port $(cat "$dir/apiserver.port")"
}

stop() {
  local dir=${1:?usage: apiserver.sh stop DIR}
  for name in controller-manager apiserver etcd; do
    stop_process "$dir/$name.pid"
  done
}

case "${1:-}" in
  build) build ;;
  start) start "${2:-}" ;;
  restart) restart "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 build | start DIR | restart DIR | stop DIR" >&2; exit 2 ;;
esac
