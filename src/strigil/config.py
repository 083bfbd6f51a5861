"""Settings, from ``STRIGIL_*`` environment variables (or a ``.env`` file named by
``STRIGIL_ENV_FILE``). Build them with :func:`get_settings`, never at import time, so that
tests and commands can choose their own."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """A setting that stops the start; the message names it and says what to set."""


_PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "change_me", "secret", "password", "please-change-me", "xxx"}
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIGIL_", extra="ignore")
    _demo_key: str | None = None

    data_dir: Path = Field(
        default=Path("strigil-data"),
        description="Folder for the embedded databases and the InfluxDB write queue.",
    )
    database_url: str | None = Field(
        default=None,
        description="Metadata database (SQLAlchemy URL); default: SQLite in data_dir.",
    )
    influx_url: str | None = Field(
        default=None, description="InfluxDB base URL; unset: time series in embedded SQLite."
    )
    influx_database: str = "strigil"
    influx_username: str | None = None
    influx_password: str | None = None
    influx_retention: str = Field(
        default="INF",
        pattern=r"^(INF|[1-9][0-9]*[hdw])$",
        description="How long InfluxDB keeps data: INF, or a duration such as 520w.",
    )
    influx_create_database: bool = Field(
        default=True,
        description="Create database and retention policy on first start (false for 2.x).",
    )
    spool_max_mb: float = Field(default=512.0, gt=0)

    demo: bool = Field(
        default=False,
        description="Demo mode: a random secret key per run is allowed. Never in a clinic.",
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs access tokens; at least 32 characters, no default."
    )
    token_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    session_max_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 7,
        description="A dashboard session slides (its cookie is renewed while it is used, and "
        "an open live view stays open) up to this long after the login; then log in again.",
    )
    login_attempts_per_minute: int = Field(default=5, gt=0)
    bind_host: str = "127.0.0.1"
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; empty (the default): none, the connection's address "
        "is the client",
    )
    bind_port: int = Field(default=8000, gt=0, lt=65536)

    @field_validator("influx_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"STRIGIL_INFLUX_URL must start with http:// or https://: {value!r}")
        return value or None

    def signing_key(self) -> str:
        """The secret key, checked; in demo mode a random one is made when none is set.

        Raises
        ------
        ConfigError
            Outside demo mode, when STRIGIL_SECRET_KEY is missing, a placeholder or short.
        """
        value = None if self.secret_key is None else self.secret_key.get_secret_value()
        if value is None and self.demo:
            if self._demo_key is None:
                self._demo_key = secrets.token_urlsafe(48)
            return self._demo_key
        if value is None:
            raise ConfigError(
                "STRIGIL_SECRET_KEY is not set: set it to a random string of 32 or more "
                "characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if len(value) < 32 or value.lower() in _PLACEHOLDERS or len(set(value)) < 8:
            raise ConfigError(
                "STRIGIL_SECRET_KEY looks like a placeholder or is shorter than 32 characters: "
                "set a random one"
            )
        return value

    @property
    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'strigil.sqlite'}"


def get_settings() -> Settings:
    env_file = os.environ.get("STRIGIL_ENV_FILE")
    if env_file:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    return Settings()
