"""Where GAS is and which API token to use: ``GAS_URL`` / ``GAS_TOKEN``, else the config file
(``GAS_CONFIG`` or ``~/.config/gas/config.toml``) written by ``gas configure``."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


class NotConfigured(Exception):
    pass


@dataclass(frozen=True)
class Config:
    url: str
    token: str


def config_path() -> Path:
    if explicit := os.environ.get("GAS_CONFIG"):
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "gas" / "config.toml"


def load() -> Config:
    stored: dict[str, str] = {}
    path = config_path()
    if path.exists():
        stored = {key: str(value) for key, value in tomllib.loads(path.read_text()).items()}
    url = os.environ.get("GAS_URL") or stored.get("url") or DEFAULT_URL
    token = os.environ.get("GAS_TOKEN") or stored.get("token")
    if not token:
        raise NotConfigured(
            "no API token: create one in GAS (Account → API tokens) and run "
            "`gas configure --token gas_...`, or set GAS_TOKEN"
        )
    return Config(url=url.rstrip("/"), token=token)


def save(config: Config) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(f'url = "{config.url}"\ntoken = "{config.token}"\n')
    return path
