"""The one id rule: tool serials, session ids, patient codes and database names.

1–64 of ``A-Z a-z 0-9 . _ : -``, starting alphanumeric — strict enough to go into a file name,
InfluxDB line protocol and InfluxQL without escaping.
"""

from __future__ import annotations

import re
from typing import Final

_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class InvalidIdError(ValueError):
    """A value that is not an id (see the module docstring)."""


def check_id(kind: str, value: str, *, error: type[ValueError] = InvalidIdError) -> str:
    """``value`` if it is an id, else raise ``error`` naming ``kind`` and the rule.

    >>> check_id("tool serial", "VT-0001")
    'VT-0001'
    >>> check_id("tool serial", "../etc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    strigil.common.ids.InvalidIdError: tool serial '../etc' is not an id: use 1 to 64 letters, ...
    """
    if not isinstance(value, str) or _ID_PATTERN.fullmatch(value) is None:
        raise error(
            f"{kind} {value!r} is not an id: use 1 to 64 letters, digits, '.', '_', ':' or '-'"
        )
    return value
