"""Placement proposals: proposed camera sites with azimuth, lens, gain and visible area.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _geometry(kind: str) -> Geometry:
    return Geometry(geometry_type=kind, srid=4326, dimension=2, spatial_index=False,
                    from_text="ST_GeomFromEWKT", name="geometry", nullable=False)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "placement_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),  # fmt: skip
        sa.Column("coverage_run_id", sa.Integer(), nullable=True),
        sa.Column("jurisdiction_code", sa.String(length=32), nullable=True),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("solver_status", sa.String(length=16), nullable=False),
        sa.Column("gap", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="proposed", nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}",
                  nullable=False),  # fmt: skip
        sa.Column("results", postgresql.JSONB(astext_type=sa.Text()), server_default="{}",
                  nullable=False),  # fmt: skip
        sa.CheckConstraint("status IN ('proposed', 'partly_accepted', 'accepted')",
                           name=op.f("ck_placement_proposals_status")),  # fmt: skip
        sa.ForeignKeyConstraint(["coverage_run_id"], ["coverage_runs.id"],
                                name=op.f("fk_placement_proposals_coverage_run_id_coverage_runs"),
                                ondelete="SET NULL"),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_proposals")),
    )
    op.create_geospatial_table(
        "placement_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("config_id", sa.Text(), nullable=False),
        sa.Column("site_kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=True),
        sa.Column("jurisdiction_code", sa.String(length=32), nullable=True),
        sa.Column("mount_height_m", sa.Float(), nullable=False),
        sa.Column("azimuth_deg", sa.Float(), nullable=False),
        sa.Column("tilt_deg", sa.Float(), nullable=False),
        sa.Column("lens_model", sa.Text(), nullable=False),
        sa.Column("sensor_width_mm", sa.Float(), nullable=False),
        sa.Column("sensor_height_mm", sa.Float(), nullable=False),
        sa.Column("focal_length_mm", sa.Float(), nullable=False),
        sa.Column("hfov_deg", sa.Float(), nullable=False),
        sa.Column("resolution_w_px", sa.Integer(), nullable=False),
        sa.Column("resolution_h_px", sa.Integer(), nullable=False),
        sa.Column("gain_weight", sa.Float(), nullable=False),
        sa.Column("gain_m2", sa.Float(), nullable=False),
        sa.Column("gain_road_m", sa.Float(), nullable=False),
        sa.Column("gain_entries", sa.Integer(), nullable=False),
        sa.Column("accepted_camera_id", sa.Integer(), nullable=True),
        sa.Column("geom", _geometry("POINT"), nullable=False),
        sa.Column("view_geom", _geometry("MULTIPOLYGON"), nullable=False),
        sa.CheckConstraint("azimuth_deg >= 0 AND azimuth_deg < 360",
                           name=op.f("ck_placement_sites_azimuth_range")),  # fmt: skip
        sa.CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)",
                           name=op.f("ck_placement_sites_geom_valid")),  # fmt: skip
        sa.ForeignKeyConstraint(["accepted_camera_id"], ["cameras.id"],
                                name=op.f("fk_placement_sites_accepted_camera_id_cameras"),
                                ondelete="SET NULL"),  # fmt: skip
        sa.ForeignKeyConstraint(["proposal_id"], ["placement_proposals.id"],
                                name=op.f("fk_placement_sites_proposal_id_placement_proposals"),
                                ondelete="CASCADE"),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_sites")),
    )
    for col in ("geom", "view_geom"):
        op.create_geospatial_index(f"idx_placement_sites_{col}", "placement_sites", [col],
                                   unique=False, postgresql_using="gist",
                                   postgresql_ops={})  # fmt: skip
    op.create_index(op.f("ix_placement_sites_proposal_id"), "placement_sites", ["proposal_id"],
                    unique=False)  # fmt: skip


def downgrade() -> None:
    op.drop_index(op.f("ix_placement_sites_proposal_id"), table_name="placement_sites")
    for col in ("view_geom", "geom"):
        op.drop_geospatial_index(f"idx_placement_sites_{col}", table_name="placement_sites",
                                 postgresql_using="gist", column_name=col)  # fmt: skip
    op.drop_geospatial_table("placement_sites")
    op.drop_table("placement_proposals")
