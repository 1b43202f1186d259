"""`make k8s-smoke`: run the chart's own Deployments and prove a job goes through them.

Renders charts/gas with k8s/smoke/values.yaml (host network, moto, PostgreSQL and the dev IdP
started here on free ports), runs the rendered Deployments with `podman play kube`, waits until
every pod's /readyz answers, then acts as a user from outside: creates an account and an API
token (gas-admin), submits a real GRCh37 VCF with the `gas` CLI, waits for COMPLETED and
downloads the annotated result. Tears everything down on the way out, failure included, and
checks that no container, pod or process is left. Needs the images (`make images`) and the
GRCh37 reference bundle (`make bundles`); the bundle is served to the annotator from moto's S3,
as prebuilt bundles are on EKS.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import yaml

from gas_testing.localstack import MotoServer, PrivatePostgres, free_port, http_ok, wait_until

ROOT = Path(__file__).resolve().parents[1]
HELM = ROOT / "k8s" / "tools" / "bin" / "helm"
VALUES = ROOT / "k8s" / "smoke" / "values.yaml"
SERVICES = ("gateway", "jobs", "annotator", "notifier", "archiver")
VCF = Path("/usr/lib/R/site-library/VariantAnnotation/extdata/chr22.vcf.gz")
BUILD = "GRCh37"
PREFIX = "gas-smoke"
SECRET = "gas-smoke-secrets"
STATE = Path(os.environ.get("GAS_IMAGES_DIR", "/var/tmp/gas-images"))
START = time.monotonic()


def say(message: str) -> None:
    print(f"[k8s-smoke {time.monotonic() - START:6.1f}s] {message}", flush=True)


def podman_env() -> dict[str, str]:
    return {
        **os.environ,
        "CONTAINERS_CONF": str(ROOT / "k8s" / "images" / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(STATE / "storage.conf"),
    }


def podman(*args: str, check: bool = True, input: str | None = None) -> str:
    result = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        input=input,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def bundle_dir() -> Path:
    cache = Path(os.environ.get("ANNTOOLS_CACHE", Path.home() / ".cache" / "anntools"))
    found = sorted(cache.glob(f"{BUILD}-*/manifest.json"))
    if not found:
        sys.exit(f"k8s-smoke: no {BUILD} reference bundle in {cache}; run `make bundles` first")
    return found[-1].parent


def publish_bundle(endpoint: str, bucket: str) -> str:
    """Put the prebuilt bundle in (moto's) S3, where the annotator fetches it from."""
    source = bundle_dir()
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=bucket)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, f"bundles/{source.name}/{path.relative_to(source)}")
    return f"s3://{bucket}/bundles"


def render(
    ports: dict[str, int], internal_port: int, moto: str, idp: str, reference_uri: str
) -> list[dict[str, Any]]:
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    gateway_internal = f"http://127.0.0.1:{internal_port}"
    sets = {
        "config.aws.endpointUrl": moto,
        "gateway.publicUrl": gateway,
        "gateway.settings.oidcIssuer": idp,
        "gateway.settings.jobsUrl": f"http://127.0.0.1:{ports['jobs']}",
        "gateway.settings.internalPort": str(internal_port),
        "notifier.settings.gatewayUrl": gateway_internal,
        "archiver.settings.gatewayUrl": gateway_internal,
        "annotator.settings.referenceUri": reference_uri,
        **{f"{service}.settings.port": str(port) for service, port in ports.items()},
    }
    args = [str(HELM), "template", "gas", str(ROOT / "charts" / "gas"), "-f", str(VALUES)]
    for key, value in sets.items():
        args += ["--set-string" if not value.isdigit() else "--set", f"{key}={value}"]
    rendered = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    deployments = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        # What podman cannot take on the host network: port mappings (the ports are the hosts'
        # already), and probes (it turns them into healthchecks that run curl inside the image).
        # The smoke checks /readyz itself, from outside.
        pod["hostNetwork"] = True
        for container in pod["containers"]:
            for key in ("ports", "startupProbe", "livenessProbe", "readinessProbe"):
                container.pop(key, None)
    return deployments


def secret_manifest(database_url: str) -> str:
    """The Secret the chart references, as podman 4.3 reads a secretKeyRef: a JSON object of
    base64 values (the `data` of a Kubernetes Secret)."""
    values = {
        "internal-jwt-secret": uuid.uuid4().hex + uuid.uuid4().hex,
        "oidc-client-secret": "gas-dev-client-secret",
        "database-url": database_url,
        "aws-access-key-id": "testing",
        "aws-secret-access-key": "testing",
    }
    return json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in values.items()})


@contextmanager
def running_idp(port: int, gateway: str) -> Iterator[str]:
    issuer = f"http://127.0.0.1:{port}"
    name = f"gas-smoke-idp-{uuid.uuid4().hex[:6]}"
    podman(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "-e",
        f"GAS_IDP_PORT={port}",
        "-e",
        f"GAS_IDP_ISSUER={issuer}",
        "-e",
        f"GAS_IDP_REDIRECT_URIS={gateway}/auth/callback",
        "-e",
        f"GAS_IDP_POST_LOGOUT_REDIRECT_URIS={gateway}/",
        "localhost/gas-idp:dev",
    )
    try:
        wait_until(
            lambda: http_ok(f"{issuer}/.well-known/openid-configuration"),
            timeout=60,
            what="the dev IdP",
        )
        yield issuer
    finally:
        podman("rm", "-f", "-t", "5", name, check=False)


@contextmanager
def played(deployments: list[dict[str, Any]], database_url: str, work: Path) -> Iterator[None]:
    kube = work / "deployments.yaml"
    kube.write_text(yaml.safe_dump_all(deployments, sort_keys=False))
    podman("secret", "rm", SECRET, check=False)
    podman("secret", "create", SECRET, "-", input=secret_manifest(database_url))
    try:
        podman("play", "kube", str(kube))
        yield
    finally:
        say("tearing down (podman play kube --down)")
        podman("play", "kube", "--down", str(kube), check=False)
        for pod in pods():  # what a half-finished play left behind
            podman("pod", "rm", "-f", "-t", "5", pod, check=False)
        podman("secret", "rm", SECRET, check=False)


def wait_ready(ports: dict[str, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(ports)
    while pending:
        for service, port in list(pending.items()):
            if http_ok(f"http://127.0.0.1:{port}/readyz"):
                say(f"{service} is ready")
                del pending[service]
        if pending and time.monotonic() > deadline:
            details = {}
            for service, port in pending.items():
                try:
                    details[service] = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3).text
                except httpx.HTTPError as error:
                    details[service] = str(error)
            raise TimeoutError(f"not ready after {timeout:.0f} s: {json.dumps(details)}")
        time.sleep(1)


def as_a_user(gateway: str, env: dict[str, str], work: Path) -> None:
    email = "smoke@example.org"
    admin = [sys.executable, "-m", "gas_core.admin"]
    subprocess.run(
        [*admin, "users", "create", "--email", email, "--tier", "premium"],
        env=env,
        check=True,
        capture_output=True,
    )
    token = (
        subprocess.run(
            [*admin, "tokens", "create", "--email", email],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    user_env = {**env, "GAS_URL": gateway, "GAS_TOKEN": token, "XDG_CONFIG_HOME": str(work)}
    gas = [str(Path(sys.executable).with_name("gas"))]
    say(f"submitting {VCF.name} through {gateway} with the gas CLI")
    submitted = subprocess.run(
        [*gas, "submit", str(VCF), "--build", BUILD, "--wait"],
        env=user_env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(submitted.stdout + submitted.stderr, flush=True)
    submitted.check_returncode()
    job_id = submitted.stdout.strip().splitlines()[-1]
    shown = subprocess.run(
        [*gas, "show", job_id], env=user_env, check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(shown)["status"] == "COMPLETED", shown
    result = work / "result.vcf.gz"
    subprocess.run(
        [*gas, "download", job_id, "-o", str(result)], env=user_env, check=True, timeout=300
    )
    opener = gzip.open if result.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(result, "rt") as annotated:
        lines = annotated.read().splitlines()
    infos = [line for line in lines if line.startswith("##INFO=")]
    records = [line for line in lines if line and not line.startswith("#")]
    assert infos and records, "the result has no INFO headers or no records"
    say(f"downloaded {result.name}: {len(records)} annotated records, {len(infos)} INFO fields")


def pods() -> list[str]:
    names = podman("pod", "ps", "--format", "{{.Name}}", check=False).split()
    return [n for n in names if n.startswith(tuple(f"gas-{s}-pod" for s in SERVICES))]


def leftovers() -> list[str]:
    containers = podman("ps", "-a", "--format", "{{.Names}}", check=False).split()
    return pods() + [n for n in containers if n.startswith("gas-")]


def main() -> None:
    if leftovers():
        sys.exit(f"k8s-smoke: pods/containers from an earlier run are still there: {leftovers()}")
    work = Path(tempfile.mkdtemp(prefix="gas-k8s-smoke-", dir="/var/tmp"))
    work.chmod(0o755)  # PostgreSQL runs as its own user inside it when we are root
    ports = {service: free_port() for service in SERVICES}
    internal_port = free_port()  # the gateway's internal API, which the workers call
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        moto = MotoServer(free_port()).start()
        stack.callback(moto.stop)
        postgres = PrivatePostgres(work / "postgres", port=free_port()).start()
        stack.callback(postgres.stop)
        env = {
            **os.environ,
            "GAS_ENVIRONMENT": "development",
            "GAS_PREFIX": PREFIX,
            "GAS_AWS_ENDPOINT_URL": moto.url,
            "GAS_AWS_REGION": "us-east-1",
            "GAS_AWS_ACCESS_KEY_ID": "testing",
            "GAS_AWS_SECRET_ACCESS_KEY": "testing",
            "DATABASE_URL": postgres.url,
        }
        say(f"moto at {moto.url}, PostgreSQL on {postgres.url.rsplit('@', 1)[-1]}; infra up")
        subprocess.run(
            [sys.executable, "-m", "gas_core.admin", "infra", "up"],
            env=env,
            check=True,
            capture_output=True,
        )
        reference_uri = publish_bundle(moto.url, f"{PREFIX}-reference")
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        idp = stack.enter_context(running_idp(free_port(), gateway))
        deployments = render(ports, internal_port, moto.url, idp, reference_uri)
        say(f"playing {len(deployments)} Deployments: {', '.join(map(str, ports.items()))}")
        stack.enter_context(played(deployments, postgres.url, work))
        wait_ready({**ports, "gateway internal API": internal_port}, timeout=300)
        as_a_user(gateway, env, work)
    left = leftovers()
    if left:
        sys.exit(f"k8s-smoke: left behind: {left}")
    say("passed; nothing left running")


if __name__ == "__main__":
    main()
