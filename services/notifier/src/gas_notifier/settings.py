from pydantic import Field
from pydantic_settings import SettingsConfigDict

from gas_core.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GAS_NOTIFIER_", extra="ignore")

    port: int = 8003
    gateway_url: str = Field(
        default="http://127.0.0.1:8005",
        description="The gateway's internal API (its GAS_GATEWAY_INTERNAL_PORT): "
        "where to look up a user's address, GET /internal/users/{id}.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The URL users reach; links in mails point at {public_url}/jobs/<job_id>.",
    )
    send_lease_seconds: int = Field(
        default=60,
        description=(
            "How long a claimed mail is reserved for the worker sending it; after that a "
            "redelivery may send it (the first worker died mid-send)."
        ),
    )
    receive_wait_seconds: int = Field(
        default=10,
        ge=0,
        le=20,
        description="SQS long-poll wait; also how long a stop may wait for a poll to return.",
    )
