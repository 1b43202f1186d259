"""Write the OpenAPI schemas the web app is typed against: the gateway's public API and the jobs
API it forwards ``/api/jobs`` to. `npm run api-types` runs this, then openapi-typescript;
tests/e2e/test_api_types.py fails when the committed copies fall behind the services."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "api" / "openapi"


def schemas() -> dict[str, dict[str, Any]]:
    from gas_gateway.main import create_app as create_gateway
    from gas_gateway.openapi import with_edge_answers
    from gas_gateway.settings import Settings as GatewaySettings
    from gas_jobs.main import create_app as create_jobs

    # The schema needs no database, HTTP client or AWS: nothing is called while it is built.
    # The gateway publishes its own routes with the answers its edge adds (429, 401, 503);
    # the jobs routes it forwards are typed from jobs.json.
    gateway = create_gateway(GatewaySettings(), pool=None, http=None, outbox=None)  # type: ignore[arg-type]
    return {
        "gateway": with_edge_answers(gateway.openapi()),
        "jobs": create_jobs().openapi(),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name, schema in schemas().items():
        (OUT / f"{name}.json").write_text(render(schema))
        print(f"wrote {OUT / f'{name}.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
