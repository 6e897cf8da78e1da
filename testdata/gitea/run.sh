#!/usr/bin/env bash
# Real-forge test of graft publish: builds Gitea (code.gitea.io/gitea v1.26.0,
# from the Go module proxy, with the sqlite tags) into
# testdata/gitea/server/bin/gitea when it is missing or server/go.mod or go.sum
# changed (several minutes cold on two cores, seconds when cached), then runs
# TestPublishToGitea (gitea_test.go, a package of graft's own module, so it
# shares graft's test helpers): Gitea on 127.0.0.1 with SQLite in temp dirs, a
# user, a token and a repository, and graft publish --provider gitea run
# against it (open, update, no change, API error, protected branch). Extra
# arguments go to go test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="$here/server"
mkdir -p "$server/bin"
stamp="$(cat "$server/go.mod" "$server/go.sum" | sha256sum | cut -d' ' -f1)"
if [[ ! -x $server/bin/gitea || "$(cat "$server/bin/gitea.stamp" 2>/dev/null)" != "$stamp" ]]; then
	echo "building Gitea v1.26.0 into $server/bin/gitea (several minutes cold)..." >&2
	start=$(date +%s)
	(cd "$server" && nice -n "${GITEA_NICE:-10}" go build -tags 'sqlite sqlite_unlock_notify' -o bin/gitea.tmp code.gitea.io/gitea)
	mv "$server/bin/gitea.tmp" "$server/bin/gitea"
	echo "$stamp" > "$server/bin/gitea.stamp"
	echo "built Gitea in $(( $(date +%s) - start ))s" >&2
fi
cd "$here/../.."
GRAFT_GITEA_REQUIRED=1 exec go test -count=1 -v -run TestPublishToGitea "$@" ./testdata/gitea
