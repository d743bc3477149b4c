"""Coverage results: visible polygons per camera and level, unions, assessment table, roads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:32:25.910308
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "coverage_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "level IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_coverage_levels_level"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["coverage_runs.id"],
            name=op.f("fk_coverage_levels_run_id_coverage_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_levels")),
    )
    op.create_geospatial_index(
        "idx_coverage_levels_geom",
        "coverage_levels",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_coverage_levels_run_id"), "coverage_levels", ["run_id"], unique=False)
    op.create_table(
        "coverage_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("area_key", sa.Text(), nullable=False),
        sa.Column("area_name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("covered_m2", sa.Float(), nullable=False),
        sa.Column("covered_pct", sa.Float(), nullable=False),
        sa.Column("open_area_m2", sa.Float(), nullable=False),
        sa.Column("open_covered_m2", sa.Float(), nullable=False),
        sa.Column("open_covered_pct", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "level IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_coverage_stats_level"),
        ),
        sa.CheckConstraint(
            "scope IN ('key_area', 'key_area_class', 'jurisdiction')",
            name=op.f("ck_coverage_stats_scope"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["coverage_runs.id"],
            name=op.f("fk_coverage_stats_run_id_coverage_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_stats")),
    )
    op.create_index(op.f("ix_coverage_stats_run_id"), "coverage_stats", ["run_id"], unique=False)
    op.create_table(
        "road_coverage",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("road_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("covered_m", sa.Float(), nullable=False),
        sa.Column("covered_pct", sa.Float(), nullable=False),
        sa.Column(
            "gaps_m", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.CheckConstraint(
            "level IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_road_coverage_level"),
        ),
        sa.ForeignKeyConstraint(
            ["road_id"],
            ["roads.id"],
            name=op.f("fk_road_coverage_road_id_roads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["coverage_runs.id"],
            name=op.f("fk_road_coverage_run_id_coverage_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_coverage")),
    )
    op.create_index(op.f("ix_road_coverage_run_id"), "road_coverage", ["run_id"], unique=False)
    op.create_geospatial_table(
        "coverage_visible",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("camera_ref", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "level IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_coverage_visible_level"),
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_coverage_visible_camera_id_cameras"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["coverage_runs.id"],
            name=op.f("fk_coverage_visible_run_id_coverage_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_visible")),
    )
    op.create_geospatial_index(
        "idx_coverage_visible_geom",
        "coverage_visible",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_coverage_visible_camera_id"), "coverage_visible", ["camera_id"], unique=False
    )
    op.create_index(
        op.f("ix_coverage_visible_run_id"), "coverage_visible", ["run_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_coverage_visible_run_id"), table_name="coverage_visible")
    op.drop_index(op.f("ix_coverage_visible_camera_id"), table_name="coverage_visible")
    op.drop_geospatial_index(
        "idx_coverage_visible_geom",
        table_name="coverage_visible",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("coverage_visible")
    op.drop_index(op.f("ix_road_coverage_run_id"), table_name="road_coverage")
    op.drop_table("road_coverage")
    op.drop_index(op.f("ix_coverage_stats_run_id"), table_name="coverage_stats")
    op.drop_table("coverage_stats")
    op.drop_index(op.f("ix_coverage_levels_run_id"), table_name="coverage_levels")
    op.drop_geospatial_index(
        "idx_coverage_levels_geom",
        table_name="coverage_levels",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("coverage_levels")
