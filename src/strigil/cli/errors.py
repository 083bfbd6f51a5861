"""The command line's one error: a command that cannot do what was asked says why and exits.

``main`` catches :class:`CliError` once, prints ``strigil COMMAND: message`` on stderr and
returns its exit code (2: bad input or settings, unless a command says otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

    from strigil.config import Settings

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """What went wrong and what to do, for the person at the terminal."""

    def __init__(self, message: str, *, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def settings_or_fail() -> Settings:
    """The settings from ``STRIGIL_*``, or a CliError listing every bad one."""
    from pydantic import ValidationError

    from strigil.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise CliError(f"bad setting: {problems}") from None


def check_rate(rate_hz: float) -> None:
    """The profile's stream rates (50 to 1000 Hz)."""
    from strigil.ingest.protocol import MAX_RATE_HZ, MIN_RATE_HZ

    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise CliError(f"--rate-hz must be {MIN_RATE_HZ} to {MAX_RATE_HZ} (tool profile v1)")


def database_error(url: str, exc: OperationalError) -> CliError:
    """One line for a metadata database that cannot be opened: which database (password
    hidden), the driver's reason, and what to do."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparseable: show nothing of it (it may hold a password)
        shown = "(STRIGIL_DATABASE_URL)"
    full = str(exc.orig if exc.orig is not None else exc).strip()
    reason = " ".join(full.splitlines()[0].split())  # the driver's first line, one space apart
    hint = "set STRIGIL_DATABASE_URL (or STRIGIL_DATA_DIR for the embedded database)"
    lowered = full.lower()
    if "password authentication failed" in lowered:
        hint = (
            "check the user and password in STRIGIL_DATABASE_URL; characters such as @ : / % "
            "in a password must be URL-encoded (%40 %3A %2F %25)"
        )
    elif any(
        s in lowered for s in ("translate host name", "resolve host", "name or service not known")
    ):
        # the "host" may be the tail of a password with an @ in it: show none of it
        return CliError(
            "cannot open the metadata database: the host in STRIGIL_DATABASE_URL cannot be "
            "resolved — check it; a password holding @ or / must be URL-encoded (%40, %2F), "
            "or the rest of it is read as the host"
        )
    elif "connection refused" in lowered or "timeout" in lowered:
        hint = "is PostgreSQL running and listening on that host and port?"
    elif "does not exist" in lowered:
        hint = "create it (createdb) or correct the name in STRIGIL_DATABASE_URL"
    elif "unable to open database file" in lowered:
        hint = "STRIGIL_DATA_DIR must be a folder strigil may write to"
    return CliError(f"cannot open the metadata database {shown}: {reason} — {hint}")


def check_metadata_database(settings: Settings) -> None:
    """Connect once (no migration) so a wrong URL is one line, not a traceback at start-up."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, OperationalError

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(settings.metadata_url)
    except ArgumentError:
        raise CliError(
            "STRIGIL_DATABASE_URL is not a database URL such as "
            "postgresql+psycopg://strigil:PASSWORD@127.0.0.1:5432/strigil"
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise database_error(settings.metadata_url, exc) from None
    finally:
        engine.dispose()
