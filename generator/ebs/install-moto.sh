#!/usr/bin/env bash
# Installs a pinned moto server into a virtualenv for graft's EC2 wire tests
# (generator/ebs/moto_test.go). Usage: generator/ebs/install-moto.sh [VENV]
# (default .cache/moto-venv under the repository root). Idempotent: a venv
# that already has the pinned version is left as it is. The test finds the
# server through GRAFT_MOTO_SERVER, else this venv, else moto_server on PATH.
set -euo pipefail

MOTO_VERSION=5.2.1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-$root/.cache/moto-venv}"

if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "moto $MOTO_VERSION already in $venv"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
"$venv/bin/python" -c "import moto; print('moto', moto.__version__, 'installed in $venv')"
