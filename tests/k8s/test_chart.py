"""helm lint/template with every ci value set, then the rendered manifests against the real
schemas: kubernetes-validate (strict) for core kinds, KEDA's CRDs for ScaledObject and
TriggerAuthentication."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_chart import (
    CHART,
    CI_VALUES,
    HELM,
    core_errors,
    keda_errors,
    keda_schemas,
    render,
    rendered,
    run,
)

ids = [v.stem for v in CI_VALUES]


def test_every_value_set_is_there() -> None:
    assert {v.stem for v in CI_VALUES} >= {"minimal-values", "eks-production-values", "dev-values"}


@pytest.mark.parametrize("values", CI_VALUES, ids=ids)
def test_helm_lint(values: Path) -> None:
    result = run(HELM, "lint", CHART, "--strict", "-f", values)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", CI_VALUES, ids=ids)
def test_core_kinds_are_valid_kubernetes(values: Path) -> None:
    manifests = rendered(values)
    assert {"Deployment", "ServiceAccount", "PodDisruptionBudget"} <= {d["kind"] for d in manifests}
    assert core_errors(manifests) == []


@pytest.mark.parametrize("values", CI_VALUES, ids=ids)
def test_keda_resources_match_the_crds(values: Path, shared: Path) -> None:
    assert keda_errors(rendered(values), keda_schemas(shared)) == []


def test_production_scales_workers_with_keda_and_apis_with_hpa() -> None:
    manifests = rendered(CHART / "ci" / "eks-production-values.yaml")
    by_kind: dict[str, dict[str, Any]] = {}
    for doc in manifests:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    assert set(by_kind["HorizontalPodAutoscaler"]) == {"gas-gateway", "gas-jobs"}
    assert set(by_kind["ScaledObject"]) == {"gas-annotator", "gas-notifier", "gas-archiver"}
    annotator = by_kind["ScaledObject"]["gas-annotator"]["spec"]
    (trigger,) = annotator["triggers"]
    assert trigger["type"] == "aws-sqs-queue"
    assert trigger["metadata"]["queueURL"] == (
        "https://sqs.us-east-1.amazonaws.com/123456789012/gas-prod-annotator"
    )
    assert trigger["metadata"]["scaleOnInFlight"] == "true"
    auth = by_kind["TriggerAuthentication"][trigger["authenticationRef"]["name"]]["spec"]
    assert auth["podIdentity"] == {"provider": "aws", "identityOwner": "workload"}
    archiver_queues = {
        t["metadata"]["queueURL"].rsplit("/", 1)[-1]
        for t in by_kind["ScaledObject"]["gas-archiver"]["spec"]["triggers"]
    }
    assert archiver_queues == {"gas-prod-archiver", "gas-prod-archiver-restores"}
    # No Deployment fixes a replica count that an autoscaler owns.
    assert all("replicas" not in d["spec"] for d in by_kind["Deployment"].values())


def test_production_pods_are_hardened_and_annotators_get_their_node_group() -> None:
    manifests = rendered(CHART / "ci" / "eks-production-values.yaml")
    deployments = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Deployment"}
    assert set(deployments) == {
        f"gas-{s}" for s in ("gateway", "jobs", "annotator", "notifier", "archiver")
    }
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"], name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        assert pod["securityContext"]["runAsNonRoot"], name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(container), name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == ("topology.kubernetes.io/zone")
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
    annotator = deployments["gas-annotator"]["spec"]["template"]["spec"]
    assert annotator["nodeSelector"]["gas.io/node-group"] == "annotator"
    assert annotator["tolerations"][0]["key"] == "gas.io/annotator"
    assert annotator["containers"][0]["startupProbe"]["httpGet"]["path"] == "/readyz"
    # Long enough to finish or hand back a job: stop grace + one long poll + margin.
    assert annotator["terminationGracePeriodSeconds"] >= 25 + 10


def test_production_ingress_is_an_https_alb() -> None:
    manifests = rendered(CHART / "ci" / "eks-production-values.yaml")
    (ingress,) = [d for d in manifests if d["kind"] == "Ingress"]
    notes = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert notes["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert notes["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert notes["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert notes["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    idle = re.search(
        r"idle_timeout.timeout_seconds=(\d+)",
        notes["alb.ingress.kubernetes.io/load-balancer-attributes"],
    )
    assert idle and int(idle.group(1)) > 60


def test_the_internal_api_has_its_own_port_that_only_the_workers_reach() -> None:
    manifests = rendered(CHART / "ci" / "eks-production-values.yaml")
    by_kind: dict[str, dict[str, Any]] = {}
    for doc in manifests:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    gateway_pod = by_kind["Deployment"]["gas-gateway"]["spec"]["template"]["spec"]
    (container,) = gateway_pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert ports == {"http": 8000, "internal": 8005}
    assert env["GAS_GATEWAY_INTERNAL_PORT"] == "8005"
    service_ports = {
        p["name"]: (p["port"], p["targetPort"])
        for p in by_kind["Service"]["gas-gateway"]["spec"]["ports"]
    }
    assert service_ports == {"http": (8000, "http"), "internal": (8005, "internal")}
    # The ALB only ever reaches the public port.
    (ingress,) = by_kind["Ingress"].values()
    backends = [
        p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]
    ]
    assert backends == [{"name": "gas-gateway", "port": {"name": "http"}}]
    # The workers are given the internal port ...
    for worker in ("notifier", "archiver"):
        pod = by_kind["Deployment"][f"gas-{worker}"]["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env[f"GAS_{worker.upper()}_GATEWAY_URL"] == "http://gas-gateway:8005"
        egress = by_kind["NetworkPolicy"][f"gas-{worker}"]["spec"]["egress"]
        assert egress[0]["ports"] == [{"port": 8005, "protocol": "TCP"}]
    # ... which admits those two pods and nothing else; the address ranges reach `http` only.
    rules = by_kind["NetworkPolicy"]["gas-gateway"]["spec"]["ingress"]
    by_port = {rule["ports"][0]["port"]: rule["from"] for rule in rules}
    assert set(by_port) == {"http", "internal"}
    assert all("ipBlock" in peer for peer in by_port["http"])
    callers = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for peer in by_port["internal"]
    }
    assert callers == {"notifier", "archiver"}
    assert all(set(peer) == {"podSelector"} for peer in by_port["internal"])


def test_hooks_migrate_and_verify_bundles_before_the_new_version() -> None:
    manifests = rendered(CHART / "ci" / "eks-production-values.yaml")
    jobs = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Job"}
    assert set(jobs) == {"gas-db-migrate", "gas-bundles"}
    for job in jobs.values():
        assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"]
    (migrate,) = jobs["gas-db-migrate"]["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["gas-admin", "db", "migrate"]


def test_secrets_come_only_from_the_existing_secret() -> None:
    for values in CI_VALUES:
        for doc in rendered(values):
            assert doc["kind"] != "Secret", values.name
    result = run(HELM, "template", "gas", CHART)
    assert result.returncode != 0
    assert "secrets.existingSecret" in result.stderr


def test_values_schema_refuses_unknown_and_wrong_values(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "secrets": {"existingSecret": "s"},
                "annotator": {"keda": {"queueLenght": 3}, "settings": {"jobsPerProcess": 0}},
            }
        )
    )
    result = run(HELM, "template", "gas", CHART, "-f", bad)
    assert result.returncode != 0
    assert "queueLenght" in result.stderr
    assert "annotator.settings.jobsPerProcess" in result.stderr


def test_a_template_that_breaks_a_schema_fails_the_checks(tmp_path: Path, shared: Path) -> None:
    """The checks above are not vacuous: break a core kind and a KEDA kind in a copy of the
    chart, and both validators name the broken field."""
    chart = tmp_path / "gas"
    shutil.copytree(CHART, chart)
    deployments = chart / "templates" / "deployments.yaml"
    deployments.write_text(
        deployments.read_text().replace(
            "containerPort: {{ $port }}", "containerPort: {{ $port }}\n              hostPorts: 80"
        )
    )
    keda = chart / "templates" / "keda.yaml"
    keda.write_text(
        keda.read_text().replace(
            "pollingInterval: {{ $v.keda.pollingInterval }}", "pollingInterval: every-15s"
        )
    )
    values = CHART / "ci" / "minimal-values.yaml"
    manifests = tuple(d for d in yaml.safe_load_all(render(values, chart)) if d)
    core = core_errors(manifests)
    assert any("hostPorts" in e and e.startswith("Deployment gas-gateway") for e in core), core
    keda_problems = keda_errors(manifests, keda_schemas(shared))
    assert any(
        e.startswith("ScaledObject gas-annotator spec/pollingInterval") for e in keda_problems
    ), keda_problems


@pytest.mark.parametrize("values", CI_VALUES, ids=ids)
def test_notes_render(values: Path, tmp_path: Path) -> None:
    """NOTES.txt is rendered only by a real install; render it here through a copy of the chart
    that includes it as a named template."""
    chart = tmp_path / "gas"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes.tpl").write_text(
        '{{- define "notes" -}}' + notes + "{{- end -}}"
    )
    (chart / "templates" / "notes.yaml").write_text('notes: {{ include "notes" . | toJson }}\n')
    result = run(
        HELM,
        "template",
        "gas",
        chart,
        "-n",
        "gas",
        "-f",
        values,
        "--show-only",
        "templates/notes.yaml",
    )
    assert result.returncode == 0, result.stderr
    text = yaml.safe_load(result.stdout)["notes"]
    release = yaml.safe_load(values.read_text())
    assert release["gateway"]["publicUrl"] in text
    assert "desired replicas" in text or not release.get("annotator", {}).get("keda", {}).get(
        "enabled", True
    )
