"""Read an OpenStreetMap extract (.osm.pbf or .osm XML) into the layers Sightline uses.

One pass with pyosmium yields buildings, drivable roads, surveillance cameras, administrative
boundaries and landmarks as GeoDataFrames in EPSG:4326 with valid, non-empty geometries.

Tag rules (documented here because the frames depend on them):

- Building height: ``height`` (metres; "12", "12 m", "12.5m", "40 ft"), else ``building:levels``
  x 3.0 m (roof levels are ignored), else 10.0 m. ``height_source`` says which one was used.
- Roads: ``highway`` in :data:`DRIVABLE_CLASSES`. ``oneway`` is True for "yes"/"1"/"true"/"-1",
  for motorways and their links and for roundabouts unless ``oneway=no``. Ways tagged
  ``oneway=-1`` are reversed so that every oneway geometry runs in the direction of travel.
- Cameras: nodes with ``man_made=surveillance`` and ``surveillance:type`` camera or missing.
  Azimuth from ``camera:direction`` or ``direction`` (degrees clockwise from true north, or a
  compass point such as "NE").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely

from gis.polygons import as_multipolygons

__all__ = [
    "DRIVABLE_CLASSES",
    "OsmExtract",
    "OsmImportError",
    "parse_direction_deg",
    "parse_height_m",
    "parse_lanes",
    "parse_maxspeed_kmh",
    "parse_oneway",
    "read_osm",
]

CRS = "EPSG:4326"
METRES_PER_LEVEL = 3.0
DEFAULT_BUILDING_HEIGHT_M = 10.0
KMH_PER_MPH = 1.609344
METRES_PER_FOOT = 0.3048

_MAIN_CLASSES = ("motorway", "trunk", "primary", "secondary", "tertiary")
DRIVABLE_CLASSES: frozenset[str] = frozenset(
    _MAIN_CLASSES
    + tuple(f"{c}_link" for c in _MAIN_CLASSES)
    + ("unclassified", "residential", "living_street", "service")
)

_CAMERA_TYPES = {"fixed": "fixed", "dome": "dome", "panning": "ptz", "panoramic": "panoramic"}

_COMPASS = {
    name: i * 22.5
    for i, name in enumerate(
        "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()
    )
}

# (tag key, tag value) -> landmark category
_LANDMARKS: dict[tuple[str, str], str] = {
    ("amenity", "school"): "school",
    ("amenity", "kindergarten"): "school",
    ("amenity", "college"): "school",
    ("amenity", "university"): "school",
    ("amenity", "hospital"): "hospital",
    ("amenity", "police"): "government",
    ("amenity", "townhall"): "government",
    ("amenity", "fire_station"): "government",
    ("amenity", "place_of_worship"): "worship",
    ("amenity", "marketplace"): "market",
    ("amenity", "bus_station"): "transport_hub",
    ("railway", "station"): "transport_hub",
    ("public_transport", "station"): "transport_hub",
    ("aeroway", "terminal"): "transport_hub",
    ("tourism", "attraction"): "tourism",
    ("tourism", "museum"): "tourism",
    ("leisure", "park"): "park",
}

_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([a-z/'\"]*)\s*$", re.IGNORECASE)


class OsmImportError(ValueError):
    """An OSM file cannot be imported; the message names the file and what to do."""


@dataclass(frozen=True)
class OsmExtract:
    """Layers read from one OSM file, all GeoDataFrames in EPSG:4326.

    Attributes
    ----------
    buildings
        osm_id, name, height_m, height_source, geometry (MultiPolygon).
    roads
        osm_id, name, road_class, oneway, lanes, maxspeed_kmh, geometry (LineString).
    cameras
        osm_id, camera_type, mount, azimuth_deg (NaN if unknown), mount_height_m, zone, tags,
        geometry (Point).
    boundaries
        osm_id, name, admin_level, geometry (MultiPolygon).
    landmarks
        osm_id, name, category, geometry (Point, Polygon or MultiPolygon).
    source
        Path of the file read.
    issues
        Human-readable notes on dropped or repaired features.
    """

    buildings: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    cameras: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame
    landmarks: gpd.GeoDataFrame
    source: Path
    issues: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- tag parsing


def _number_and_unit(value: str | None) -> tuple[float, str] | None:
    if value is None:
        return None
    m = _NUMBER_UNIT.match(value)
    if m is None:
        return None
    return float(m.group(1).replace(",", ".")), m.group(2).lower()


def parse_height_m(value: str | None) -> float | None:
    """Parse an OSM ``height`` value.

    Parameters
    ----------
    value
        Tag value such as "12", "12 m", "12.5m", "12,5", "40 ft" or "40'".

    Returns
    -------
    float or None
        Height in metres, or None when the value is missing, not a length, or not in
        (0, 1000) m.
    """
    parsed = _number_and_unit(value)
    if parsed is None:
        return None
    number, unit = parsed
    if unit in ("", "m", "meter", "meters", "metre", "metres"):
        height = number
    elif unit in ("ft", "feet", "'"):
        height = number * METRES_PER_FOOT
    else:
        return None
    return height if 0.0 < height < 1000.0 else None


def parse_levels(value: str | None) -> float | None:
    """Parse ``building:levels``: a positive number of storeys, or None."""
    parsed = _number_and_unit(value)
    if parsed is None or parsed[1] != "" or not 0.0 < parsed[0] < 300.0:
        return None
    return parsed[0]


def parse_maxspeed_kmh(value: str | None) -> float | None:
    """Parse an OSM ``maxspeed`` value.

    Parameters
    ----------
    value
        "50", "50 km/h", "30 mph", "30mph"; for "50;30" the first value is used.

    Returns
    -------
    float or None
        Speed limit in km/h; None for missing, symbolic ("none", "walk", "FR:urban") or junk.
    """
    if value is None:
        return None
    parsed = _number_and_unit(value.split(";")[0])
    if parsed is None:
        return None
    number, unit = parsed
    if unit in ("", "km/h", "kmh", "kph"):
        speed = number
    elif unit == "mph":
        speed = number * KMH_PER_MPH
    else:
        return None
    return speed if speed > 0 else None


def parse_lanes(value: str | None) -> int | None:
    """Parse ``lanes``: a positive integer, else None ("2;3" and junk give None)."""
    if value is None or not value.strip().isdigit():
        return None
    lanes = int(value.strip())
    return lanes if 0 < lanes <= 32 else None


def parse_oneway(tags: dict[str, str]) -> tuple[bool, bool]:
    """Decide whether a road is oneway.

    Parameters
    ----------
    tags
        All tags of the way.

    Returns
    -------
    (oneway, reversed)
        ``reversed`` is True for ``oneway=-1`` (travel against the way's node order).
    """
    value = tags.get("oneway", "").strip().lower()
    if value in ("yes", "1", "true"):
        return True, False
    if value == "-1":
        return True, True
    if value in ("no", "0", "false", "reversible", "alternating"):
        return False, False
    highway = tags.get("highway", "")
    implied = highway in ("motorway", "motorway_link") or tags.get("junction") in (
        "roundabout",
        "circular",
    )
    return implied, False


def parse_direction_deg(value: str | None) -> float:
    """Parse a camera direction.

    Parameters
    ----------
    value
        Degrees clockwise from true north ("240", "90.5") or a compass point ("N", "SW", "NNE").

    Returns
    -------
    float
        Azimuth in degrees in [0, 360); NaN when missing or unparseable (ranges like "0-90"
        are not a single direction and give NaN).
    """
    if value is None:
        return math.nan
    text = value.strip().upper()
    if text in _COMPASS:
        return _COMPASS[text]
    try:
        number = float(text)
    except ValueError:
        return math.nan
    if not math.isfinite(number):
        return math.nan
    return number % 360.0


# --------------------------------------------------------------------------- geometry repair


def _clean_polygons(
    geoms: np.ndarray, layer: str, issues: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Repair polygonal geometries to valid MultiPolygons; return (geoms, keep mask)."""
    if len(geoms) == 0:
        return geoms, np.zeros(0, dtype=bool)
    repaired = int((~shapely.is_valid(geoms)).sum())
    out = as_multipolygons(geoms)
    keep = np.array([g is not None for g in out], dtype=bool)
    dropped = int((~keep).sum())
    if repaired:
        issues.append(f"{layer}: repaired {repaired} invalid polygon(s) with make_valid")
    if dropped:
        issues.append(f"{layer}: dropped {dropped} empty or non-polygonal geometr(y/ies)")
    return out, keep


def _clean_lines(geoms: np.ndarray, issues: list[str]) -> np.ndarray:
    """Keep mask of valid, non-empty LineStrings with positive length."""
    if len(geoms) == 0:
        return np.zeros(0, dtype=bool)
    keep = shapely.is_valid(geoms) & ~shapely.is_empty(geoms) & (shapely.length(geoms) > 0)
    dropped = int((~keep).sum())
    if dropped:
        issues.append(f"roads: dropped {dropped} degenerate line(s)")
    return np.asarray(keep, dtype=bool)


# --------------------------------------------------------------------------- reading


class _Collector:
    """Accumulates rows per layer during the single pass over the file."""

    def __init__(self) -> None:
        self.n_objects = 0
        self.failed_geometries = 0
        self.buildings: dict[str, list[Any]] = _empty("osm_id name height_m height_source wkb")
        self.roads: dict[str, list[Any]] = _empty(
            "osm_id name road_class oneway reverse lanes maxspeed_kmh wkb"
        )
        self.cameras: dict[str, list[Any]] = _empty(
            "osm_id camera_type mount azimuth_deg mount_height_m zone tags lon lat"
        )
        self.boundaries: dict[str, list[Any]] = _empty("osm_id name admin_level wkb")
        self.landmarks: dict[str, list[Any]] = _empty("osm_id name category wkb")
        self.bad_admin_levels = 0


def _empty(columns: str) -> dict[str, list[Any]]:
    return {c: [] for c in columns.split()}


def _landmark_category(tags: dict[str, str]) -> str | None:
    for key in ("amenity", "railway", "public_transport", "aeroway", "tourism", "leisure"):
        category = _LANDMARKS.get((key, tags.get(key, "")))
        if category is not None:
            return category
    return None


def _geometry(make: Callable[[Any], str], obj: Any, acc: _Collector) -> str | None:
    try:
        return make(obj)
    except (RuntimeError, osmium.InvalidLocationError):
        # Missing node locations (clipped extract) or a ring that cannot be assembled.
        acc.failed_geometries += 1
        return None


def _visit_area(area: Any, tags: dict[str, str], wkb: osmium.geom.WKBFactory,
                acc: _Collector) -> None:
    building = tags.get("building")
    is_building = building is not None and building != "no"
    is_boundary = tags.get("boundary") == "administrative"
    category = _landmark_category(tags) if "name" in tags else None
    if not (is_building or is_boundary or category):
        return
    geom = _geometry(wkb.create_multipolygon, area, acc)
    if geom is None:
        return
    osm_id = ("w" if area.from_way() else "r") + str(area.orig_id())
    name = tags.get("name")
    if is_building:
        height = parse_height_m(tags.get("height"))
        levels = parse_levels(tags.get("building:levels"))
        if height is not None:
            source = "height"
        elif levels is not None:
            height, source = levels * METRES_PER_LEVEL, "levels"
        else:
            height, source = DEFAULT_BUILDING_HEIGHT_M, "default"
        for key, value in (("osm_id", osm_id), ("name", name), ("height_m", height),
                           ("height_source", source), ("wkb", geom)):
            acc.buildings[key].append(value)
    if is_boundary:
        level = tags.get("admin_level", "").strip()
        if level.isdigit():
            for key, value in (("osm_id", osm_id), ("name", name),
                               ("admin_level", int(level)), ("wkb", geom)):
                acc.boundaries[key].append(value)
        else:
            acc.bad_admin_levels += 1
    if category:
        for key, value in (("osm_id", osm_id), ("name", name), ("category", category),
                           ("wkb", geom)):
            acc.landmarks[key].append(value)


def _visit_way(way: Any, tags: dict[str, str], wkb: osmium.geom.WKBFactory,
               acc: _Collector) -> None:
    road_class = tags.get("highway")
    if road_class not in DRIVABLE_CLASSES or tags.get("area") == "yes":
        return
    geom = _geometry(wkb.create_linestring, way, acc)
    if geom is None:
        return
    oneway, reverse = parse_oneway(tags)
    for key, value in (("osm_id", f"w{way.id}"), ("name", tags.get("name")),
                       ("road_class", road_class), ("oneway", oneway), ("reverse", reverse),
                       ("lanes", parse_lanes(tags.get("lanes"))),
                       ("maxspeed_kmh", parse_maxspeed_kmh(tags.get("maxspeed"))),
                       ("wkb", geom)):
        acc.roads[key].append(value)


def _visit_node(node: Any, tags: dict[str, str], acc: _Collector) -> None:
    if not node.location.valid():
        return
    if tags.get("man_made") == "surveillance" and tags.get("surveillance:type",
                                                            "camera") == "camera":
        direction = tags.get("camera:direction", tags.get("direction"))
        for key, value in (
            ("osm_id", f"n{node.id}"),
            ("camera_type", _CAMERA_TYPES.get(tags.get("camera:type", "fixed"), "fixed")),
            ("mount", tags.get("camera:mount")),
            ("azimuth_deg", parse_direction_deg(direction)),
            ("mount_height_m", parse_height_m(tags.get("height"))),
            ("zone", tags.get("surveillance:zone")),
            ("tags", tags),
            ("lon", node.location.lon),
            ("lat", node.location.lat),
        ):
            acc.cameras[key].append(value)
    if "name" in tags:
        category = _landmark_category(tags)
        if category:
            point = shapely.Point(node.location.lon, node.location.lat).wkb_hex
            for key, value in (("osm_id", f"n{node.id}"), ("name", tags["name"]),
                               ("category", category), ("wkb", point)):
                acc.landmarks[key].append(value)


def _frame(columns: dict[str, list[Any]], geoms: Iterable[Any]) -> gpd.GeoDataFrame:
    # Text columns stay object dtype with None for missing values (pandas would otherwise
    # infer its string dtype and turn None into NaN).
    data = {k: pd.Series(v, dtype=object) if all(x is None or isinstance(x, str) for x in v)
            else v for k, v in columns.items()}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(list(geoms), crs=CRS), crs=CRS)


def read_osm(path: Path) -> OsmExtract:
    """Read buildings, drivable roads, cameras, boundaries and landmarks from an OSM file.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or ``.osm`` (XML) file. Coordinates are WGS-84 longitude/latitude.

    Returns
    -------
    OsmExtract
        Frames in EPSG:4326 with valid, non-empty geometries; repairs and drops are listed in
        ``issues``.

    Raises
    ------
    OsmImportError
        When the file is missing, unreadable, not an OSM file, or contains no OSM objects.
    """
    path = Path(path)
    if not path.is_file():
        raise OsmImportError(f"OSM file {path} does not exist (or is not a regular file)")
    acc = _Collector()
    wkb = osmium.geom.WKBFactory()
    try:
        for obj in osmium.FileProcessor(str(path)).with_areas():
            acc.n_objects += 1
            tags = {t.k: t.v for t in obj.tags}
            if not tags:
                continue
            if isinstance(obj, osmium.osm.Area):
                _visit_area(obj, tags, wkb, acc)
            elif isinstance(obj, osmium.osm.Way):
                _visit_way(obj, tags, wkb, acc)
            elif isinstance(obj, osmium.osm.Node):
                _visit_node(obj, tags, acc)
    except (RuntimeError, osmium.InvalidLocationError, OSError) as exc:
        raise OsmImportError(
            f"cannot read OSM file {path}: {exc}. Expected an .osm.pbf or .osm XML extract "
            "(e.g. from Geofabrik); check that the download is complete."
        ) from exc
    if acc.n_objects == 0:
        raise OsmImportError(f"OSM file {path} contains no OSM objects; nothing to import")

    issues: list[str] = []
    if acc.failed_geometries:
        issues.append(
            f"{acc.failed_geometries} feature(s) skipped: geometry could not be built "
            "(missing nodes at the extract's edge or broken rings)"
        )
    if acc.bad_admin_levels:
        issues.append(f"boundaries: skipped {acc.bad_admin_levels} with a non-integer admin_level")

    buildings = _polygon_frame(acc.buildings, "buildings", issues)
    boundaries = _polygon_frame(acc.boundaries, "boundaries", issues)
    landmarks = _landmark_frame(acc.landmarks, issues)
    roads = _road_frame(acc.roads, issues)
    cam = dict(acc.cameras)
    points = shapely.points(np.asarray(cam.pop("lon"), dtype=float),
                            np.asarray(cam.pop("lat"), dtype=float))
    cameras = _frame(cam, points if len(points) else [])
    cameras["azimuth_deg"] = cameras["azimuth_deg"].astype(float)
    cameras["mount_height_m"] = cameras["mount_height_m"].astype(float)
    return OsmExtract(buildings=buildings, roads=roads, cameras=cameras, boundaries=boundaries,
                      landmarks=landmarks, source=path, issues=issues)


def _polygon_frame(rows: dict[str, list[Any]], layer: str, issues: list[str]) -> gpd.GeoDataFrame:
    rows = dict(rows)
    geoms = shapely.from_wkb(np.asarray(rows.pop("wkb"), dtype=object))
    geoms, keep = _clean_polygons(geoms, layer, issues)
    frame = _frame(rows, geoms)
    return frame[keep].reset_index(drop=True)


def _landmark_frame(rows: dict[str, list[Any]], issues: list[str]) -> gpd.GeoDataFrame:
    rows = dict(rows)
    geoms = shapely.from_wkb(np.asarray(rows.pop("wkb"), dtype=object))
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    out = geoms.copy()
    keep = np.ones(len(geoms), dtype=bool)
    if (~is_point).any():
        poly, poly_keep = _clean_polygons(geoms[~is_point], "landmarks", issues)
        # A single-part area is more natural as a Polygon.
        poly = np.array([p.geoms[0] if p is not None and len(p.geoms) == 1 else p
                         for p in poly], dtype=object)
        out[~is_point] = poly
        keep[~is_point] = poly_keep
    frame = _frame(rows, out)
    return frame[keep].reset_index(drop=True)


def _road_frame(rows: dict[str, list[Any]], issues: list[str]) -> gpd.GeoDataFrame:
    rows = dict(rows)
    geoms = shapely.from_wkb(np.asarray(rows.pop("wkb"), dtype=object))
    reverse = np.asarray(rows.pop("reverse"), dtype=bool)
    if reverse.any():
        geoms[reverse] = shapely.reverse(geoms[reverse])
    keep = _clean_lines(geoms, issues)
    frame = _frame(rows, geoms)
    frame["oneway"] = frame["oneway"].astype(bool)
    frame["lanes"] = frame["lanes"].astype("Int64")
    frame["maxspeed_kmh"] = frame["maxspeed_kmh"].astype(float)
    return frame[keep].reset_index(drop=True)
