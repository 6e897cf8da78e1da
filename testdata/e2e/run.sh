#!/usr/bin/env bash
# Runs graft's end-to-end suite against a real Kubernetes control plane
# (etcd + kube-apiserver + kube-controller-manager + kube-scheduler as local
# processes on 127.0.0.1). Used by `make e2e` and CI.
#
#   bash testdata/e2e/run.sh [go test flags...]
#
# Environment: E2E_TIMEOUT (go test -timeout, default 15m), E2E_RUN (-run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

now() { date +%s; }

# 1. etcd from Debian's etcd-server package.
if ! command -v etcd >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "e2e: installing etcd-server (Debian)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
		# The package may start a system service on 2379 where an init
		# system exists; the suite runs its own etcd on free ports.
	else
		echo "e2e: etcd not found: install Debian's etcd-server (apt-get install etcd-server)" >&2
		exit 2
	fi
fi
echo "e2e: $(etcd --version 2>/dev/null | head -1)"
command -v kubectl >/dev/null 2>&1 || { echo "e2e: kubectl not found (needed for 'kubectl kustomize')" >&2; exit 2; }

# 2. The control plane: one multi-call binary (kube-apiserver,
# kube-controller-manager, kube-scheduler) built from k8s.io/kubernetes.
# go build is incremental; a cold build takes ~15 min on 2 cores.
mkdir -p bin
t0=$(now)
nice -n 10 go build -o bin/kubecp ./cmd/kubecp
t1=$(now)
echo "e2e: TIMING control-plane build (go build ./cmd/kubecp): $((t1 - t0))s"

# 3. The suite.
args=(-count=1 -v -timeout "${E2E_TIMEOUT:-15m}")
if [ -n "${E2E_RUN:-}" ]; then
	args+=(-run "$E2E_RUN")
fi
set +e
go test "${args[@]}" "$@" .
rc=$?
set -e
t2=$(now)
echo "e2e: TIMING go test (build + suite): $((t2 - t1))s"
exit $rc
