"""Dependencies every route uses: settings, database session, the live hub, who is asking.

Who is asking, for each kind of caller (each is one ``Annotated`` alias):

- ``CurrentUser``: a person, by bearer token or the dashboards' session cookie (with the CSRF
  header on writes);
- ``IngestToken``: an ingester, by its API token as a bearer token;
- ``WebSocketUser`` and ``WebSocketIngestToken``: the same on a WebSocket handshake, refused
  with close code 1008 before the socket is accepted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import (
    Depends,
    HTTPException,
    Request,
    Response,
    WebSocket,
    WebSocketException,
    status,
)
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from strigil.api.live import LiveHub
from strigil.api.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    InvalidTokenError,
    TokenClaims,
    bearer_token,
    create_access_token,
    decode_access_token,
)
from strigil.config import Settings
from strigil.store.api_tokens import find_api_token
from strigil.store.models import ApiToken, Role, User

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CLOSE_POLICY = 1008
"""WebSocket close code for a handshake without a valid principal (RFC 6455: policy)."""
RECHECK_S = 5.0
"""An open socket checks its principal again this often (a revoked token or a deactivated
person is cut off within it)."""


def get_settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


def get_db(conn: HTTPConnection) -> Iterator[Session]:
    with conn.app.state.sessionmaker() as db:
        yield db


def hub_of(conn: HTTPConnection) -> LiveHub:
    """The process's live hub (store thread, live sessions, viewers)."""
    hub: LiveHub = conn.app.state.hub
    return hub


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
HubDep = Annotated[LiveHub, Depends(hub_of)]

_UNAUTHENTICATED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="log in first: POST /api/v1/auth/login, then send the token as a bearer token",
    headers={"WWW-Authenticate": "Bearer"},
)


def user_of_token(
    db: Session, token: str, *, key: str, open_until: float | None = None
) -> tuple[User, TokenClaims] | None:
    """The active user an access token was issued to, and its claims; None for a missing,
    forged or expired token, or a user deactivated or moved since.

    ``open_until`` (an open socket): the token's expiry is not checked, but its login must be
    less than that many seconds old (the absolute session limit).
    """
    if not token:
        return None
    try:
        claims = decode_access_token(token, key=key, check_expiry=open_until is None)
    except InvalidTokenError:
        return None
    if open_until is not None and time.time() - claims.auth_time >= open_until:
        return None
    user = db.get(User, claims.user_id)
    if user is None or not user.active or user.clinic_id != claims.clinic_id:
        return None
    return user, claims


def request_principal(
    request: Request, db: Session, settings: Settings
) -> tuple[User, TokenClaims, bool] | None:
    """The person behind a request's bearer token, else its session cookie: (user, claims,
    whether it came by cookie), or None."""
    token = bearer_token(request.headers)
    via_cookie = not token
    if via_cookie:
        token = request.cookies.get(SESSION_COOKIE, "")
    found = user_of_token(db, token, key=settings.signing_key())
    return None if found is None else (*found, via_cookie)


def get_current_user(
    request: Request, response: Response, settings: SettingsDep, db: SessionDep
) -> User:
    """The logged-in user, from a bearer token or the session cookie.

    A write authenticated by cookie must carry the CSRF cookie's value in the X-CSRF-Token
    header (double submit), and that value must be the one the token was issued with. A
    cookie past half its life is renewed on the response (a sliding session), never beyond
    ``session_max_hours`` after the login.
    """
    found = request_principal(request, db, settings)
    if found is None:
        raise _UNAUTHENTICATED
    user, claims, via_cookie = found
    if via_cookie and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != request.cookies.get(CSRF_COOKIE) or sent != claims.csrf:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"cookie-authenticated writes need the {CSRF_HEADER} header "
                f"(the value of the {CSRF_COOKIE} cookie)",
            )
    if via_cookie and claims.expires_at - time.time() < settings.token_minutes * 30:
        renewed = renew_token(claims, settings)
        if renewed is not None:
            set_session_cookies(request, response, *renewed, csrf=claims.csrf)
    return user


def renew_token(claims: TokenClaims, settings: Settings) -> tuple[str, float] | None:
    """A fresh token for the same login, or None once the session limit is reached."""
    not_after = claims.auth_time + settings.session_max_hours * 3600
    if time.time() >= not_after:
        return None
    return create_access_token(
        user_id=claims.user_id,
        clinic_id=claims.clinic_id,
        role=claims.role,
        csrf=claims.csrf,
        key=settings.signing_key(),
        minutes=settings.token_minutes,
        auth_time=claims.auth_time,
        not_after=not_after,
    )


def set_session_cookies(
    request: Request, response: Response, token: str, expires: float, *, csrf: str
) -> int:
    """The dashboards' HttpOnly session cookie and the CSRF cookie; returns their max age."""
    max_age = max(int(expires - time.time()), 1)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="strict"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, secure=secure, samesite="strict"
    )
    return max_age


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_api_token(request: Request, db: SessionDep) -> ApiToken:
    """The ingest token sent as a bearer token (401 without a live one)."""
    clear = bearer_token(request.headers)
    token = find_api_token(db, clear) if clear else None
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="ingest needs an API token (strigil admin create-token) as a bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    db.commit()  # last_used_at
    return token


IngestToken = Annotated[ApiToken, Depends(get_api_token)]


def websocket_user_now(websocket: WebSocket, *, opened: bool = True) -> User | None:
    """The person behind a WebSocket (bearer token or session cookie) as of now: None once
    the person was deactivated, and for an open socket once the session limit since the login
    is reached (at the handshake, ``opened=False``, the token itself must be unexpired). Its
    own short database session: a socket may stay open for hours, and asks every RECHECK_S."""
    token = bearer_token(websocket.headers) or websocket.cookies.get(SESSION_COOKIE, "")
    settings = get_settings(websocket)
    with websocket.app.state.sessionmaker() as db:
        found = user_of_token(
            db,
            token,
            key=settings.signing_key(),
            open_until=settings.session_max_hours * 3600 if opened else None,
        )
        if found is None:
            return None
        db.expunge(found[0])
        return found[0]


def same_origin(conn: HTTPConnection) -> bool:
    """Whether the request's Origin (if it sent one) is the host it was sent to: a page of
    another site must not use the browser's cookie on this one (cross-site WebSocket hijacking).

    >>> from starlette.requests import Request
    >>> def req(origin):
    ...     h = [(b"host", b"clinic.example")] + ([(b"origin", origin)] if origin else [])
    ...     return Request({"type": "http", "headers": h})
    >>> same_origin(req(b"https://clinic.example")), same_origin(req(b"https://evil.example"))
    (True, False)
    >>> same_origin(req(None))
    True
    """
    origin = conn.headers.get("origin")
    if origin is None:
        return True  # not a browser: it holds its own token, no ambient cookie to misuse
    host = conn.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def get_websocket_user(websocket: WebSocket) -> User:
    if not bearer_token(websocket.headers) and not same_origin(websocket):
        raise WebSocketException(CLOSE_POLICY, reason="this page's origin may not use the cookie")
    user = websocket_user_now(websocket, opened=False)
    if user is None:
        raise WebSocketException(CLOSE_POLICY, reason="log in first")
    return user


WebSocketUser = Annotated[User, Depends(get_websocket_user)]


def websocket_ingest_token_now(websocket: WebSocket) -> ApiToken | None:
    """The live ingest token behind a WebSocket as of now (None once revoked)."""
    clear = bearer_token(websocket.headers)
    with websocket.app.state.sessionmaker() as db:
        token = find_api_token(db, clear) if clear else None
        if token is None:
            return None
        db.commit()  # last_used_at
        db.expunge(token)
        return token


def get_websocket_ingest_token(websocket: WebSocket) -> ApiToken:
    token = websocket_ingest_token_now(websocket)
    if token is None:
        raise WebSocketException(
            CLOSE_POLICY, reason="ingest needs an API token (strigil admin create-token)"
        )
    return token


WebSocketIngestToken = Annotated[ApiToken, Depends(get_websocket_ingest_token)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency admitting only these roles (403 for the others)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs the role {' or '.join(r.value for r in roles)}",
            )
        return user

    return Depends(check)
