"""k8s/: every kustomization builds with the real kubectl and validates strictly; skaffold.yaml
matches the skaffold schema of its apiVersion; the kind cluster imitates the node groups the
chart's dev values schedule onto."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from k8s_chart import CHART, KUBECTL, REPO, core_errors, run

KUSTOMIZATIONS = sorted(p.parent for p in (REPO / "k8s").glob("**/kustomization.yaml"))


def test_there_is_a_base_and_a_dev_overlay() -> None:
    assert {p.relative_to(REPO / "k8s").as_posix() for p in KUSTOMIZATIONS} >= {
        "base",
        "overlays/dev",
    }


@pytest.mark.parametrize(
    "path", KUSTOMIZATIONS, ids=lambda p: p.relative_to(REPO / "k8s").as_posix()
)
def test_kustomization_builds_and_validates(path: Path) -> None:
    result = run(KUBECTL, "kustomize", path)
    assert result.returncode == 0, result.stderr
    manifests = tuple(d for d in yaml.safe_load_all(result.stdout) if d)
    assert manifests
    assert core_errors(manifests) == []


def test_dev_overlay_provides_what_the_dev_values_expect() -> None:
    result = run(KUBECTL, "kustomize", REPO / "k8s" / "overlays" / "dev")
    manifests = [d for d in yaml.safe_load_all(result.stdout) if d]
    services = {d["metadata"]["name"] for d in manifests if d["kind"] == "Service"}
    assert {"moto", "postgres", "idp"} <= services
    dev = yaml.safe_load((CHART / "ci" / "dev-values.yaml").read_text())
    (secret,) = [d for d in manifests if d["kind"] == "Secret"]
    assert secret["metadata"]["name"] == dev["secrets"]["existingSecret"]
    chart_defaults = yaml.safe_load((CHART / "values.yaml").read_text())["secrets"]
    keys = {v for k, v in chart_defaults.items() if k.endswith("Key")}
    assert keys <= set(secret["data"])
    assert dev["config"]["aws"]["endpointUrl"] == "http://moto:5000"
    assert dev["gateway"]["settings"]["oidcIssuer"] == "http://idp:8010"


def test_skaffold_yaml_matches_its_schema(shared: Path) -> None:
    config = yaml.safe_load((REPO / "skaffold.yaml").read_text())
    version = config["apiVersion"].removeprefix("skaffold/")
    schema_file = shared / "schemas" / "skaffold" / f"{version}.json"
    assert schema_file.exists(), f"no schema for {config['apiVersion']} in {schema_file.parent}"
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(config, schema)
    images = {a["image"] for a in config["build"]["artifacts"]}
    assert images == {
        f"gas-{s}" for s in ("gateway", "jobs", "annotator", "notifier", "archiver", "idp")
    }
    for artifact in config["build"]["artifacts"]:
        assert (REPO / artifact["context"] / artifact["docker"]["dockerfile"]).exists()
    broken = {**config, "build": {**config["build"], "artifcats": []}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_kind_nodes_imitate_the_node_groups() -> None:
    kind = yaml.safe_load((REPO / "k8s" / "kind-cluster.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())["annotator"]
    workers = [n for n in kind["nodes"] if n["role"] == "worker"]
    groups = {n["labels"]["gas.io/node-group"] for n in workers}
    assert groups == {"general", "annotator"}
    (annotator_node,) = [n for n in workers if n["labels"]["gas.io/node-group"] == "annotator"]
    assert values["nodeSelector"].items() <= annotator_node["labels"].items()
    taints = yaml.safe_load(annotator_node["kubeadmConfigPatches"][0])["nodeRegistration"]["taints"]
    assert [t["key"] for t in taints] == [t["key"] for t in values["tolerations"]]
