from pydantic_settings import SettingsConfigDict

from gas_core.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GAS_GATEWAY_", extra="ignore")

    port: int = 8000
    jobs_url: str = "http://127.0.0.1:8001"
