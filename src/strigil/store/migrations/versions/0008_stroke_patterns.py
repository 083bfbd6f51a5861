"""stroke patterns: the patterns a protocol expects per body area, a drill's target pattern

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_patterns", sa.JSON(), nullable=True))
    with op.batch_alter_table("drill", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_pattern", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drill", schema=None) as batch_op:
        batch_op.drop_column("target_pattern")
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.drop_column("expected_patterns")
