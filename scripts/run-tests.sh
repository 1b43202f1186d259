#!/usr/bin/env bash
# Run the test suite. Extra arguments go to pytest (e.g. `make test ARGS="-k jobs"`).
# pytest exits 5 when nothing was collected; that is a failure of the suite, said plainly.
set -uo pipefail
cd "$(dirname "$0")/.."
# The web app: its type check and build (which the gateway serves to the browser tests), then
# its unit tests.
if [ -f services/web/package.json ]; then
    (cd services/web && npm run --silent build && npm test --silent) || exit 1
fi
uv run --no-sync pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "run-tests: pytest collected no tests — check the selection (-k/-m) or the test paths" >&2
fi
exit "$status"
