"""live sessions: device-time anchor, high-water mark and frame counters

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("malformed_frames", sa.Integer(), "0"),
    ("duplicate_frames", sa.Integer(), "0"),
    ("samples", sa.BigInteger(), "0"),
    ("rate_hz", sa.Integer(), None),
    ("anchor_ns", sa.BigInteger(), None),
    ("anchor_device_us", sa.BigInteger(), None),
    ("device_hwm_us", sa.BigInteger(), None),
)


def upgrade() -> None:
    with op.batch_alter_table("treatment_session", schema=None) as batch_op:
        for name, kind, default in _COLUMNS:
            batch_op.add_column(
                sa.Column(name, kind, nullable=default is None, server_default=default)
            )


def downgrade() -> None:
    with op.batch_alter_table("treatment_session", schema=None) as batch_op:
        for name, _, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
