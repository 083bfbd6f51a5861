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


def check_timeseries_access(settings: Settings) -> list[str]:
    """At start: what the configured InfluxDB user may do, with warnings to log (none for the
    embedded store). Creates the database and retention policy where the user may.

    Raises StoreAccessError naming the setting or privilege to fix; StoreUnavailableError when
    InfluxDB cannot be reached (the service can start anyway: writes queue on disk).
    """
    if not settings.influx_url:
        return []
    import httpx

    from strigil.store.influx import RETENTION_POLICY
    from strigil.store.influx_access import InfluxAccess

    username = settings.influx_username
    auth = (username, settings.influx_password or "") if username else None
    with httpx.Client(base_url=settings.influx_url.rstrip("/"), timeout=10.0, auth=auth) as http:
        access = InfluxAccess(http, database=settings.influx_database, username=username)
        report = access.ensure(
            policy=RETENTION_POLICY,
            duration=settings.influx_retention,
            create=settings.influx_create_database,
        )
    return report.warnings
