"""The command line's one error: a command that cannot do what was asked says why and exits.

``main`` catches :class:`CliError` once, prints ``strigil COMMAND: message`` on stderr and
returns its exit code (2: bad input or settings, unless a command says otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
