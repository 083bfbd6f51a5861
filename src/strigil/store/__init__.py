"""Storage: time series (InfluxDB or embedded SQLite) and metadata (SQLAlchemy)."""

from __future__ import annotations

from strigil.config import Settings
from strigil.store.timeseries import TimeSeriesStore


def open_timeseries(settings: Settings) -> TimeSeriesStore:
    """InfluxDB when ``STRIGIL_INFLUX_URL`` is set, else the embedded SQLite store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.influx_url:
        from strigil.store.influx import InfluxTimeSeriesStore

        return InfluxTimeSeriesStore(
            settings.influx_url,
            database=settings.influx_database,
            username=settings.influx_username,
            password=settings.influx_password,
            spool_dir=settings.data_dir / "influx-queue",
            spool_max_bytes=int(settings.spool_max_mb * 2**20),
            retention=settings.influx_retention,
            create_database=settings.influx_create_database,
        )
    from strigil.store.sqlite_timeseries import SQLiteTimeSeriesStore

    return SQLiteTimeSeriesStore(settings.data_dir / "timeseries.sqlite")
