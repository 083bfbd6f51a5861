"""Pseudonyms for people researchers may not identify."""

from __future__ import annotations

import hashlib


def therapist_code(user_id: str | None) -> str | None:
    """A therapist's pseudonym for researchers: stable, the same in every answer and bundle,
    and not the user id (which names a person to anyone who can list users).

    >>> therapist_code("0123abcd"), therapist_code(None)
    ('T-AC17C5A1', None)
    """
    if user_id is None:
        return None
    return "T-" + hashlib.sha256(f"strigil therapist {user_id}".encode()).hexdigest()[:8].upper()
