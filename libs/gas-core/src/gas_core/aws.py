"""One factory for every AWS client, honouring endpoint, region, path-style and credentials.

Clients are typed with the types-aiobotocore stubs, a development dependency: they are
imported for the type checker only, so a runtime install needs none of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Literal, overload

import aioboto3
from botocore.config import Config

from gas_core.settings import AwsSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_ses import SESClient
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient

    AwsClient = DynamoDBClient | S3Client | SESClient | SNSClient | SQSClient

ServiceName = Literal["dynamodb", "s3", "ses", "sns", "sqs"]


class AwsClients:
    """Long-lived aioboto3 clients, opened once per process and closed on shutdown."""

    def __init__(self, settings: AwsSettings, *, max_attempts: int = 5) -> None:
        self._settings = settings
        self._max_attempts = max_attempts
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
        self._clients: dict[ServiceName, AwsClient] = {}

    def _config(self, service: str) -> Config:
        addressing: Literal["path", "auto"] = "path" if self._settings.s3_path_style else "auto"
        return Config(
            s3={"addressing_style": addressing} if service == "s3" else None,
            signature_version="s3v4" if service == "s3" else None,
            retries={"max_attempts": self._max_attempts, "mode": "standard"},
            max_pool_connections=50,
        )

    def _open(self, service: ServiceName) -> AbstractAsyncContextManager[AwsClient]:
        """An un-entered client context manager; `client` enters it once and keeps it."""
        opened: AbstractAsyncContextManager[AwsClient] = self._session.client(  # aioboto3: untyped
            service,
            endpoint_url=self._settings.endpoint_url,
            region_name=self._settings.region,
            config=self._config(service),
        )
        return opened

    @overload
    async def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    async def client(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    async def client(self, service: Literal["ses"]) -> SESClient: ...
    @overload
    async def client(self, service: Literal["sns"]) -> SNSClient: ...
    @overload
    async def client(self, service: Literal["sqs"]) -> SQSClient: ...
    async def client(self, service: ServiceName) -> AwsClient:
        """The process's one client for ``service``, opened on first use."""
        if service not in self._clients:
            self._clients[service] = await self._stack.enter_async_context(self._open(service))
        return self._clients[service]

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()


@asynccontextmanager
async def aws_clients(settings: AwsSettings, *, max_attempts: int = 5) -> AsyncIterator[AwsClients]:
    """The clients of one process; ``max_attempts`` per call (fewer for an operator's command,
    which should say soon that AWS is unreachable rather than retry for half a minute)."""
    clients = AwsClients(settings, max_attempts=max_attempts)
    try:
        yield clients
    finally:
        await clients.close()
