"""ORM models of the Sightline store. Every geometry is EPSG:4326 with a GiST index.

The Alembic migrations in ``store/migrations`` create exactly these tables; a test compares them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326

JURISDICTION_LEVELS = ("city", "district", "station")
DORI_LEVELS = ("detect", "observe", "recognise", "identify")
DEVICE_STATUSES = ("online", "offline", "fault", "unknown")
CAMERA_KINDS = ("road", "community", "social", "high_point")
CAMERA_TYPES = ("fixed", "dome", "ptz", "panoramic")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _geom_ok(column: str = "geom") -> str:
    return f"ST_IsValid({column}) AND NOT ST_IsEmpty({column})"


def _geom(kind: str) -> Any:
    # spatial_index=True makes GeoAlchemy2 create a GiST index named idx_<table>_<column>.
    return Geometry(geometry_type=kind, srid=SRID, spatial_index=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Jurisdiction(Base):
    """Administrative unit of the three-level programme: city -> district -> police station."""

    __tablename__ = "jurisdictions"
    __table_args__ = (
        CheckConstraint(_in("level", JURISDICTION_LEVELS), name="level"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
        CheckConstraint("(level = 'city') = (parent_id IS NULL)", name="parent_by_level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("jurisdictions.id", ondelete="RESTRICT"), index=True
    )
    admin_code: Mapped[str | None] = mapped_column(String(12))
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class KeyArea(Base):
    """Priority area (重点区域) with the DORI level its coverage must reach."""

    __tablename__ = "key_areas"
    __table_args__ = (
        CheckConstraint(_in("required_dori", DORI_LEVELS), name="required_dori"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    area_class: Mapped[str] = mapped_column(String(32))
    required_dori: Mapped[str] = mapped_column(String(16))
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), server_default="import")
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class Camera(Base):
    """A camera. Azimuth in degrees clockwise from true north, tilt in degrees down from level."""

    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint("device_id ~ '^[0-9]{20}$'", name="device_id_gb28181"),
        CheckConstraint("azimuth_deg >= 0 AND azimuth_deg < 360", name="azimuth_range"),
        CheckConstraint("tilt_deg >= -90 AND tilt_deg <= 90", name="tilt_range"),
        CheckConstraint("mount_height_m > 0 AND mount_height_m <= 1000", name="height_range"),
        CheckConstraint("hfov_deg > 0 AND hfov_deg <= 360", name="hfov_range"),
        CheckConstraint("sensor_width_mm > 0 AND sensor_height_mm > 0", name="sensor_positive"),
        CheckConstraint("focal_length_mm > 0", name="focal_positive"),
        CheckConstraint("resolution_w_px > 0 AND resolution_h_px > 0", name="resolution_positive"),
        CheckConstraint(_in("status", DEVICE_STATUSES), name="status"),
        CheckConstraint(_in("kind", CAMERA_KINDS), name="kind"),
        CheckConstraint(_in("camera_type", CAMERA_TYPES), name="camera_type"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(Text)
    is_social_resource: Mapped[bool] = mapped_column(Boolean, server_default="false")
    access_level: Mapped[int] = mapped_column(Integer, server_default="0")
    kind: Mapped[str] = mapped_column(String(16), server_default="road")
    camera_type: Mapped[str] = mapped_column(String(16), server_default="fixed")
    mount: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(Text)
    mount_height_m: Mapped[float | None] = mapped_column(Float)
    azimuth_deg: Mapped[float | None] = mapped_column(Float)
    tilt_deg: Mapped[float | None] = mapped_column(Float)
    any_direction: Mapped[bool] = mapped_column(Boolean, server_default="false")
    lens_model: Mapped[str | None] = mapped_column(Text)
    sensor_width_mm: Mapped[float | None] = mapped_column(Float)
    sensor_height_mm: Mapped[float | None] = mapped_column(Float)
    focal_length_mm: Mapped[float | None] = mapped_column(Float)
    hfov_deg: Mapped[float | None] = mapped_column(Float)
    resolution_w_px: Mapped[int | None] = mapped_column(Integer)
    resolution_h_px: Mapped[int | None] = mapped_column(Integer)
    ptz_presets: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    stream_ref: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="unknown")
    status_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), server_default="import")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Checkpoint(Base):
    """Road checkpoint (卡口). Directions are 'in'/'out' (of the city) or compass bearings."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        CheckConstraint("device_id ~ '^[0-9]{20}$'", name="device_id_gb28181"),
        CheckConstraint("lanes > 0 AND lanes <= 32", name="lanes_range"),
        CheckConstraint(_in("status", DEVICE_STATUSES), name="status"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text)
    road_name: Mapped[str | None] = mapped_column(Text)
    road_id: Mapped[int | None] = mapped_column(ForeignKey("roads.id", ondelete="SET NULL"))
    directions: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    lanes: Mapped[int | None] = mapped_column(Integer)
    is_entry: Mapped[bool] = mapped_column(Boolean, server_default="false")
    status: Mapped[str] = mapped_column(String(16), server_default="unknown")
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), server_default="import")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    geom: Mapped[Any] = mapped_column(_geom("POINT"))


class Building(Base):
    """Building footprint with a height in metres (2.5D occluder)."""

    __tablename__ = "buildings"
    __table_args__ = (
        CheckConstraint("height_m > 0 AND height_m < 1000", name="height_range"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    osm_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    height_m: Mapped[float] = mapped_column(Float)
    height_source: Mapped[str] = mapped_column(String(16))
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class Road(Base):
    """Drivable road segment (one OSM way)."""

    __tablename__ = "roads"
    __table_args__ = (CheckConstraint(_geom_ok(), name="geom_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    osm_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    road_class: Mapped[str] = mapped_column(String(32))
    oneway: Mapped[bool] = mapped_column(Boolean, server_default="false")
    lanes: Mapped[int | None] = mapped_column(Integer)
    maxspeed_kmh: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geom("LINESTRING"))


class CoverageRun(Base):
    """One coverage analysis run: its parameters, timings and summary results."""

    __tablename__ = "coverage_runs"
    __table_args__ = (
        CheckConstraint(_in("status", ("queued", "running", "done", "failed")), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    timings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    results: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class BlindSpot(Base):
    """Part of a key area not covered at its required DORI level in one run."""

    __tablename__ = "blind_spots"
    __table_args__ = (
        CheckConstraint(_in("dori_level", DORI_LEVELS), name="dori_level"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("coverage_runs.id", ondelete="CASCADE"), index=True
    )
    key_area_id: Mapped[int] = mapped_column(
        ForeignKey("key_areas.id", ondelete="CASCADE"), index=True
    )
    dori_level: Mapped[str] = mapped_column(String(16))
    area_m2: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class AlarmPoint(Base):
    """A fixed alarm point (一键报警 column, intrusion sensor, ...)."""

    __tablename__ = "alarm_points"
    __table_args__ = (
        CheckConstraint(_in("status", DEVICE_STATUSES), name="status"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default="unknown")
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), server_default="import")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    geom: Mapped[Any] = mapped_column(_geom("POINT"))


class Alarm(Base):
    """An alarm or incident at a place and time (from an alarm point or a 110 call)."""

    __tablename__ = "alarms"
    __table_args__ = (
        CheckConstraint(_in("status", ("open", "handling", "closed")), name="status"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alarm_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarm_points.id", ondelete="SET NULL"), index=True
    )
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, server_default="3")
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    description: Mapped[str | None] = mapped_column(Text)
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), server_default="import")
    geom: Mapped[Any] = mapped_column(_geom("POINT"))


class Sighting(Base):
    """An object reference seen at a checkpoint or camera at a time. No images, no biometrics.

    Partitioned by UTC day of ``seen_at`` (``store.sightings`` creates the partitions); the
    unique index is the object lookup and refuses duplicates. No surrogate key: the ORM
    identity is (object_ref, seen_at) (one device column is always NULL).
    """

    __tablename__ = "sightings"
    __table_args__ = (
        CheckConstraint("(checkpoint_id IS NULL) <> (camera_id IS NULL)", name="one_device"),
        CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)", name="confidence_range"
        ),
        Index("ix_sightings_object_ref_seen_at", "object_ref", "seen_at", "camera_id",
              "checkpoint_id", unique=True, postgresql_nulls_not_distinct=True),
        Index("ix_sightings_seen_at_brin", "seen_at", postgresql_using="brin",
              postgresql_with={"autosummarize": "on"}),
        {"postgresql_partition_by": "RANGE (seen_at)"},
    )
    __mapper_args__ = {"primary_key": ["object_ref", "seen_at"]}

    object_ref: Mapped[str] = mapped_column(Text(collation="C"))  # opaque: byte order
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    checkpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkpoints.id", ondelete="CASCADE")
    )
    direction: Mapped[str | None] = mapped_column(String(16))
    lane: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float | None] = mapped_column(Float)


class SightingCount(Base):
    """Sightings per device and UTC hour, kept by the sightings loader (device counts)."""

    __tablename__ = "sighting_counts"
    __table_args__ = (
        Index("ix_sighting_counts_hour", "hour", "camera_id", "checkpoint_id", unique=True,
              postgresql_nulls_not_distinct=True),
    )
    __mapper_args__ = {"primary_key": ["hour", "camera_id", "checkpoint_id"]}

    hour: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    camera_id: Mapped[int | None] = mapped_column(Integer)  # derived data: no foreign keys
    checkpoint_id: Mapped[int | None] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigInteger)


class DatasetLoad(Base):
    """One load of a dataset (OSM extract, demo inventory, survey file): what and from where.

    Lets `sightline demo load` skip work that is already done (same file checksum and seed).
    """

    __tablename__ = "dataset_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    row_counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SurveyImport(Base):
    """One survey import (or dry run): who, when, which file, what it did."""

    __tablename__ = "survey_imports"
    __table_args__ = (
        CheckConstraint(_in("status", ("done", "failed", "dry_run")), name="status"),
        CheckConstraint(_in("mode", ("insert", "upsert", "replace")), name="mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    source_crs: Mapped[str | None] = mapped_column(Text)
    user_name: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


API_ROLES = ("admin", "planner", "commander", "investigator", "viewer")


class ApiToken(Base):
    """A bearer token for scripts and other systems. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_in("role", API_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    jurisdiction_id: Mapped[int | None] = mapped_column(
        ForeignKey("jurisdictions.id", ondelete="RESTRICT")  # never widen a token's scope
    )
    clearance: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CoverageVisible(Base):
    """What one camera sees at one DORI level in one run (occlusion applied)."""

    __tablename__ = "coverage_visible"
    # One partition per run (store.coverage.run_partition): COPYed bare, then attached.
    __table_args__ = (
        CheckConstraint(_in("level", DORI_LEVELS), name="level"),
        {"postgresql_partition_by": "LIST (run_id)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("coverage_runs.id", ondelete="CASCADE"), primary_key=True
    )
    camera_id: Mapped[int | None] = mapped_column(
        ForeignKey("cameras.id", ondelete="SET NULL"), index=True
    )
    camera_ref: Mapped[str] = mapped_column(String(64))  # device id (what-if cameras too)
    level: Mapped[str] = mapped_column(String(16))
    area_m2: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class CoverageLevel(Base):
    """The union of every camera's visible area at one DORI level in one run."""

    __tablename__ = "coverage_levels"
    __table_args__ = (CheckConstraint(_in("level", DORI_LEVELS), name="level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("coverage_runs.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(16))
    area_m2: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class CoverageStat(Base):
    """One row of the assessment table: an area (key area, class, jurisdiction) at a level."""

    __tablename__ = "coverage_stats"
    __table_args__ = (
        CheckConstraint(_in("level", DORI_LEVELS), name="level"),
        CheckConstraint(_in("scope", ("key_area", "key_area_class", "jurisdiction")), name="scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("coverage_runs.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(16))
    area_key: Mapped[str] = mapped_column(Text)  # key area id, class name or jurisdiction code
    area_name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    area_m2: Mapped[float] = mapped_column(Float)
    covered_m2: Mapped[float] = mapped_column(Float)
    covered_pct: Mapped[float] = mapped_column(Float)
    open_area_m2: Mapped[float] = mapped_column(Float)
    open_covered_m2: Mapped[float] = mapped_column(Float)
    open_covered_pct: Mapped[float] = mapped_column(Float)


class RoadCoverage(Base):
    """Covered length of one road at one DORI level in one run."""

    __tablename__ = "road_coverage"
    __table_args__ = (
        CheckConstraint(_in("level", DORI_LEVELS), name="level"),
        {"postgresql_partition_by": "LIST (run_id)"},  # one partition per run
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("coverage_runs.id", ondelete="CASCADE"), primary_key=True
    )
    road_id: Mapped[int] = mapped_column(ForeignKey("roads.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    length_m: Mapped[float] = mapped_column(Float)
    covered_m: Mapped[float] = mapped_column(Float)
    covered_pct: Mapped[float] = mapped_column(Float)
    gaps_m: Mapped[list[list[float]]] = mapped_column(JSONB, server_default="[]")


class CameraHealth(Base):
    """The latest health of one camera, as the stream gateway's prober last found it."""

    __tablename__ = "camera_health"
    __table_args__ = (CheckConstraint(_in("status", DEVICE_STATUSES), name="status"),)

    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # of this status
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)  # why it is not online
    codec: Mapped[str | None] = mapped_column(String(16))
    width_px: Mapped[int | None] = mapped_column(Integer)
    height_px: Mapped[int | None] = mapped_column(Integer)
    probe_ms: Mapped[float | None] = mapped_column(Float)


class CameraHealthEvent(Base):
    """A change of a camera's health status (the history; unchanged probes are not kept)."""

    __tablename__ = "camera_health_events"
    __table_args__ = (
        CheckConstraint(_in("status", DEVICE_STATUSES), name="status"),
        Index("ix_camera_health_events_camera_at", "camera_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    previous_status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)


PROPOSAL_STATUSES = ("proposed", "partly_accepted", "accepted")


class PlacementProposal(Base):
    """A placement proposal: best new camera sites for a budget, with its bound and gap."""

    __tablename__ = "placement_proposals"
    __table_args__ = (CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    coverage_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("coverage_runs.id", ondelete="SET NULL")
    )
    jurisdiction_code: Mapped[str | None] = mapped_column(String(32))
    budget: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    solver_status: Mapped[str] = mapped_column(String(16))
    gap: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), server_default="proposed")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    results: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class PlacementSite(Base):
    """One proposed camera: site, azimuth (true north), lens, what it adds, its visible area."""

    __tablename__ = "placement_sites"
    __table_args__ = (
        CheckConstraint("azimuth_deg >= 0 AND azimuth_deg < 360", name="azimuth_range"),
        CheckConstraint(_geom_ok(), name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("placement_proposals.id", ondelete="CASCADE"), index=True
    )
    rank: Mapped[int] = mapped_column(Integer)  # 1 = the pick that adds most (greedy order)
    config_id: Mapped[str] = mapped_column(Text)
    site_kind: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str | None] = mapped_column(Text)  # existing camera's device id
    jurisdiction_code: Mapped[str | None] = mapped_column(String(32))
    mount_height_m: Mapped[float] = mapped_column(Float)
    azimuth_deg: Mapped[float] = mapped_column(Float)
    tilt_deg: Mapped[float] = mapped_column(Float)
    lens_model: Mapped[str] = mapped_column(Text)
    sensor_width_mm: Mapped[float] = mapped_column(Float)
    sensor_height_mm: Mapped[float] = mapped_column(Float)
    focal_length_mm: Mapped[float] = mapped_column(Float)
    hfov_deg: Mapped[float] = mapped_column(Float)
    resolution_w_px: Mapped[int] = mapped_column(Integer)
    resolution_h_px: Mapped[int] = mapped_column(Integer)
    gain_weight: Mapped[float] = mapped_column(Float)  # objective weight this pick adds
    gain_m2: Mapped[float] = mapped_column(Float)  # blind area at the required level it adds
    gain_road_m: Mapped[float] = mapped_column(Float)
    gain_entries: Mapped[int] = mapped_column(Integer)
    accepted_camera_id: Mapped[int | None] = mapped_column(
        ForeignKey("cameras.id", ondelete="SET NULL")
    )
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    view_geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))  # visible area, loosest level


class User(Base):
    """A console user. Only an argon2 hash of the password is stored.

    ``jurisdiction_id`` is the unit the user works for (None or the city: the whole platform);
    ``clearance`` is the highest camera ``access_level`` the user may see (social-resource
    cameras carry levels above 0).
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", API_ROLES), name="role"),
        CheckConstraint("clearance >= 0", name="clearance"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    jurisdiction_id: Mapped[int | None] = mapped_column(
        ForeignKey("jurisdictions.id", ondelete="RESTRICT")
    )
    clearance: Mapped[int] = mapped_column(Integer, server_default="0")
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A console login session: the cookie's SHA-256, its CSRF token and its expiry."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(Text)  # address and user agent, for the audit view


class AuditEntry(Base):
    """One row of the append-only audit log. ``hash`` = SHA-256 over the row's fields and the
    previous row's hash (``store.audit``); a trigger refuses UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)  # user:<name>, token:<name>, cli:<os user>
    role: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, index=True)
    target: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON text, hashed verbatim
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Patrol(Base):
    """A saved video patrol (视频巡逻 / 轮巡): cameras shown in turn, ``interval_s`` seconds each
    page of the grid. ``jurisdiction_id`` is the owner's unit when saved (None: the whole
    platform): only users whose scope holds it see the patrol."""

    __tablename__ = "patrols"
    __table_args__ = (
        CheckConstraint("interval_s >= 3 AND interval_s <= 3600", name="interval_range"),
        CheckConstraint("cardinality(device_ids) BETWEEN 1 AND 200", name="device_count"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    device_ids: Mapped[list[str]] = mapped_column(ARRAY(String(20)))  # GB/T 28181 ids, in order
    interval_s: Mapped[int] = mapped_column(Integer, server_default="10")
    jurisdiction_id: Mapped[int | None] = mapped_column(
        ForeignKey("jurisdictions.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


JOB_STATUSES = ("queued", "running", "done", "failed")


class ApiJob(Base):
    """A long run started over the HTTP API (``kind`` coverage or placement): who started it
    (``owner`` = principal subject), its state, progress (``phase``, ``fraction`` 0..1), the
    result (ids of what it wrote) or the error as problem details."""

    __tablename__ = "api_jobs"
    __table_args__ = (CheckConstraint(_in("status", JOB_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    owner: Mapped[str] = mapped_column(Text, index=True)
    role: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    phase: Mapped[str | None] = mapped_column(Text)
    fraction: Mapped[float] = mapped_column(Float, server_default="0")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
