"""Saved video patrols (视频巡逻 / 轮巡): cameras in order, interval, owner, jurisdiction.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patrols",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("device_ids", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("interval_s", sa.Integer(), server_default="10", nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("interval_s >= 3 AND interval_s <= 3600",
                           name=op.f("ck_patrols_interval_range")),
        sa.CheckConstraint("cardinality(device_ids) BETWEEN 1 AND 200",
                           name=op.f("ck_patrols_device_count")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"],
                                name=op.f("fk_patrols_owner_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"],
                                name=op.f("fk_patrols_jurisdiction_id_jurisdictions"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrols")),
    )  # fmt: skip
    op.create_index(op.f("ix_patrols_owner_id"), "patrols", ["owner_id"])
    op.create_index(op.f("ix_patrols_jurisdiction_id"), "patrols", ["jurisdiction_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_patrols_jurisdiction_id"), table_name="patrols")
    op.drop_index(op.f("ix_patrols_owner_id"), table_name="patrols")
    op.drop_table("patrols")
