#!/usr/bin/env bash
# Run the test suite. Extra arguments go to pytest (e.g. `make test ARGS="-k jobs"`).
# pytest exits 5 when nothing was collected; that is a failure of the suite, said plainly.
set -uo pipefail
cd "$(dirname "$0")/.."
uv run --no-sync pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "run-tests: pytest collected no tests — check the selection (-k/-m) or the test paths" >&2
fi
exit "$status"
