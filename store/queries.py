"""Read queries returning GeoDataFrames (EPSG:4326) for the console and the analysis."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import Connection, Engine, func, select, text

from store.map_queries import placement_sites
from store.models import (
    AlarmPoint,
    Base,
    Building,
    Camera,
    Checkpoint,
    Jurisdiction,
    KeyArea,
    Road,
)
from store.scope import Scope

# Columns the map console needs per layer (geometry is added as `geometry`).
MAP_COLUMNS: dict[str, tuple[type[Base], tuple[str, ...]]] = {
    "jurisdictions": (Jurisdiction, ("id", "code", "name", "level", "parent_id")),
    "buildings": (Building, ("id", "name", "height_m")),
    "roads": (Road, ("id", "name", "road_class")),
    "cameras": (
        Camera,
        (
            "id", "device_id", "name", "kind", "camera_type", "status", "azimuth_deg",
            "is_social_resource", "owner", "mount_height_m", "hfov_deg", "jurisdiction_id",
        ),
    ),
    "checkpoints": (
        Checkpoint, ("id", "device_id", "name", "road_name", "is_entry", "status", "lanes")
    ),
    "key_areas": (KeyArea, ("id", "name", "area_class", "required_dori")),
    "alarm_points": (AlarmPoint, ("id", "code", "name", "kind", "status")),
}  # fmt: skip


# How each console layer is limited to a scope: a device table by its jurisdiction (cameras also
# by clearance), the jurisdictions to the scope's subtree; buildings and roads are base
# geography and stay city-wide.
def _scoped_where(name: str, scope: Scope) -> str:
    if name == "cameras":
        return scope.devices("t", camera=True)
    if name in ("checkpoints", "key_areas", "alarm_points"):
        return scope.devices("t")
    if name == "jurisdictions":
        return "TRUE" if scope.whole_city else "t.id = ANY(:scope_jids)"
    return "TRUE"


def read_scoped(
    conn: Connection, name: str, scope: Scope, columns: tuple[str, ...] | None = None
) -> gpd.GeoDataFrame:
    """One console layer (a key of :data:`MAP_COLUMNS`) limited to ``scope`` (EPSG:4326),
    ordered by id."""
    model, default = MAP_COLUMNS[name]
    cols = ", ".join(f"t.{c}" for c in (columns or default))
    table = model.__table__.name  # type: ignore[attr-defined]
    return gpd.read_postgis(
        text(f"SELECT {cols}, t.geom AS geometry FROM {table} t "  # noqa: S608 - fixed names
             f"WHERE {_scoped_where(name, scope)} ORDER BY t.id"),
        conn, geom_col="geometry", crs=4326, params=scope.params(),
    )  # fmt: skip


def map_frames(engine: Engine, scope: Scope) -> dict[str, gpd.GeoDataFrame]:
    """Every layer the map console shows to ``scope``, keyed by layer name: its cameras (by
    jurisdiction and clearance), checkpoints, alarm points and key areas (by jurisdiction),
    its jurisdictions (the unit and those below it), the city's buildings and roads, and
    ``placement``: the sites of the newest placement proposal inside the scope."""
    with engine.connect() as conn:
        frames = {name: read_scoped(conn, name, scope) for name in MAP_COLUMNS}
        frames["placement"] = placement_sites(conn, scope)
    return frames


def row_counts(engine: Engine) -> dict[str, int]:
    """Number of rows in each Sightline table."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(
                conn.execute(select(func.count()).select_from(table)).scalar_one()
            )
    return counts


def postgis_version(engine: Engine) -> str:
    """The PostGIS library version of the store."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT postgis_lib_version()")).scalar_one())
