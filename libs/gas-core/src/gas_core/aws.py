"""One factory for every AWS client, honouring endpoint, region, path-style and credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal

import aioboto3
from botocore.config import Config

from gas_core.settings import AwsSettings


class AwsClients:
    """Long-lived aioboto3 clients, opened once per process and closed on shutdown."""

    def __init__(self, settings: AwsSettings) -> None:
        self._settings = settings
        self._session = aioboto3.Session(
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=(
                settings.secret_access_key.get_secret_value()
                if settings.secret_access_key
                else None
            ),
            region_name=settings.region,
        )
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}

    def _config(self, service: str) -> Config:
        addressing: Literal["path", "auto"] = "path" if self._settings.s3_path_style else "auto"
        return Config(
            s3={"addressing_style": addressing} if service == "s3" else None,
            signature_version="s3v4" if service == "s3" else None,
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=50,
        )

    def _open(self, service: str) -> Any:
        """An un-entered client context manager; `client` enters it once and keeps it."""
        return self._session.client(
            service,
            endpoint_url=self._settings.endpoint_url,
            region_name=self._settings.region,
            config=self._config(service),
        )

    async def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = await self._stack.enter_async_context(self._open(service))
        return self._clients[service]

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()


@asynccontextmanager
async def aws_clients(settings: AwsSettings) -> AsyncIterator[AwsClients]:
    clients = AwsClients(settings)
    try:
        yield clients
    finally:
        await clients.close()
