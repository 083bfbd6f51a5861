"""tools: the API token (ingester) a tool is bound to

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tool", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_token_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            "fk_tool_api_token", "api_token", ["api_token_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("tool", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tool_api_token", type_="foreignkey")
        batch_op.drop_column("api_token_id")
