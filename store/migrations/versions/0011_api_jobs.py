"""API jobs: long runs started over the HTTP API (coverage, placement), their state and
progress, kept in the store so a restarted API reports interrupted jobs as failed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 18:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}",
                  nullable=False),
        sa.Column("phase", sa.Text(), nullable=True),
        sa.Column("fraction", sa.Float(), server_default="0", nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')",
                           name=op.f("ck_api_jobs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_jobs")),
    )  # fmt: skip
    op.create_index(op.f("ix_api_jobs_owner"), "api_jobs", ["owner"])


def downgrade() -> None:
    op.drop_index(op.f("ix_api_jobs_owner"), table_name="api_jobs")
    op.drop_table("api_jobs")
