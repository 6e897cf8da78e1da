#!/usr/bin/env bash
# Installs conftest, built from the Go module proxy, for the policy
# compatibility test (generator/check: TestConftestSameVerdict), which fails
# without it when CI=true.
#
# Usage: policies/install-conftest.sh [BINDIR]   (default: $(go env GOPATH)/bin)
# The test finds conftest through $CONFTEST, then PATH, then $(go env GOPATH)/bin.
# v0.71.1 is the newest release that builds with Go 1.26 here; the build
# takes several minutes on two cores, so an existing binary is kept.
set -euo pipefail
version="${CONFTEST_VERSION:-v0.71.1}"
bindir="${1:-$(go env GOPATH)/bin}"
mkdir -p "$bindir"
stamp="$bindir/.conftest-version"
if [ -x "$bindir/conftest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
	echo "conftest $version already in $bindir"
	exit 0
fi
echo "building conftest $version into $bindir"
GOBIN="$bindir" GOFLAGS=-mod=mod go install "github.com/open-policy-agent/conftest@${version}"
echo "$version" > "$stamp"
"$bindir/conftest" --version
