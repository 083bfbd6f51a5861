"""Logging in, tokens, cookies with CSRF, rate limiting, roles — and refusing weak secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from strigil.api.deps import require_roles
from strigil.api.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, create_access_token
from strigil.config import ConfigError, Settings
from strigil.server import create_app
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.models import AuditEvent, Role, User

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path, secret_key=KEY, login_attempts_per_minute=3)
    factory = open_database(s.metadata_url)
    with factory() as db:
        north = create_clinic(db, "North")
        south = create_clinic(db, "South")
        create_user(db, north, "dana", Role.THERAPIST, PASSWORD)
        create_user(db, north, "ada", Role.ADMIN, PASSWORD)
        create_user(db, south, "sam", Role.RESEARCHER, PASSWORD)
        db.commit()
    return s


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)

    @app.get("/api/v1/_admin_only", dependencies=[require_roles(Role.ADMIN)])
    def admin_only() -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app) as c:
        yield c


def login(client: TestClient, username: str = "dana", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_gives_a_token_that_says_who_is_asking(client: TestClient) -> None:
    r = login(client)
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "therapist"
    assert 0 < body["expires_in_s"] <= 30 * 60
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "dana"


def test_everything_needs_a_login(client: TestClient) -> None:
    r = client.get("/api/v1/users/me")
    assert r.status_code == 401
    assert "log in first" in r.json()["detail"]
    assert client.post("/api/v1/auth/logout").status_code == 401


def test_wrong_password_is_refused_and_audited(client: TestClient, settings: Settings) -> None:
    r = login(client, password="wrong horse battery")
    assert r.status_code == 401
    assert r.json()["detail"] == "wrong username or password"
    assert login(client, username="nobody").status_code == 401  # same answer: no user probing
    with open_database(settings.metadata_url)() as db:
        actions = [e.action for e in db.scalars(select(AuditEvent))]
    assert actions.count("login_failed") == 2


def test_login_brute_force_is_slowed_down(client: TestClient) -> None:
    for _ in range(3):
        assert login(client, password="guess guess guess").status_code == 401
    r = login(client)  # even the right password waits now
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert login(client, username="ada").status_code == 200  # other accounts unaffected


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        jwt.encode(
            {"sub": "x", "typ": "access", "exp": 9999999999}, "other-key" * 5, algorithm="HS256"
        ),
        # alg "none": header {"alg":"none","typ":"JWT"}, claims that would otherwise pass
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
        "eyJzdWIiOiJ4IiwidHlwIjoiYWNjZXNzIiwiZXhwIjo5OTk5OTk5OTk5fQ.",
    ],
)
def test_forged_tokens_are_refused(client: TestClient, token: str) -> None:
    r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_expired_and_escalated_tokens_are_refused(client: TestClient, settings: Settings) -> None:
    with open_database(settings.metadata_url)() as db:
        dana = db.scalars(select(User).where(User.username == "dana")).one()
    old, _ = create_access_token(
        user_id=dana.id,
        clinic_id=dana.clinic_id,
        role=dana.role,
        csrf="c",
        key=KEY,
        minutes=1,
        now=0,
    )
    assert (
        client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {old}"}).status_code
        == 401
    )
    claims = jwt.decode(login(client).json()["access_token"], options={"verify_signature": False})
    claims["role"] = "admin"  # editing the role breaks the signature
    forged = jwt.encode(claims, "wrong" * 8, algorithm="HS256")
    assert (
        client.get("/api/v1/_admin_only", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )


def test_roles_limit_what_each_person_may_do(client: TestClient) -> None:
    dana = login(client).json()["access_token"]
    ada = login(client, username="ada").json()["access_token"]
    assert (
        client.get("/api/v1/_admin_only", headers={"Authorization": f"Bearer {dana}"}).status_code
        == 403
    )
    assert (
        client.get("/api/v1/_admin_only", headers={"Authorization": f"Bearer {ada}"}).status_code
        == 200
    )


def test_cookie_login_needs_the_csrf_header_for_writes(client: TestClient) -> None:
    r = login(client)
    assert SESSION_COOKIE in r.cookies
    assert "httponly" in r.headers.get("set-cookie", "").lower()
    assert client.get("/api/v1/users/me").status_code == 200  # reads by cookie
    refused = client.post("/api/v1/auth/logout")  # a write by cookie without the header
    assert refused.status_code == 403
    assert CSRF_HEADER in refused.json()["detail"]
    csrf = client.cookies.get(CSRF_COOKIE)
    assert client.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf}).status_code == 204


def test_deactivated_users_lose_access_at_once(client: TestClient, settings: Settings) -> None:
    token = login(client).json()["access_token"]
    with open_database(settings.metadata_url)() as db:
        db.scalars(select(User).where(User.username == "dana")).one().active = False
        db.commit()
    assert (
        client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


@pytest.mark.parametrize("key", [None, "change-me", "short", "a" * 40])
def test_weak_or_missing_secrets_stop_the_start(tmp_path: Path, key: str | None) -> None:
    with pytest.raises(ConfigError, match="STRIGIL_SECRET_KEY"):
        create_app(Settings(data_dir=tmp_path, secret_key=key))
    create_app(Settings(data_dir=tmp_path, demo=True))  # the demo makes a random one


def test_serve_names_the_missing_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIGIL_")}
    env["STRIGIL_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "strigil.cli", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2
    assert "STRIGIL_SECRET_KEY is not set" in done.stderr


def test_admin_cli_creates_clinic_and_user_who_can_log_in(tmp_path: Path) -> None:
    env = {**os.environ, "STRIGIL_DATA_DIR": str(tmp_path), "STRIGIL_NEW_PASSWORD": PASSWORD}

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "strigil.cli", "admin", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    assert admin("create-clinic", "East").returncode == 0
    assert (
        admin("create-user", "--clinic", "East", "--username", "eve", "--role", "admin").returncode
        == 0
    )
    again = admin("create-user", "--clinic", "East", "--username", "eve", "--role", "admin")
    assert again.returncode == 2
    assert "exists" in again.stderr
    missing = admin("create-user", "--clinic", "West", "--username", "x", "--role", "admin")
    assert "create-clinic first" in missing.stderr
    app: FastAPI = create_app(Settings(data_dir=tmp_path, secret_key=KEY))
    with TestClient(app) as c:
        assert login(c, username="eve").status_code == 200


def test_forwarded_headers_from_a_client_do_not_reset_the_login_limit(tmp_path: Path) -> None:
    """Against a real `strigil serve` (uvicorn): without STRIGIL_TRUSTED_PROXIES, a new forged
    X-Forwarded-For per request is the same client, and the limit holds per account too."""
    import httpx

    from servers import api_server, seed_clinic

    seed_clinic(tmp_path, KEY, {"dana": ("therapist", PASSWORD)})
    env = {
        "STRIGIL_DATA_DIR": str(tmp_path),
        "STRIGIL_SECRET_KEY": KEY,
        "STRIGIL_LOGIN_ATTEMPTS_PER_MINUTE": "3",
    }
    with api_server(env) as api:

        def login(password: str, forged: str) -> httpx.Response:
            return httpx.post(
                f"{api.url}/api/v1/auth/login",
                json={"username": "dana", "password": password},
                headers={"X-Forwarded-For": forged},
            )

        codes = [login("wrong password!", f"203.0.113.{k}").status_code for k in range(3)]
        assert codes == [401, 401, 401]
        assert login(PASSWORD, "198.51.100.7").status_code == 429  # not a new client
    with open_database(Settings(data_dir=tmp_path, secret_key=KEY).metadata_url)() as db:
        clients = {
            e.detail["client"]
            for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed"))
        }
    assert clients == {"127.0.0.1"}  # the connection's address, never the forged one


def test_the_limit_counts_per_account_across_clients() -> None:
    from strigil.api.security import LoginLimiter

    limiter = LoginLimiter(3)
    for k in range(3):
        limiter.failed("Dana", f"10.0.0.{k}", now=100.0)
    assert limiter.retry_after_s("dana", "10.9.9.9", now=101.0) == pytest.approx(59.0)
    assert limiter.retry_after_s("tom", "10.9.9.9", now=101.0) == 0.0
    for k in range(3):  # filled again after the window: the next window is twice as long
        limiter.failed("dana", f"10.1.0.{k}", now=200.0)
    assert limiter.retry_after_s("dana", "10.9.9.9", now=201.0) == pytest.approx(119.0)


def test_unknown_usernames_take_as_long_as_wrong_passwords(settings: Settings) -> None:
    import time

    app = create_app(settings.model_copy(update={"login_attempts_per_minute": 50}))
    with TestClient(app) as client:

        def seconds(username: str) -> float:
            t0 = time.perf_counter()
            r = client.post("/api/v1/auth/login", json={"username": username, "password": "x" * 12})
            assert r.status_code == 401
            return time.perf_counter() - t0

        known = sorted(seconds("dana") for _ in range(3))[1]
        unknown = sorted(seconds(f"nobody-{k}") for k in range(3))[1]
    assert unknown > 0.3 * known  # both verify an Argon2 hash (was 3.6 ms against 120 ms)


def test_one_client_spraying_many_accounts_is_limited_too() -> None:
    from strigil.api.security import LoginLimiter

    limiter = LoginLimiter(3)
    for k in range(30):  # 30 accounts, one failure each, from one address
        limiter.failed(f"user-{k}", "10.0.0.1", now=100.0)
    assert limiter.retry_after_s("someone-else", "10.0.0.1", now=101.0) > 0
    assert limiter.retry_after_s("someone-else", "10.0.0.2", now=101.0) == 0.0


def test_a_dashboard_session_slides_while_used_up_to_its_limit(settings: Settings) -> None:
    """Issue 20 #7: a therapist must not be logged out in the middle of a session. Tokens of
    6 s here, a session limit of 15 s: the cookie is renewed past half its life, never beyond."""
    import time as clock

    quick = settings.model_copy(update={"token_minutes": 0.1, "session_max_hours": 15 / 3600})
    with TestClient(create_app(quick)) as c:
        started = clock.time()
        assert login(c).status_code == 200
        clock.sleep(4.0)
        r = c.get("/api/v1/users/me")
        assert r.status_code == 200
        assert "strigil_session=" in r.headers.get("set-cookie", "")  # renewed
        clock.sleep(3.0)  # the first token has expired by now; the renewed one has not
        assert c.get("/api/v1/users/me").status_code == 200
        while clock.time() - started < 15.5:  # keep using it up to the limit
            c.get("/api/v1/users/me")
            clock.sleep(0.5)
        assert c.get("/api/v1/users/me").status_code == 401  # then: log in again


def test_a_bearer_client_refreshes_until_the_session_limit(settings: Settings) -> None:
    import time as clock

    quick = settings.model_copy(update={"token_minutes": 0.1, "session_max_hours": 8 / 3600})
    with TestClient(create_app(quick)) as c:
        token = login(c).json()["access_token"]
        c.cookies.clear()
        clock.sleep(1.2)
        r = c.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        fresh = r.json()["access_token"]
        assert fresh != token
        clock.sleep(7.5)
        late = c.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {fresh}"})
        assert late.status_code == 401
        assert "STRIGIL_SESSION_MAX_HOURS" in late.json()["detail"] or "log in" in late.text


def test_an_open_socket_outlives_its_token_but_not_the_session_limit(settings: Settings) -> None:
    import time as clock

    from strigil.api.deps import user_of_token

    with open_database(settings.metadata_url)() as db:
        dana = db.scalars(select(User).where(User.username == "dana")).one()
        expired, _ = create_access_token(
            user_id=dana.id, clinic_id=dana.clinic_id, role=dana.role, csrf="c",
            key=settings.signing_key(), minutes=1, now=clock.time() - 3600,
        )  # fmt: skip
        key = settings.signing_key()
        assert user_of_token(db, expired, key=key) is None  # no new request on it
        assert user_of_token(db, expired, key=key, open_until=2 * 3600) is not None  # socket
        assert user_of_token(db, expired, key=key, open_until=1800) is None  # limit reached
