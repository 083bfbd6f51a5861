"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from strigil.store.errors import WeakPasswordError as WeakPasswordError

_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPasswordError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


_DUMMY_HASH = _HASHER.hash("no such user: a hash to verify against, so that timing says nothing")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; never raises for a wrong one or a damaged hash. With
    no hash (an unknown user) it verifies against a dummy hash and says False, taking as long
    as a wrong password does, so a login's timing does not tell which usernames exist."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
