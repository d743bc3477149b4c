"""Camera health from the stream gateway's prober: latest state per camera and its history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_health",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("codec", sa.String(length=16), nullable=True),
        sa.Column("width_px", sa.Integer(), nullable=True),
        sa.Column("height_px", sa.Integer(), nullable=True),
        sa.Column("probe_ms", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'fault', 'unknown')",
            name=op.f("ck_camera_health_status"),
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_camera_health_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_camera_health")),
    )
    op.create_table(
        "camera_health_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'fault', 'unknown')",
            name=op.f("ck_camera_health_events_status"),
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_camera_health_events_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_health_events")),
    )
    op.create_index(
        "ix_camera_health_events_camera_at",
        "camera_health_events",
        ["camera_id", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_camera_health_events_camera_at", table_name="camera_health_events")
    op.drop_table("camera_health_events")
    op.drop_table("camera_health")
