"""What the configured InfluxDB user may do, checked at start so an administrator hears it.

InfluxDB 1.x answers 401 for wrong credentials and 403 for a user without the right
privilege; both are settings to fix, never "unreachable". A user with ``ALL`` on the database
but no admin rights (the one docker-compose creates) may write and read but not create the
database or a retention policy: then the database must exist (an administrator creates it), and
without strigil's retention policy the database's default one is used, with a warning naming
the statement to run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from strigil.store.errors import StoreAccessError, StoreUnavailableError, TimeSeriesError

CHECK_MEASUREMENT = "strigil_access_check"
"""A one-point measurement the start-up check writes and reads back (harmless to keep)."""


@dataclass
class AccessReport:
    """What the check found: the retention policy writes will use and what to tell the admin."""

    retention_policy: str | None
    """strigil's policy if it exists (or was just made), else None: the database's default."""
    warnings: list[str] = field(default_factory=list)


class InfluxAccess:
    """InfluxQL over HTTP with errors that say what to fix (shared by the store and ``serve``)."""

    def __init__(self, http: httpx.Client, *, database: str, username: str | None) -> None:
        self.http = http
        self.database = database
        self.username = username

    def _who(self) -> str:
        return f"user {self.username!r}" if self.username else "an anonymous client"

    def refused(self, status: int, doing: str) -> StoreAccessError:
        """The error for a 401 or 403 answer to ``doing`` (a phrase: "write to database x")."""
        if status == 401:
            return StoreAccessError(
                f"InfluxDB refused the credentials of {self._who()} (401) when trying to "
                f"{doing}: check STRIGIL_INFLUX_USERNAME and STRIGIL_INFLUX_PASSWORD"
            )
        return StoreAccessError(
            f"InfluxDB {self._who()} may not {doing} (403): grant it the privilege "
            f'(GRANT ALL ON "{self.database}" TO "{self.username}") or use another user'
        )

    def query(self, q: str, *, doing: str, method: str = "GET", **params: str) -> list[Any]:
        """The series of one InfluxQL statement; StoreAccessError for 401/403, TimeSeriesError
        for a statement InfluxDB rejects, StoreUnavailableError when it cannot be reached."""
        try:
            call = self.http.post if method == "POST" else self.http.get
            response = call("/query", params={"q": q, "db": self.database, **params})
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise self.refused(response.status_code, doing)
        if response.status_code != 200:
            raise StoreUnavailableError(f"InfluxDB query failed ({response.status_code})")
        series: list[Any] = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            for result in json.loads(line).get("results", []):
                if "error" in result:
                    error = str(result["error"])
                    if "not authorized" in error or "requires admin" in error:
                        raise StoreAccessError(f"InfluxDB {self._who()} may not {doing}: {error}")
                    raise TimeSeriesError(f"InfluxDB: {error} in {q!r}")
                series.extend(result.get("series", []))
        return series

    def database_exists(self) -> bool:
        found = self.query("SHOW DATABASES", doing="list databases")
        names = {row[0] for s in found for row in s.get("values", [])}
        return self.database in names

    def retention_policies(self) -> dict[str, str]:
        found = self.query(
            f'SHOW RETENTION POLICIES ON "{self.database}"',
            doing=f"read the retention policies of database {self.database!r}",
        )
        return {row[0]: str(row[1]) for s in found for row in s.get("values", [])}

    def ensure(self, *, policy: str, duration: str, create: bool) -> AccessReport:
        """Make sure the database exists and writes and reads work; create the database and
        strigil's retention policy where the user may (see the module's docstring).

        Raises StoreAccessError naming what is missing, StoreUnavailableError when InfluxDB
        cannot be reached.
        """
        db = self.database
        warnings: list[str] = []
        if not self.database_exists():
            if not create:
                raise StoreAccessError(
                    f"InfluxDB has no database {db!r} and STRIGIL_INFLUX_CREATE_DATABASE is "
                    f'false: create it (CREATE DATABASE "{db}") or let strigil do it'
                )
            try:
                self.query(f'CREATE DATABASE "{db}"', doing="create a database", method="POST")
            except StoreAccessError:
                raise StoreAccessError(
                    f"InfluxDB {self._who()} lacks admin rights to create database {db!r}: "
                    f'create it as an admin (CREATE DATABASE "{db}", then CREATE RETENTION '
                    f'POLICY "{policy}" ON "{db}" DURATION {duration} REPLICATION 1 '
                    "DEFAULT) and set STRIGIL_INFLUX_CREATE_DATABASE=false"
                ) from None
        chosen: str | None = policy
        policies = self.retention_policies()
        if create and policies.get(policy) is None:
            try:
                self.query(
                    f'CREATE RETENTION POLICY "{policy}" ON "{db}" DURATION {duration} '
                    "REPLICATION 1 DEFAULT",
                    doing="create a retention policy",
                    method="POST",
                )
            except StoreAccessError:
                chosen = None
                warnings.append(
                    f"InfluxDB {self._who()} may not create retention policy {policy!r}: "
                    f"writes keep database {db!r}'s default policy and "
                    f"STRIGIL_INFLUX_RETENTION={duration} is not applied; as an admin run "
                    f'CREATE RETENTION POLICY "{policy}" ON "{db}" DURATION {duration} '
                    "REPLICATION 1 DEFAULT"
                )
        elif create and not _same_duration(policies[policy], duration):
            try:
                self.query(
                    f'ALTER RETENTION POLICY "{policy}" ON "{db}" DURATION {duration} DEFAULT',
                    doing="change a retention policy",
                    method="POST",
                )
            except StoreAccessError:
                warnings.append(
                    f"retention policy {policy!r} keeps {policies[policy]}: InfluxDB "
                    f"{self._who()} may not change it to STRIGIL_INFLUX_RETENTION={duration}"
                )
        elif policy not in policies:
            chosen = None
        self._write_and_read_back()
        return AccessReport(chosen, warnings)

    def _write_and_read_back(self) -> None:
        db = self.database
        try:
            response = self.http.post(
                "/write",
                params={"db": db, "precision": "s"},
                content=f"{CHECK_MEASUREMENT} ok=true {int(time.time())}\n".encode(),
            )
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise self.refused(response.status_code, f"write to database {db!r}")
        if response.status_code != 204:
            raise StoreUnavailableError(
                f"InfluxDB refused a test write ({response.status_code}): {response.text}"
            )
        self.query(
            f'SELECT * FROM "{CHECK_MEASUREMENT}" LIMIT 1',
            doing=f"read from database {db!r}",
        )


def _same_duration(shown: str, wanted: str) -> bool:
    """Whether InfluxDB's shown duration (``0s``, ``87360h0m0s``) is the configured one."""
    if wanted == "INF":
        return shown in ("0s", "0")
    hours = {"h": 1, "d": 24, "w": 168}[wanted[-1]] * int(wanted[:-1])
    return shown == f"{hours}h0m0s"
