"""API tokens for ingesters: made once, shown once, kept only as a SHA-256 digest.

Tokens are 32 random bytes (``stg_`` + URL-safe base64), so a plain SHA-256 is enough to keep
them safe at rest (no password-style stretching needed) and lets a token be found by digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.store.models import ApiToken, Clinic, as_utc, utcnow

PREFIX = "stg_"
USE_NOTED_EVERY = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often: every open ingest socket checks its token
every few seconds, and a write to the metadata database each time would queue behind the
store's (and the store's behind it) for a mark nobody reads to the second."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(db: Session, clinic: Clinic, name: str) -> tuple[ApiToken, str]:
    """A new token; the clear text is returned once and never stored."""
    clear = PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(clinic_id=clinic.id, name=name, token_sha256=_digest(clear))
    db.add(record)
    db.flush()
    return record, clear


def find_api_token(db: Session, clear: str) -> ApiToken | None:
    """The live (not revoked) token with this clear text, or None; notes its use."""
    if not clear.startswith(PREFIX):
        return None
    record = db.scalars(select(ApiToken).where(ApiToken.token_sha256 == _digest(clear))).first()
    if record is None or record.revoked_at is not None:
        return None
    now = utcnow()
    if record.last_used_at is None or now - as_utc(record.last_used_at) >= USE_NOTED_EVERY:
        record.last_used_at = now
    return record


def revoke_api_token(db: Session, token_id: str) -> bool:
    record = db.get(ApiToken, token_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = dt.datetime.now(dt.UTC)
    return True
