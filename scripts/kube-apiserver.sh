#!/usr/bin/env bash
# Build (once) a real kube-apiserver from Debian's source package `kubernetes` (1.20,
# vendored, offline) and install etcd, for the router's discovery tests.
# Prints the path of the kube-apiserver binary; progress goes to stderr. Cached under
# $MODELPORT_K8S_CACHE (default ~/.cache/modelport/k8s), outside the repository.
# `make k8s` runs it under a time budget (about 5 min cold on 2 cores).
set -euo pipefail
cache="${MODELPORT_K8S_CACHE:-$HOME/.cache/modelport/k8s}"
binary="$cache/kube-apiserver"
if [ -x "$binary" ] && command -v etcd >/dev/null 2>&1; then
  echo "$binary"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "== k8s: installing golang-go, etcd-server and the build tools" >&2
if ! grep -rqs "deb-src" /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null \
   && ! grep -rqs "^Types: deb-src" /etc/apt/sources.list.d/; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    > /etc/apt/sources.list.d/modelport-deb-src.sources
fi
apt-get update -qq >&2
apt-get install -y -qq golang-go etcd-server rsync jq dpkg-dev >&2
if [ ! -x "$binary" ]; then
  echo "== k8s: building kube-apiserver from Debian's source package (once)" >&2
  work="$cache/src"
  mkdir -p "$work"
  cd "$work"
  if [ ! -f .extracted ]; then  # a run stopped half-way (over budget) starts afresh
    rm -rf -- ./kubernetes*
    apt-get source -qq kubernetes >&2
    touch .extracted
  fi
  cd kubernetes-*/
  # the package's own build (debian/rules): kubernetes' make with a GOPATH in the tree
  env HOME="$cache/home" GOPATH="$PWD/.go" GOCACHE="$cache/gocache" \
    make WHAT=cmd/kube-apiserver >&2
  install -m 0755 _output/bin/kube-apiserver "$binary"
fi
echo "$binary"
