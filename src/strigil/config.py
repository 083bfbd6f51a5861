"""Settings, from ``STRIGIL_*`` environment variables (or a ``.env`` file named by
``STRIGIL_ENV_FILE``). Build them with :func:`get_settings`, never at import time, so that
tests and commands can choose their own."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRIGIL_", extra="ignore")

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

    @field_validator("influx_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"STRIGIL_INFLUX_URL must start with http:// or https://: {value!r}")
        return value or None

    @property
    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'strigil.sqlite'}"


def get_settings() -> Settings:
    env_file = os.environ.get("STRIGIL_ENV_FILE")
    if env_file:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    return Settings()
