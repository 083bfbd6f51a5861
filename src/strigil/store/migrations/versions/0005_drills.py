"""practice drills

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drill",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("therapist_id", sa.String(length=32), nullable=True),
        sa.Column("target_force_n", sa.Float(), nullable=False),
        sa.Column("target_rate_per_min", sa.Float(), nullable=False),
        sa.Column("target_strokes", sa.Integer(), nullable=False),
        sa.Column("tolerance_pct", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.JSON(), nullable=True),
        sa.CheckConstraint("target_force_n > 0", name="drill_force_positive"),
        sa.CheckConstraint("target_rate_per_min > 0", name="drill_rate_positive"),
        sa.CheckConstraint("target_strokes > 0", name="drill_strokes_positive"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["treatment_session.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["therapist_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    op.create_index("ix_drill_clinic_id", "drill", ["clinic_id"])
    op.create_index("ix_drill_therapist_id", "drill", ["therapist_id"])


def downgrade() -> None:
    op.drop_index("ix_drill_therapist_id", table_name="drill")
    op.drop_index("ix_drill_clinic_id", table_name="drill")
    op.drop_table("drill")
