"""The fault and load suite (`make soak`; plain `make test` leaves this folder out): the whole
stack as real processes — moto, a private PostgreSQL cluster the suite may stop and start, the
dev IdP, and the gateway, jobs, annotator, notifier and archiver services.

Assertions are about what a user or an operator notices (every job ends once, one mail each,
a readable 503 rather than a 500); timings are measured and printed, not asserted. The figures
of every scenario are printed at the end of the run and written to test-artefacts/soak/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gas_testing.data import KnownSnp, known_snps
from gas_testing.gateway import DevIdp
from gas_testing.localstack import PrivatePostgres
from gas_testing.plugin import Stack
from tests.soak.report import summary
from tests.soak.stack import EVERY_SERVICE, SoakStack, StartSoak, start_soak_stack


@pytest.fixture(scope="session")
def soak_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    """A cluster of the suite's own, whatever DATABASE_URL says: one scenario restarts it."""
    cluster = PrivatePostgres(tmp_path_factory.mktemp("soak-pg") / "data").start()
    yield cluster
    cluster.discard()


@pytest.fixture(scope="session")
def database_url(soak_postgres: PrivatePostgres) -> str:
    """Every gateway database of the suite lives in the suite's own cluster."""
    return soak_postgres.url


@pytest.fixture(scope="session")
def bundle_cache() -> Path:
    from anntools import ensure_bundle

    return ensure_bundle("GRCh37").parent


@pytest.fixture(scope="session")
def snps() -> list[KnownSnp]:
    return known_snps("GRCh37")


@pytest.fixture
def start_soak(
    stack: Stack, gateway_database: str, dev_idp: DevIdp, bundle_cache: Path, tmp_path: Path
) -> Iterator[StartSoak]:
    started: list[SoakStack] = []

    def start(
        names: tuple[str, ...] = EVERY_SERVICE, annotators: int = 1, **settings: str
    ) -> SoakStack:
        soak = start_soak_stack(
            stack,
            database_url=gateway_database,
            idp=dev_idp,
            bundle_cache=bundle_cache,
            log_dir=tmp_path,
            names=names,
            annotators=annotators,
            **settings,
        )
        started.append(soak)
        return soak

    yield start
    for soak in started:
        soak.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("fault and load suite: figures")
    terminalreporter.write_line(summary())
