"""Access tokens (signed JWT, HS256, short-lived) and the login limiter."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from strigil.store.models import Role

ALGORITHM = "HS256"
SESSION_COOKIE = "strigil_session"
CSRF_COOKIE = "strigil_csrf"
CSRF_HEADER = "X-CSRF-Token"


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of an ``Authorization: Bearer …`` header, or "" without one.

    >>> bearer_token({"Authorization": "Bearer  stg_abc "}), bearer_token({})
    ('stg_abc', '')
    """
    header = headers.get("Authorization", "") or headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


class InvalidTokenError(Exception):
    """A token that is missing, expired, forged or not an access token."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    clinic_id: str
    role: Role
    expires_at: float
    csrf: str
    auth_time: float
    """When the person logged in (epoch s): a renewed token keeps it, so a session slides only
    up to ``session_max_hours`` after the login."""


def create_access_token(
    *,
    user_id: str,
    clinic_id: str,
    role: Role,
    csrf: str,
    key: str,
    minutes: float,
    now: float | None = None,
    auth_time: float | None = None,
    not_after: float | None = None,
) -> tuple[str, float]:
    """A signed token and its expiry (epoch s). ``csrf`` binds cookie use to the CSRF cookie;
    ``auth_time`` is the login it renews (default: now); it never outlives ``not_after``."""
    issued = time.time() if now is None else now
    expires = issued + minutes * 60
    if not_after is not None:
        expires = min(expires, not_after)
    claims = {
        "sub": user_id,
        "clinic": clinic_id,
        "role": role.value,
        "csrf": csrf,
        "typ": "access",
        "iat": int(issued),
        "auth": int(issued if auth_time is None else auth_time),
        "exp": int(expires),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), expires


def decode_access_token(token: str, *, key: str, check_expiry: bool = True) -> TokenClaims:
    """The claims of a valid token; ``check_expiry=False`` for an open socket, which stays
    authorised past the token's expiry while the person is active (up to the session limit,
    checked by the caller)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "typ"], "verify_exp": check_expiry},
        )
        if claims.get("typ") != "access":
            raise InvalidTokenError("not an access token")
        return TokenClaims(
            user_id=str(claims["sub"]),
            clinic_id=str(claims["clinic"]),
            role=Role(claims["role"]),
            expires_at=float(claims["exp"]),
            csrf=str(claims["csrf"]),
            auth_time=float(claims.get("auth", claims.get("iat", 0))),
        )
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidTokenError(str(exc)) from exc


class LoginLimiter:
    """Failed logins limited per account (from any client: ``per_minute`` in a window) and per
    client (for any account: ten times that, since a clinic's staff may share one address); a
    window doubles (1, 2, 4 … 64 min) each time it is filled again without a success in
    between. Memory-bounded.

    The client is the connection's address, not a header a client can write: forwarded
    headers count only from the proxies in ``STRIGIL_TRUSTED_PROXIES`` (uvicorn is told so).
    """

    MAX_WINDOW_S = 64 * 60.0
    CLIENT_FACTOR = 10

    def __init__(self, per_minute: int, *, max_keys: int = 100_000) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._window_s: dict[tuple[str, str], float] = {}

    @staticmethod
    def _keys(username: str, client: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("account", username.lower()), ("client", client)

    def _limit(self, key: tuple[str, str]) -> int:
        return self.per_minute * (self.CLIENT_FACTOR if key[0] == "client" else 1)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        window = self._failures.setdefault(key, deque())
        span = self._window_s.get(key, 60.0)
        while window and now - window[0] >= span:
            window.popleft()
        return window

    def retry_after_s(self, username: str, client: str, *, now: float | None = None) -> float:
        """0 when a login may be tried now, else seconds until one may."""
        t = time.monotonic() if now is None else now
        wait = 0.0
        for key in self._keys(username, client):
            window = self._recent(key, t)
            if len(window) >= self._limit(key):
                wait = max(wait, self._window_s.get(key, 60.0) - (t - window[0]))
        return wait

    def failed(self, username: str, client: str, *, now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        if len(self._failures) >= self.max_keys:
            self._failures.clear()  # under a flood, forget old windows rather than grow
            self._window_s.clear()
        for key in self._keys(username, client):
            window = self._recent(key, t)
            window.append(t)
            if len(window) == self._limit(key):  # filled again: the next window is longer
                span = self._window_s.get(key)
                self._window_s[key] = 60.0 if span is None else min(span * 2, self.MAX_WINDOW_S)

    def succeeded(self, username: str, client: str) -> None:
        for key in self._keys(username, client)[:1]:  # the account; the client keeps its record
            self._failures.pop(key, None)
            self._window_s.pop(key, None)
