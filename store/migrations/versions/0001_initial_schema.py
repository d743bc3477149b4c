"""Initial schema: jurisdictions, key areas, devices, base geography, analysis, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:29:54.139282
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "buildings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("osm_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=False),
        sa.Column("height_source", sa.String(length=16), nullable=False),
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
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_buildings_geom_valid")
        ),
        sa.CheckConstraint(
            "height_m > 0 AND height_m < 1000", name=op.f("ck_buildings_height_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("osm_id", name=op.f("uq_buildings_osm_id")),
    )
    op.create_geospatial_index(
        "idx_buildings_geom",
        "buildings",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "coverage_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "timings", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "results", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_coverage_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_runs")),
    )
    op.create_table(
        "dataset_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "row_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_loads")),
    )
    op.create_index(op.f("ix_dataset_loads_name"), "dataset_loads", ["name"], unique=False)
    op.create_geospatial_table(
        "jurisdictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("admin_code", sa.String(length=12), nullable=True),
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
            "(level = 'city') = (parent_id IS NULL)", name=op.f("ck_jurisdictions_parent_by_level")
        ),
        sa.CheckConstraint(
            "level IN ('city', 'district', 'station')", name=op.f("ck_jurisdictions_level")
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_jurisdictions_geom_valid")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["jurisdictions.id"],
            name=op.f("fk_jurisdictions_parent_id_jurisdictions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jurisdictions")),
        sa.UniqueConstraint("code", name=op.f("uq_jurisdictions_code")),
    )
    op.create_geospatial_index(
        "idx_jurisdictions_geom",
        "jurisdictions",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_jurisdictions_parent_id"), "jurisdictions", ["parent_id"], unique=False
    )
    op.create_geospatial_table(
        "roads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("osm_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("road_class", sa.String(length=32), nullable=False),
        sa.Column("oneway", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("lanes", sa.Integer(), nullable=True),
        sa.Column("maxspeed_kmh", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
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
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_roads_geom_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roads")),
        sa.UniqueConstraint("osm_id", name=op.f("uq_roads_osm_id")),
    )
    op.create_geospatial_index(
        "idx_roads_geom",
        "roads",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "alarm_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=32), server_default="import", nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
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
            "status IN ('online', 'offline', 'fault', 'unknown')",
            name=op.f("ck_alarm_points_status"),
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_alarm_points_geom_valid")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdictions.id"],
            name=op.f("fk_alarm_points_jurisdiction_id_jurisdictions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_points")),
        sa.UniqueConstraint("code", name=op.f("uq_alarm_points_code")),
    )
    op.create_geospatial_index(
        "idx_alarm_points_geom",
        "alarm_points",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_alarm_points_jurisdiction_id"), "alarm_points", ["jurisdiction_id"], unique=False
    )
    op.create_geospatial_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("is_social_resource", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("access_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("kind", sa.String(length=16), server_default="road", nullable=False),
        sa.Column("camera_type", sa.String(length=16), server_default="fixed", nullable=False),
        sa.Column("mount", sa.String(length=16), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("mount_height_m", sa.Float(), nullable=True),
        sa.Column("azimuth_deg", sa.Float(), nullable=True),
        sa.Column("tilt_deg", sa.Float(), nullable=True),
        sa.Column("any_direction", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("lens_model", sa.Text(), nullable=True),
        sa.Column("sensor_width_mm", sa.Float(), nullable=True),
        sa.Column("sensor_height_mm", sa.Float(), nullable=True),
        sa.Column("focal_length_mm", sa.Float(), nullable=True),
        sa.Column("hfov_deg", sa.Float(), nullable=True),
        sa.Column("resolution_w_px", sa.Integer(), nullable=True),
        sa.Column("resolution_h_px", sa.Integer(), nullable=True),
        sa.Column(
            "ptz_presets",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("stream_ref", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=32), server_default="import", nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "camera_type IN ('fixed', 'dome', 'ptz', 'panoramic')",
            name=op.f("ck_cameras_camera_type"),
        ),
        sa.CheckConstraint("device_id ~ '^[0-9]{20}$'", name=op.f("ck_cameras_device_id_gb28181")),
        sa.CheckConstraint(
            "kind IN ('road', 'community', 'social', 'high_point')", name=op.f("ck_cameras_kind")
        ),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'fault', 'unknown')", name=op.f("ck_cameras_status")
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_cameras_geom_valid")
        ),
        sa.CheckConstraint(
            "azimuth_deg >= 0 AND azimuth_deg < 360", name=op.f("ck_cameras_azimuth_range")
        ),
        sa.CheckConstraint("focal_length_mm > 0", name=op.f("ck_cameras_focal_positive")),
        sa.CheckConstraint("hfov_deg > 0 AND hfov_deg <= 360", name=op.f("ck_cameras_hfov_range")),
        sa.CheckConstraint(
            "mount_height_m > 0 AND mount_height_m <= 1000", name=op.f("ck_cameras_height_range")
        ),
        sa.CheckConstraint(
            "resolution_w_px > 0 AND resolution_h_px > 0",
            name=op.f("ck_cameras_resolution_positive"),
        ),
        sa.CheckConstraint(
            "sensor_width_mm > 0 AND sensor_height_mm > 0", name=op.f("ck_cameras_sensor_positive")
        ),
        sa.CheckConstraint(
            "tilt_deg >= -90 AND tilt_deg <= 90", name=op.f("ck_cameras_tilt_range")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdictions.id"],
            name=op.f("fk_cameras_jurisdiction_id_jurisdictions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("device_id", name=op.f("uq_cameras_device_id")),
    )
    op.create_geospatial_index(
        "idx_cameras_geom",
        "cameras",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_cameras_jurisdiction_id"), "cameras", ["jurisdiction_id"], unique=False
    )
    op.create_geospatial_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("road_name", sa.Text(), nullable=True),
        sa.Column("road_id", sa.Integer(), nullable=True),
        sa.Column(
            "directions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("lanes", sa.Integer(), nullable=True),
        sa.Column("is_entry", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=32), server_default="import", nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
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
            "device_id ~ '^[0-9]{20}$'", name=op.f("ck_checkpoints_device_id_gb28181")
        ),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'fault', 'unknown')",
            name=op.f("ck_checkpoints_status"),
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_checkpoints_geom_valid")
        ),
        sa.CheckConstraint("lanes > 0 AND lanes <= 32", name=op.f("ck_checkpoints_lanes_range")),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdictions.id"],
            name=op.f("fk_checkpoints_jurisdiction_id_jurisdictions"),
        ),
        sa.ForeignKeyConstraint(
            ["road_id"],
            ["roads.id"],
            name=op.f("fk_checkpoints_road_id_roads"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint("device_id", name=op.f("uq_checkpoints_device_id")),
    )
    op.create_geospatial_index(
        "idx_checkpoints_geom",
        "checkpoints",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_checkpoints_jurisdiction_id"), "checkpoints", ["jurisdiction_id"], unique=False
    )
    op.create_geospatial_table(
        "key_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("area_class", sa.String(length=32), nullable=False),
        sa.Column("required_dori", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=32), server_default="import", nullable=False),
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
            "required_dori IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_key_areas_required_dori"),
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_key_areas_geom_valid")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdictions.id"],
            name=op.f("fk_key_areas_jurisdiction_id_jurisdictions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_areas")),
    )
    op.create_geospatial_index(
        "idx_key_areas_geom",
        "key_areas",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_key_areas_jurisdiction_id"), "key_areas", ["jurisdiction_id"], unique=False
    )
    op.create_geospatial_table(
        "alarms",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alarm_point_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="3", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=32), server_default="import", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
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
            "status IN ('open', 'handling', 'closed')", name=op.f("ck_alarms_status")
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_alarms_geom_valid")
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name=op.f("ck_alarms_priority_range")),
        sa.ForeignKeyConstraint(
            ["alarm_point_id"],
            ["alarm_points.id"],
            name=op.f("fk_alarms_alarm_point_id_alarm_points"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"],
            ["jurisdictions.id"],
            name=op.f("fk_alarms_jurisdiction_id_jurisdictions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_geospatial_index(
        "idx_alarms_geom",
        "alarms",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_alarms_alarm_point_id"), "alarms", ["alarm_point_id"], unique=False)
    op.create_index(op.f("ix_alarms_jurisdiction_id"), "alarms", ["jurisdiction_id"], unique=False)
    op.create_index(op.f("ix_alarms_occurred_at"), "alarms", ["occurred_at"], unique=False)
    op.create_geospatial_table(
        "blind_spots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key_area_id", sa.Integer(), nullable=False),
        sa.Column("dori_level", sa.String(length=16), nullable=False),
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
            "dori_level IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_blind_spots_dori_level"),
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_blind_spots_geom_valid")
        ),
        sa.ForeignKeyConstraint(
            ["key_area_id"],
            ["key_areas.id"],
            name=op.f("fk_blind_spots_key_area_id_key_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["coverage_runs.id"],
            name=op.f("fk_blind_spots_run_id_coverage_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_spots")),
    )
    op.create_geospatial_index(
        "idx_blind_spots_geom",
        "blind_spots",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_blind_spots_key_area_id"), "blind_spots", ["key_area_id"], unique=False
    )
    op.create_index(op.f("ix_blind_spots_run_id"), "blind_spots", ["run_id"], unique=False)
    op.create_table(
        "sightings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("object_ref", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("lane", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "(checkpoint_id IS NULL) <> (camera_id IS NULL)", name=op.f("ck_sightings_one_device")
        ),
        sa.CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
            name=op.f("ck_sightings_confidence_range"),
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_sightings_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f("fk_sightings_checkpoint_id_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
    )
    op.create_index(
        "ix_sightings_object_ref_seen_at", "sightings", ["object_ref", "seen_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sightings_object_ref_seen_at", table_name="sightings")
    op.drop_table("sightings")
    op.drop_index(op.f("ix_blind_spots_run_id"), table_name="blind_spots")
    op.drop_index(op.f("ix_blind_spots_key_area_id"), table_name="blind_spots")
    op.drop_geospatial_index(
        "idx_blind_spots_geom",
        table_name="blind_spots",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("blind_spots")
    op.drop_index(op.f("ix_alarms_occurred_at"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_jurisdiction_id"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_alarm_point_id"), table_name="alarms")
    op.drop_geospatial_index(
        "idx_alarms_geom", table_name="alarms", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("alarms")
    op.drop_index(op.f("ix_key_areas_jurisdiction_id"), table_name="key_areas")
    op.drop_geospatial_index(
        "idx_key_areas_geom", table_name="key_areas", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("key_areas")
    op.drop_index(op.f("ix_checkpoints_jurisdiction_id"), table_name="checkpoints")
    op.drop_geospatial_index(
        "idx_checkpoints_geom",
        table_name="checkpoints",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("checkpoints")
    op.drop_index(op.f("ix_cameras_jurisdiction_id"), table_name="cameras")
    op.drop_geospatial_index(
        "idx_cameras_geom", table_name="cameras", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("cameras")
    op.drop_index(op.f("ix_alarm_points_jurisdiction_id"), table_name="alarm_points")
    op.drop_geospatial_index(
        "idx_alarm_points_geom",
        table_name="alarm_points",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("alarm_points")
    op.drop_geospatial_index(
        "idx_roads_geom", table_name="roads", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("roads")
    op.drop_index(op.f("ix_jurisdictions_parent_id"), table_name="jurisdictions")
    op.drop_geospatial_index(
        "idx_jurisdictions_geom",
        table_name="jurisdictions",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("jurisdictions")
    op.drop_index(op.f("ix_dataset_loads_name"), table_name="dataset_loads")
    op.drop_table("dataset_loads")
    op.drop_table("coverage_runs")
    op.drop_geospatial_index(
        "idx_buildings_geom", table_name="buildings", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("buildings")
