"""Read queries returning GeoDataFrames (EPSG:4326) for the console and the analysis."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import Engine, func, select, text

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


def read_table(
    engine: Engine, model: type[Base], columns: tuple[str, ...] | None = None
) -> gpd.GeoDataFrame:
    """All rows of a table with a ``geom`` column as a GeoDataFrame (EPSG:4326), ordered by id."""
    table = model.__table__
    names = columns or tuple(c.name for c in table.columns if c.name != "geom")
    stmt = select(*(table.c[n] for n in names), table.c.geom.label("geometry")).order_by(table.c.id)
    with engine.connect() as conn:
        return gpd.read_postgis(stmt, conn, geom_col="geometry", crs=4326)


def map_frames(engine: Engine) -> dict[str, gpd.GeoDataFrame]:
    """Every layer the map console shows, keyed by layer name (``placement``: the sites of
    the newest placement proposal)."""
    from store.placement import latest_sites

    frames = {name: read_table(engine, model, cols) for name, (model, cols) in MAP_COLUMNS.items()}
    with engine.connect() as conn:
        frames["placement"] = latest_sites(conn)
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
