#!/usr/bin/env bash
# Installs everything graft's tests need on a fresh machine. Idempotent:
# each step checks first. Called by `make deps` (and so by `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p .cache/bin

apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "deps: please install: ${missing[*]} (apt-get install)" >&2
		exit 2
	fi
	echo "deps: apt-get install ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# git (publish tests), etcd (the Kubernetes control plane), python venv (moto),
# tmux (the terminal captures of cmd/graft TestTmux).
apt_install git etcd-server python3-venv tmux

# kubectl: `kubectl kustomize` is the kustomize Argo CD runs; the tests
# compare it with krusty.
if ! command -v kubectl >/dev/null 2>&1; then
	echo "deps: kubectl not found; installing the standalone kustomize v5 as 'kubectl kustomize' shim"
	GOBIN="$root/.cache/bin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.0
	cat > .cache/bin/kubectl <<'SH'
#!/usr/bin/env bash
# graft's CI shim: only `kubectl kustomize DIR` is needed.
[ "${1:-}" = kustomize ] || { echo "kubectl shim: only 'kustomize' is supported" >&2; exit 2; }
shift
exec "$(dirname "$0")/kustomize" build "$@"
SH
	chmod +x .cache/bin/kubectl
fi

for script in generator/ebs/install-moto.sh policies/install-conftest.sh; do
	if [ -f "$script" ]; then bash "$script"; fi
done
echo "deps: ok"
