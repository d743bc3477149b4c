"""Small hand-made map frames (EPSG:4326) for the console tests: a square city in Monaco's place.

Same keys and columns as ``store.queries.map_frames``. Coordinates are lon/lat degrees.
"""

from __future__ import annotations

import math

import geopandas as gpd
from shapely.geometry import LineString, MultiPolygon, Point, box

# A ~1.6 x 1.1 km city around Monaco's harbour, split into two districts.
WEST, SOUTH, EAST, NORTH = 7.410, 43.725, 7.430, 43.735
MID = (WEST + EAST) / 2


def _frame(rows: list[dict[str, object]], columns: list[str]) -> gpd.GeoDataFrame:
    if rows:
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)[[*columns, "geometry"]]
    return empty_frame(columns)


def empty_frame(columns: list[str]) -> gpd.GeoDataFrame:
    """A 0-row frame with the given columns and an EPSG:4326 geometry column."""
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=4326)


JURISDICTION_COLUMNS = ["id", "code", "name", "level", "parent_id"]
BUILDING_COLUMNS = ["id", "name", "height_m"]
ROAD_COLUMNS = ["id", "name", "road_class"]
CAMERA_COLUMNS = [
    "id", "device_id", "name", "kind", "camera_type", "status", "azimuth_deg",
    "is_social_resource", "owner", "mount_height_m", "hfov_deg", "jurisdiction_id",
]  # fmt: skip
CHECKPOINT_COLUMNS = ["id", "device_id", "name", "road_name", "is_entry", "status", "lanes"]
KEY_AREA_COLUMNS = ["id", "name", "area_class", "required_dori"]
ALARM_POINT_COLUMNS = ["id", "code", "name", "kind", "status"]


def jurisdictions() -> gpd.GeoDataFrame:
    city = MultiPolygon([box(WEST, SOUTH, EAST, NORTH)])
    west = MultiPolygon([box(WEST, SOUTH, MID, NORTH)])
    east = MultiPolygon([box(MID, SOUTH, EAST, NORTH)])
    return _frame(
        [
            {"id": 1, "code": "MC", "name": "Demo City", "level": "city", "parent_id": None,
             "geometry": city},
            {"id": 2, "code": "MC-W", "name": "West 西区", "level": "district", "parent_id": 1,
             "geometry": west},
            {"id": 3, "code": "MC-E", "name": "East <东区>", "level": "district", "parent_id": 1,
             "geometry": east},
        ],
        JURISDICTION_COLUMNS,
    )  # fmt: skip


def buildings() -> gpd.GeoDataFrame:
    rows = []
    for i in range(6):
        x = WEST + 0.002 + i * 0.003
        rows.append(
            {"id": i + 1, "name": None if i % 2 else f"Block {i}", "height_m": 10.0 + 3 * i,
             "geometry": MultiPolygon([box(x, 43.7285, x + 0.0012, 43.7295)])}
        )  # fmt: skip
    return _frame(rows, BUILDING_COLUMNS)


def roads() -> gpd.GeoDataFrame:
    return _frame(
        [
            {"id": 1, "name": "Boulevard Albert 1er", "road_class": "primary",
             "geometry": LineString([(WEST, 43.7300), (EAST, 43.7300)])},
            {"id": 2, "name": None, "road_class": "residential",
             "geometry": LineString([(MID, SOUTH), (MID, NORTH)])},
            {"id": 3, "name": "Quai", "road_class": "service",
             "geometry": LineString([(WEST + 0.002, 43.7270), (EAST - 0.002, 43.7275)])},
        ],
        ROAD_COLUMNS,
    )  # fmt: skip


def cameras() -> gpd.GeoDataFrame:
    """Three cameras, far enough apart not to cluster at the city view."""
    return _frame(
        [
            {"id": 11, "device_id": "31010100001320000001", "name": "Harbour east", "kind": "road",
             "camera_type": "fixed", "status": "online", "azimuth_deg": 90.0,
             "is_social_resource": False, "owner": "police", "mount_height_m": 6.0,
             "hfov_deg": 70.0, "jurisdiction_id": 3, "geometry": Point(7.4260, 43.7310)},
            {"id": 12, "device_id": "31010100001320000002", "name": "Casino <tower>",
             "kind": "high_point", "camera_type": "ptz", "status": "fault",
             "azimuth_deg": math.nan, "is_social_resource": False, "owner": None,
             "mount_height_m": 40.0, "hfov_deg": math.nan, "jurisdiction_id": 3,
             "geometry": Point(7.4275, 43.7275)},
            {"id": 13, "device_id": "31010100001320000003", "name": "Shop 商店", "kind": "social",
             "camera_type": "dome", "status": "offline", "azimuth_deg": 180.0,
             "is_social_resource": True, "owner": "shop", "mount_height_m": 3.0,
             "hfov_deg": 95.0, "jurisdiction_id": 2, "geometry": Point(7.4130, 43.7330)},
        ],
        CAMERA_COLUMNS,
    )  # fmt: skip


def checkpoints() -> gpd.GeoDataFrame:
    return _frame(
        [
            {"id": 1, "device_id": "31010100001320000101", "name": "West entry",
             "road_name": "Boulevard Albert 1er", "is_entry": True, "status": "online",
             "lanes": 2, "geometry": Point(WEST + 0.0005, 43.7300)},
            {"id": 2, "device_id": "31010100001320000102", "name": "Centre",
             "road_name": None, "is_entry": False, "status": "unknown", "lanes": None,
             "geometry": Point(MID, 43.7300)},
        ],
        CHECKPOINT_COLUMNS,
    )  # fmt: skip


def key_areas() -> gpd.GeoDataFrame:
    return _frame(
        [
            {"id": 1, "name": "Casino square", "area_class": "landmark",
             "required_dori": "recognise",
             "geometry": MultiPolygon([box(7.4265, 43.7265, 7.4290, 43.7285)])},
        ],
        KEY_AREA_COLUMNS,
    )  # fmt: skip


def alarm_points() -> gpd.GeoDataFrame:
    return _frame(
        [
            {"id": 1, "code": "AP-001", "name": "SOS column", "kind": "sos_column",
             "status": "online", "geometry": Point(7.4180, 43.7265)},
        ],
        ALARM_POINT_COLUMNS,
    )  # fmt: skip


def small_frames() -> dict[str, gpd.GeoDataFrame]:
    """Every console frame, small and fully populated."""
    return {
        "jurisdictions": jurisdictions(),
        "buildings": buildings(),
        "roads": roads(),
        "cameras": cameras(),
        "checkpoints": checkpoints(),
        "key_areas": key_areas(),
        "alarm_points": alarm_points(),
    }


def empty_frames() -> dict[str, gpd.GeoDataFrame]:
    """Every console frame with 0 rows (a fresh, empty store)."""
    return {key: empty_frame(list(gdf.columns.drop("geometry"))) for key, gdf in
            small_frames().items()}  # fmt: skip
