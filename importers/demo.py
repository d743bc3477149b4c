"""Seeded synthetic security inventory laid on a real city read from OpenStreetMap.

What is real (from the OSM extract): buildings and their heights, drivable roads, the
administrative areas used as districts, landmarks used as key areas, and the OSM surveillance
cameras (position, type, mount, direction).

What is synthetic (all drawn from ``numpy.random.default_rng`` streams spawned from ``seed``,
so one seed always gives identical frames):

- Jurisdictions: city = union of the districts, i.e. the boundary areas of the highest
  ``admin_level`` that has at least two areas (Monaco: the 6 ``admin_level=10`` quartiers).
  Each district is cut into two police-station areas by the line through its centroid
  perpendicular to its long axis. Codes are GB/T 2260-*style* but fictitious: province "99"
  does not exist, so "990100" (city), "9901nn" (districts, by name order) and "9901nnss"
  (stations, 8-digit GB/T 28181 centre codes) can never be mistaken for a real division.
- Cameras (all inside the city; GB/T 28181 ids = station centre code + industry "00" + type
  "132" + network 0 police / 8 social resource + serial):
  * ``osm``: the real OSM cameras; lens, mount height and tilt are invented per type. Fixed
    cameras without a direction keep ``azimuth_deg`` NaN with ``any_direction`` False; domes
    and PTZs without one get ``any_direction`` True.
  * road: along drivable roads (not service ways) every 90-120 m by road class (random phase
    per way), 3-5 m to a random side, facing along the road in alternating directions
    (± 3°), mount 4-8 m, tilt 8-20° down, fixed lenses; positions inside buildings dropped.
    Domes/PTZs with presets along each arm at the busiest junctions.
  * community/social: on building facades 0.4 m outside the wall, facing along the outward
    normal; shops are "social" resources (network 8, access level 1-3).
  * high_point: panoramic/PTZ on the tallest building (27-57 m) of each district, mount
    height = building height + 3 m, any direction.
  Azimuths are stored from true north (grid bearings are corrected for meridian
  convergence). Status: ~90 % online, 5 % offline, 2 % fault, 3 % unknown.
- Checkpoints: one per boundary crossing of each drivable road (motorway..tertiary,
  unclassified, residential and links), crossings of one road within 30 m merged, placed 15 m
  inside the city along the road; oneway roads get the one direction they carry ("in"/"out").
  Two crossings (seeded) are left out and returned in ``missing_entry_checkpoints``. A few
  internal (non-entry) checkpoints sit at the busiest major junctions.
- Key areas: landmarks (points buffered 60 m, areas 20 m, clipped to the city) with the DORI
  level of :data:`REQUIRED_DORI`; topped up with busy junctions if fewer than 8.
- Alarm points (~40) near key areas and along roads; alarms (~600) over the 90 days before
  :data:`REFERENCE_TIME`, more in the evening, clustered near key areas and roads.

All frames are returned in EPSG:4326; computations run in :func:`gis.crs.metric_crs_for`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis import polygons as gpoly
from gis import sampling
from gis.crs import grid_to_true_azimuth_deg, metric_crs_for
from gis.gb28181 import make_device_id
from importers.jurisdictions import JurisdictionError, jurisdictions_from_boundaries
from importers.osm import OsmExtract

__all__ = [
    "CAMERA_COLUMNS",
    "CHECKPOINT_COLUMNS",
    "DemoError",
    "DemoInventory",
    "LENSES",
    "REFERENCE_TIME",
    "REQUIRED_DORI",
    "Lens",
    "build_demo",
    "hfov_deg",
]

WGS84 = "EPSG:4326"
CITY_CODE = "990100"
CITY_PREFIX = "9901"
INDUSTRY = "00"
IP_CAMERA = "132"
POLICE_NETWORK, SOCIAL_NETWORK = 0, 8
REFERENCE_TIME = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
LOCAL_TZ = ZoneInfo("Europe/Monaco")
HISTORY_DAYS = 90

CAMERA_COLUMNS = (
    "device_id", "name", "owner", "is_social_resource", "access_level", "kind", "camera_type",
    "mount", "address", "mount_height_m", "azimuth_deg", "tilt_deg", "any_direction",
    "lens_model", "sensor_width_mm", "sensor_height_mm", "focal_length_mm", "hfov_deg",
    "resolution_w_px", "resolution_h_px", "ptz_presets", "stream_ref", "status", "source",
    "attributes", "geometry",
)
CHECKPOINT_COLUMNS = (
    "device_id", "name", "road_name", "road_osm_id", "directions", "lanes", "is_entry", "status",
    "source", "attributes", "geometry",
)

ROAD_CAMERA_SPACING_M = {
    "motorway": 90.0, "trunk": 90.0, "primary": 90.0, "secondary": 100.0, "tertiary": 110.0,
    "unclassified": 120.0, "residential": 120.0, "living_street": 120.0,
}
LINK_SPACING_M = 120.0
CHECKPOINT_CLASSES = frozenset(
    ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential")
    + tuple(f"{c}_link" for c in ("motorway", "trunk", "primary", "secondary", "tertiary"))
)
MAJOR_CLASSES = frozenset(("motorway", "trunk", "primary", "secondary", "tertiary"))

# Key-area class -> DORI level its coverage must reach (IEC 62676-4 names). Transport hubs and
# government sites need faces recognised; schools, hospitals, markets and tourist sites a
# person observed; parks and places of worship detected; junctions observed.
REQUIRED_DORI = {
    "transport_hub": "recognise", "government": "recognise", "school": "observe",
    "hospital": "observe", "market": "observe", "tourism": "observe", "junction": "observe",
    "worship": "detect", "park": "detect",
}
MIN_KEY_AREAS = 8
STATUS_P = {"online": 0.90, "offline": 0.05, "fault": 0.02, "unknown": 0.03}
ENTRY_STEP_M = 15.0
CROSSING_MERGE_M = 30.0
MISSING_ENTRIES = 2
FACADE_OFFSET_M = 0.4


class DemoError(ValueError):
    """The OSM extract lacks what the demo generator needs (e.g. administrative areas)."""


@dataclass(frozen=True)
class Lens:
    """A camera model's optics. Sensor size is the active area the stream uses, in mm."""

    model: str
    sensor_width_mm: float
    sensor_height_mm: float
    focal_length_mm: float
    resolution_w_px: int
    resolution_h_px: int
    sensors: int = 1  # panoramic multi-sensor heads: HFOV is sensors x per-sensor HFOV


def hfov_deg(sensor_width_mm: float, focal_length_mm: float, sensors: int = 1) -> float:
    """Horizontal field of view 2·atan(w / 2f) in degrees (times ``sensors``, capped at 360)."""
    return min(360.0, sensors * 2.0 * math.degrees(math.atan(sensor_width_mm /
                                                              (2.0 * focal_length_mm))))


LENSES: dict[str, Lens] = {
    "bullet-2.8": Lens('1/2.8" 2MP 2.8 mm', 5.6, 3.1, 2.8, 1920, 1080),
    "bullet-4": Lens('1/2.8" 4MP 4 mm', 5.6, 3.1, 4.0, 2560, 1440),
    "bullet-6": Lens('1/2.8" 4MP 6 mm', 5.6, 3.1, 6.0, 2560, 1440),
    "bullet-8": Lens('1/2.8" 2MP 8 mm', 5.6, 3.1, 8.0, 1920, 1080),
    "bullet-12": Lens('1/2.8" 4MP 12 mm', 5.6, 3.1, 12.0, 2560, 1440),
    "box-8": Lens('1/1.8" 5MP 8 mm', 7.2, 5.4, 8.0, 2592, 1944),
    "box-12": Lens('1/1.8" 5MP 12 mm', 7.2, 5.4, 12.0, 2592, 1944),
    "dome-2.8-12": Lens('1/2.8" 4MP varifocal dome 2.8-12 mm @4 mm', 5.6, 3.1, 4.0, 2560, 1440),
    "ptz-4.8-120": Lens('1/2.8" 2MP PTZ 25x 4.8-120 mm', 5.6, 3.1, 4.8, 1920, 1080),
    "pano-4x2.8": Lens('4 x 1/2.8" 2MP 2.8 mm panoramic', 5.6, 3.1, 2.8, 1920, 1080, sensors=4),
}
_ROAD_LENSES = ("bullet-4", "bullet-6", "bullet-8", "bullet-12", "box-8", "box-12")
_ROAD_LENS_P = (0.25, 0.3, 0.2, 0.1, 0.1, 0.05)
_SHOP_TYPES = ("Boulangerie", "Pharmacie", "Bijouterie", "Tabac", "Café", "Boutique",
               "Librairie", "Fleuriste", "Opticien", "Épicerie")
_ALARM_KINDS = ("theft", "traffic", "dispute", "fire", "medical", "other")
_PRIORITY_RANGE = {"fire": (1, 2), "medical": (1, 2), "traffic": (2, 4), "theft": (3, 4),
                   "dispute": (3, 5), "other": (4, 5)}
# Relative alarm rate per local hour: low at night, peak in the evening.
_HOURLY = np.array([3, 2, 2, 1, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 6, 7, 8, 9, 9, 8, 7, 5, 4],
                   dtype=float)


@dataclass(frozen=True)
class DemoInventory:
    """Synthetic inventory on a real city; every frame is in EPSG:4326.

    Attributes
    ----------
    jurisdictions
        code, name, level, parent_code, admin_code, geometry (MultiPolygon).
    cameras
        :data:`CAMERA_COLUMNS` (NaN for missing numbers, e.g. an unknown azimuth).
    checkpoints, missing_entry_checkpoints
        :data:`CHECKPOINT_COLUMNS`; the second holds the entry checkpoints deliberately left
        out.
    key_areas
        name, area_class, required_dori, source, geometry (MultiPolygon).
    alarm_points
        code, name, kind, status, source, attributes, geometry (Point).
    alarms
        alarm_point_code, occurred_at (tz-aware), kind, priority, status, description, source,
        geometry (Point).
    metric_crs
        The projected CRS the generator computed in.
    seed
        The seed used.
    """

    jurisdictions: gpd.GeoDataFrame
    cameras: gpd.GeoDataFrame
    checkpoints: gpd.GeoDataFrame
    missing_entry_checkpoints: gpd.GeoDataFrame
    key_areas: gpd.GeoDataFrame
    alarm_points: gpd.GeoDataFrame
    alarms: gpd.GeoDataFrame
    metric_crs: CRS
    seed: int


# --------------------------------------------------------------------------- context


@dataclass
class _City:
    crs: CRS
    city: shapely.Geometry
    stations: gpd.GeoDataFrame  # metric; code, name, geometry
    buildings: gpd.GeoDataFrame  # metric, inside the city
    building_tree: shapely.STRtree
    roads: gpd.GeoDataFrame  # metric, all drivable roads
    named_roads: gpd.GeoDataFrame
    named_tree: shapely.STRtree
    serial: int = 0

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def station_index(self, points: np.ndarray) -> np.ndarray:
        """Index into ``stations`` of the station containing each point, -1 outside."""
        tree = shapely.STRtree(self.stations.geometry.values)
        pts_i, st_i = tree.query(points, predicate="within")
        out = np.full(len(points), -1, dtype=np.intp)
        # Reverse so that the first match wins on shared edges.
        out[pts_i[::-1]] = st_i[::-1]
        return out

    def in_building(self, points: np.ndarray) -> np.ndarray:
        hit, _ = self.building_tree.query(points, predicate="intersects")
        mask = np.zeros(len(points), dtype=bool)
        mask[hit] = True
        return mask

    def address(self, points: np.ndarray, max_m: float = 100.0) -> list[str | None]:
        if len(self.named_roads) == 0 or len(points) == 0:
            return [None] * len(points)
        (pi, ri), dist = self.named_tree.query_nearest(points, return_distance=True,
                                                       all_matches=False)
        names: list[str | None] = [None] * len(points)
        road_names = self.named_roads["name"].to_numpy()
        for p, r, d in zip(pi, ri, dist, strict=True):
            if d <= max_m:
                names[p] = str(road_names[r])
        return names

    def centre_codes(self, points: np.ndarray) -> list[str]:
        idx = self.station_index(points)
        if (idx < 0).any():  # pragma: no cover - every generator filters points to stations
            raise DemoError(f"{int((idx < 0).sum())} device(s) lie outside every station")
        codes = self.stations["code"].to_numpy()
        return [str(codes[i]) for i in idx]


def _true_az(ctx: _City, x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return np.empty(0)
    az = np.round(grid_to_true_azimuth_deg(ctx.crs, x, y, grid), 1)
    return np.mod(az, 360.0)


def _status(rng: np.random.Generator, n: int) -> list[str]:
    return [str(s) for s in rng.choice(list(STATUS_P), size=n, p=list(STATUS_P.values()))]


# --------------------------------------------------------------------------- jurisdictions


def _is_monaco(boundaries: gpd.GeoDataFrame) -> bool:
    return bool(boundaries["name"].isin(["Monaco-Ville", "Monte-Carlo"]).any())


# --------------------------------------------------------------------------- cameras


def _camera_row(ctx: _City, lens_key: str, **fields: Any) -> dict[str, Any]:
    lens = LENSES[lens_key]
    row = dict(
        lens_model=lens.model, sensor_width_mm=lens.sensor_width_mm,
        sensor_height_mm=lens.sensor_height_mm, focal_length_mm=lens.focal_length_mm,
        hfov_deg=round(hfov_deg(lens.sensor_width_mm, lens.focal_length_mm, lens.sensors), 3),
        resolution_w_px=lens.resolution_w_px, resolution_h_px=lens.resolution_h_px,
        owner=None, is_social_resource=False, access_level=0, mount=None, ptz_presets=[],
        any_direction=False, attributes={},
    )
    row.update(fields)
    return row


def _osm_cameras(ctx: _City, cams_m: gpd.GeoDataFrame, rng: np.random.Generator
                 ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if len(cams_m) == 0:
        return rows
    pts = cams_m.geometry.to_numpy()
    inside = ctx.station_index(pts) >= 0
    cams_m = cams_m[inside]
    lens_for = {"fixed": "bullet-4", "dome": "dome-2.8-12", "ptz": "ptz-4.8-120",
                "panoramic": "pano-4x2.8"}
    default_height = {"pole": 5.0, "wall": 4.0, "ceiling": 3.0}
    for cam in cams_m.itertuples(index=False):
        az = float(cam.azimuth_deg)
        has_dir = math.isfinite(az)
        ctype = str(cam.camera_type)
        mount = None if pd.isna(cam.mount) else str(cam.mount)
        height = (float(cam.mount_height_m) if math.isfinite(cam.mount_height_m)
                  else default_height.get(mount or "", 5.0))
        zone = None if pd.isna(cam.zone) else str(cam.zone)
        rows.append(_camera_row(
            ctx, lens_for[ctype],
            name=f"OSM {ctype} camera {cam.osm_id}", kind="community" if zone == "building"
            else "road", camera_type=ctype, mount=mount, mount_height_m=height,
            azimuth_deg=az if has_dir else math.nan,
            tilt_deg=float(rng.integers(16, 41)) / 2.0,
            any_direction=(not has_dir) and ctype in ("dome", "ptz", "panoramic"),
            source="osm", geometry=cam.geometry,
            attributes={"osm_id": cam.osm_id, "osm_tags": dict(cam.tags),
                        "synthetic": ["lens", "tilt_deg"]
                        + ([] if math.isfinite(cam.mount_height_m) else ["mount_height_m"])},
        ))
    return rows


def _road_cameras(ctx: _City, rng: np.random.Generator) -> list[dict[str, Any]]:
    roads = ctx.roads[ctx.roads["road_class"] != "service"]
    clipped = shapely.intersection(roads.geometry.to_numpy(), ctx.city)
    parts, pidx = shapely.get_parts(clipped, return_index=True)
    is_line = shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING
    parts, pidx = parts[is_line], pidx[is_line]
    classes = roads["road_class"].to_numpy()[pidx]
    spacing = np.array([ROAD_CAMERA_SPACING_M.get(str(c), LINK_SPACING_M) for c in classes])
    lengths = shapely.length(parts)
    line_i, dist = sampling.positions_along(lengths, spacing, rng.uniform(0, 1, len(parts))
                                            * spacing)
    lines = parts[line_i]
    bearing = sampling.bearing_at_deg(lines, dist)
    on_line = shapely.line_interpolate_point(lines, dist)
    # Alternate the viewing direction along each way; the camera stands 3-5 m to one side.
    k = np.arange(len(line_i)) - np.searchsorted(line_i, line_i)
    view = np.mod(bearing + np.where(k % 2 == 0, 0.0, 180.0)
                  + rng.normal(0.0, 3.0, len(line_i)), 360.0)
    side = rng.choice([-1.0, 1.0], len(line_i)) * rng.uniform(3.0, 5.0, len(line_i))
    x, y = sampling.offset_xy(shapely.get_x(on_line), shapely.get_y(on_line), bearing, side)
    pts = shapely.points(x, y)
    ok = (ctx.station_index(pts) >= 0) & ~ctx.in_building(pts)
    idx = np.flatnonzero(ok)
    az = _true_az(ctx, x[idx], y[idx], view[idx])
    lens_keys = rng.choice(_ROAD_LENSES, size=len(idx), p=_ROAD_LENS_P)
    heights = np.round(rng.uniform(4.0, 8.0, len(idx)), 1)
    tilts = np.round(rng.uniform(8.0, 20.0, len(idx)) * 2) / 2
    addresses = ctx.address(pts[idx])
    road_names = roads["name"].to_numpy()[pidx[line_i[idx]]]
    road_ids = roads["osm_id"].to_numpy()[pidx[line_i[idx]]]
    rows = []
    for j, i in enumerate(idx):
        rname = road_names[j] if isinstance(road_names[j], str) else None
        label = rname or addresses[j] or str(road_ids[j])
        rows.append(_camera_row(
            ctx, str(lens_keys[j]), name=f"Road camera {label} {j + 1:03d}", kind="road",
            camera_type="fixed", mount="pole", address=rname or addresses[j],
            mount_height_m=float(heights[j]), azimuth_deg=float(az[j]),
            tilt_deg=float(tilts[j]), source="demo", geometry=pts[i],
            attributes={"road_osm_id": str(road_ids[j]), "road_class": str(classes[line_i[i]])},
        ))
    return rows


def _arm_bearings(lines: np.ndarray, x: float, y: float) -> list[float]:
    """Grid bearings of the road arms leaving a junction node."""
    node = shapely.Point(x, y)
    bearings: list[float] = []
    for line in lines:
        d = line.project(node)
        length = line.length
        for sign in (1.0, -1.0):
            d2 = d + sign * min(10.0, length / 2)
            if 0.0 <= d2 <= length and abs(d2 - d) > 0.5:
                p = line.interpolate(d2)
                bearings.append(float(sampling.bearing_deg(p.x - x, p.y - y)))
    # Arms of distinct ways may overlap (a way split at the node): keep distinct directions.
    distinct: list[float] = []
    for b in sorted(bearings):
        if all(abs((b - o + 180) % 360 - 180) > 20 for o in distinct):
            distinct.append(b)
    return distinct


def _junction_cameras(ctx: _City, rng: np.random.Generator, n: int = 30
                      ) -> list[dict[str, Any]]:
    major = ctx.roads[ctx.roads["road_class"].isin(MAJOR_CLASSES)
                      | ctx.roads["road_class"].str.endswith("_link")]
    lines = major.geometry.to_numpy()
    junc = sampling.junctions(lines, min_arms=3)
    pts = shapely.points(junc.x_m, junc.y_m)
    inside = np.flatnonzero(ctx.station_index(pts) >= 0)
    pick = np.sort(rng.choice(inside, size=min(n, len(inside)), replace=False))
    tree = shapely.STRtree(lines)
    rows = []
    for j, i in enumerate(pick):
        x, y = float(junc.x_m[i]), float(junc.y_m[i])
        near = lines[tree.query(shapely.Point(x, y).buffer(0.05), predicate="intersects")]
        arms = _arm_bearings(near, x, y)
        if not arms:
            continue
        # Stand on the corner between two arms, 4 m from the node, outside buildings.
        pos = None
        for a0 in rng.permutation(len(arms)):
            corner = arms[a0] + 45.0
            cx, cy = sampling.offset_xy(x, y, corner, 0.0, 4.0)
            p = shapely.Point(float(cx), float(cy))
            if not ctx.in_building(np.array([p]))[0] and ctx.station_index(np.array([p]))[0] >= 0:
                pos = p
                break
        if pos is None:
            continue
        true_arms = _true_az(ctx, np.full(len(arms), pos.x), np.full(len(arms), pos.y),
                             np.array(arms))
        ctype = "ptz" if rng.random() < 0.5 else "dome"
        tilts = [float(rng.integers(10, 21)) for _ in true_arms]
        presets = [{"name": f"P{k + 1} arm {az:.0f}°", "azimuth_deg": float(az),
                    "tilt_deg": tilts[k]} for k, az in enumerate(true_arms)]
        rows.append(_camera_row(
            ctx, "ptz-4.8-120" if ctype == "ptz" else "dome-2.8-12",
            name=f"Junction {ctype} {j + 1:02d}", kind="road", camera_type=ctype, mount="pole",
            mount_height_m=float(np.round(rng.uniform(6.0, 8.0), 1)),
            azimuth_deg=float(true_arms[0]), tilt_deg=tilts[0],
            any_direction=True, ptz_presets=presets, source="demo", geometry=pos,
            attributes={"junction_arms": int(junc.arms[i]), "home_preset": presets[0]["name"]},
        ))
    return rows


def _facade_cameras(ctx: _City, rng: np.random.Generator, n: int = 100
                    ) -> list[dict[str, Any]]:
    b = ctx.buildings
    geoms = b.geometry.to_numpy()
    edges = gpoly.exterior_edges(geoms, min_length_m=4.0)
    x, y = edges.points_outside(0.5, FACADE_OFFSET_M)
    pts = shapely.points(x, y)
    # The camera must be outside every building and see at least 6 m of open air ahead.
    ahead = shapely.linestrings(
        np.stack([np.stack([x, y], axis=1),
                  np.stack([x + 6.0 * edges.normal_x, y + 6.0 * edges.normal_y], axis=1)],
                 axis=1))
    host_hit = shapely.intersects(geoms[edges.geom_index], ahead)
    ok = ~ctx.in_building(pts) & ~host_hit & (ctx.station_index(pts) >= 0)
    # Prefer facades facing a street: within 25 m of a drivable road.
    road_tree = shapely.STRtree(ctx.roads.geometry.to_numpy())
    near_i, _ = road_tree.query(pts, predicate="dwithin", distance=25.0)
    near = np.zeros(len(pts), dtype=bool)
    near[near_i] = True
    cand = np.flatnonzero(ok & near)
    # One facade per building: shuffle, then keep the first edge of each building.
    cand = cand[rng.permutation(len(cand))]
    _, first = np.unique(edges.geom_index[cand], return_index=True)
    chosen = cand[np.sort(first)]
    chosen = np.sort(rng.choice(chosen, size=min(n, len(chosen)), replace=False))
    az = _true_az(ctx, x[chosen], y[chosen], edges.outward_bearing_deg[chosen])
    addresses = ctx.address(pts[chosen])
    names = b["name"].to_numpy()
    rows = []
    for j, e in enumerate(chosen):
        social = rng.random() < 0.4
        bname = names[edges.geom_index[e]]
        street = addresses[j] or "Monaco"
        if social:
            owner = f"Shop {rng.choice(_SHOP_TYPES)} {street}"
        else:
            owner = f"Résidence {bname}" if isinstance(bname, str) else f"Résidence {street}"
        rows.append(_camera_row(
            ctx, "bullet-2.8" if rng.random() < 0.6 else "dome-2.8-12",
            name=f"{owner} camera", owner=owner, is_social_resource=social,
            access_level=int(rng.integers(1, 4)) if social else 0,
            kind="social" if social else "community",
            camera_type="fixed" if rng.random() < 0.8 else "dome", mount="wall",
            address=addresses[j], mount_height_m=float(np.round(rng.uniform(2.5, 4.0), 1)),
            azimuth_deg=float(az[j]), tilt_deg=float(rng.integers(20, 51)) / 2.0,
            source="demo", geometry=pts[e],
            attributes={"host_building_osm_id": str(b["osm_id"].iloc[edges.geom_index[e]])},
        ))
    return rows


def _high_point_cameras(ctx: _City, rng: np.random.Generator) -> list[dict[str, Any]]:
    b = ctx.buildings
    reps = shapely.point_on_surface(b.geometry.to_numpy())
    st = ctx.station_index(reps)
    district = np.array([c[:6] if i >= 0 else "" for c, i in
                         zip(ctx.stations["code"].to_numpy()[st], st, strict=True)])
    ok = (b["height_m"].to_numpy() >= 27.0) & (b["height_m"].to_numpy() <= 57.0) & (st >= 0)
    rows = []
    for k, d in enumerate(sorted(set(district[ok]))):
        cand = np.flatnonzero(ok & (district == d))
        best = cand[np.argmax(b["height_m"].to_numpy()[cand])]
        ctype = "panoramic" if k % 2 == 0 else "ptz"
        presets = [] if ctype == "panoramic" else [
            {"name": f"P{i + 1} {az}°", "azimuth_deg": float(az), "tilt_deg": 15.0}
            for i, az in enumerate((0, 90, 180, 270))]
        bname = b["name"].iloc[best]
        label = bname if isinstance(bname, str) else b["osm_id"].iloc[best]
        rows.append(_camera_row(
            ctx, "pano-4x2.8" if ctype == "panoramic" else "ptz-4.8-120",
            name=f"High point {label}", kind="high_point", camera_type=ctype, mount="roof",
            mount_height_m=float(b["height_m"].iloc[best]) + 3.0, azimuth_deg=math.nan,
            tilt_deg=float(rng.integers(10, 26)), any_direction=True, ptz_presets=presets,
            source="demo", geometry=reps[best],
            attributes={"host_building_osm_id": str(b["osm_id"].iloc[best])},
        ))
    return rows


def _finish_cameras(ctx: _City, rows: list[dict[str, Any]], rng: np.random.Generator
                    ) -> gpd.GeoDataFrame:
    pts = np.array([r["geometry"] for r in rows], dtype=object)
    codes = ctx.centre_codes(pts)
    addresses = ctx.address(pts)
    statuses = _status(rng, len(rows))
    for r, code, addr, status in zip(rows, codes, addresses, statuses, strict=True):
        net = SOCIAL_NETWORK if r["is_social_resource"] else POLICE_NETWORK
        r["device_id"] = make_device_id(str(code), INDUSTRY, IP_CAMERA, net, ctx.next_serial())
        r.setdefault("address", addr)
        if r["address"] is None:
            r["address"] = addr
        r["stream_ref"] = f"demo://{r['device_id']}"
        r["status"] = status
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=ctx.crs)
    frame = frame[list(CAMERA_COLUMNS)]
    for col in ("mount_height_m", "azimuth_deg", "tilt_deg", "sensor_width_mm",
                "sensor_height_mm", "focal_length_mm", "hfov_deg"):
        frame[col] = frame[col].astype(float)
    for col in ("access_level", "resolution_w_px", "resolution_h_px"):
        frame[col] = frame[col].astype(int)
    for col in ("is_social_resource", "any_direction"):
        frame[col] = frame[col].astype(bool)
    return frame


# --------------------------------------------------------------------------- checkpoints


def _entry_checkpoints(ctx: _City, rng: np.random.Generator
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    roads = ctx.roads[ctx.roads["road_class"].isin(CHECKPOINT_CLASSES)].reset_index(drop=True)
    lines = roads.geometry.to_numpy()
    cr = sampling.boundary_crossings(lines, ctx.city)
    # Merge crossings of one road closer than CROSSING_MERGE_M (already sorted per road).
    keep = np.ones(len(cr.line_index), dtype=bool)
    last_d = -np.inf
    for k in range(len(cr.line_index)):
        if k > 0 and cr.line_index[k] == cr.line_index[k - 1] and \
                cr.distance_m[k] - last_d < CROSSING_MERGE_M:
            keep[k] = False
        else:
            last_d = cr.distance_m[k]
    li, dist, enters = cr.line_index[keep], cr.distance_m[keep], cr.enters[keep]
    pts, _ = sampling.step_inside(lines[li], dist, ctx.city, (ENTRY_STEP_M, 10.0, 20.0, 5.0,
                                                             2.0))
    rows: list[dict[str, Any]] = []
    for k in range(len(li)):
        if pts[k] is None:
            continue
        road = roads.iloc[li[k]]
        name = road["name"] if isinstance(road["name"], str) else None
        directions = (["in"] if enters[k] else ["out"]) if road["oneway"] else ["in", "out"]
        lanes = int(road["lanes"]) if not pd.isna(road["lanes"]) else 2
        rows.append(dict(
            name=f"Entry {name or road['osm_id']}", road_name=name,
            road_osm_id=str(road["osm_id"]), directions=directions, lanes=lanes,
            is_entry=True, source="demo", geometry=pts[k],
            attributes={"road_class": str(road["road_class"]),
                        "crossing_distance_m": round(float(dist[k]), 2)},
        ))
    missing_idx = set(rng.choice(len(rows), size=min(MISSING_ENTRIES, len(rows)),
                                 replace=False).tolist()) if rows else set()
    present = [r for i, r in enumerate(rows) if i not in missing_idx]
    missing = [r for i, r in enumerate(rows) if i in missing_idx]
    return present, missing


def _internal_checkpoints(ctx: _City, n: int = 4) -> list[dict[str, Any]]:
    major = ctx.roads[ctx.roads["road_class"].isin(("motorway", "trunk", "primary",
                                                    "secondary"))].reset_index(drop=True)
    lines = major.geometry.to_numpy()
    junc = sampling.junctions(lines, min_arms=3)
    pts = shapely.points(junc.x_m, junc.y_m)
    tree = shapely.STRtree(lines)
    rows: list[dict[str, Any]] = []
    used: list[shapely.Point] = []
    for i in range(len(pts)):
        if len(rows) >= n:
            break
        p = pts[i]
        if ctx.station_index(np.array([p]))[0] < 0 or any(p.distance(u) < 150 for u in used):
            continue
        near_i = tree.query(p.buffer(0.05), predicate="intersects")
        near = major.iloc[np.sort(near_i)]
        arms = _arm_bearings(near.geometry.to_numpy(), p.x, p.y)
        compass = sorted({_compass8(float(a)) for a in arms})
        if len(compass) < 3:  # a way merely split at this node, not a junction
            continue
        names = sorted({n for n in near["name"] if isinstance(n, str)})
        first = near.iloc[0]
        rows.append(dict(
            name=f"Junction {' / '.join(names) or first['osm_id']}",
            road_name=names[0] if names else None, road_osm_id=str(first["osm_id"]),
            directions=compass, lanes=int(first["lanes"]) if not pd.isna(first["lanes"])
            else 2, is_entry=False, source="demo", geometry=p,
            attributes={"junction_arms": int(junc.arms[i])},
        ))
        used.append(p)
    return rows


def _compass8(bearing: float) -> str:
    return ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[int(((bearing + 22.5) % 360) // 45)]


def _checkpoint_frame(ctx: _City, rows: list[dict[str, Any]], rng: np.random.Generator
                      ) -> gpd.GeoDataFrame:
    if rows:
        codes = ctx.centre_codes(np.array([r["geometry"] for r in rows], dtype=object))
        for r, code, status in zip(rows, codes, _status(rng, len(rows)), strict=True):
            r["device_id"] = make_device_id(str(code), INDUSTRY, IP_CAMERA, POLICE_NETWORK,
                                            ctx.next_serial())
            r["status"] = status
    frame = gpd.GeoDataFrame(rows or {c: [] for c in CHECKPOINT_COLUMNS}, geometry="geometry",
                             crs=ctx.crs)
    return frame[list(CHECKPOINT_COLUMNS)]


# --------------------------------------------------------------------------- key areas, alarms


def _key_areas(ctx: _City, landmarks_m: gpd.GeoDataFrame, rng: np.random.Generator
               ) -> gpd.GeoDataFrame:
    geoms = landmarks_m.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    buffered = shapely.buffer(geoms, np.where(is_point, 60.0, 20.0))
    clipped = gpoly.as_multipolygons(shapely.intersection(buffered, ctx.city))
    frame = gpd.GeoDataFrame(
        {"name": landmarks_m["name"].astype(str).to_numpy(),
         "area_class": landmarks_m["category"].astype(str).to_numpy()},
        geometry=gpd.GeoSeries(list(clipped), crs=ctx.crs), crs=ctx.crs,
    )
    frame = frame[frame.geometry.notna()]
    # A landmark mapped both as node and as area becomes one key area.
    frame = frame.dissolve(by=["name", "area_class"], as_index=False, sort=True)
    frame["geometry"] = gpoly.as_multipolygons(frame.geometry.to_numpy())
    if len(frame) < MIN_KEY_AREAS:
        junc = sampling.junctions(ctx.roads.geometry.to_numpy(), min_arms=4)
        pts = shapely.points(junc.x_m, junc.y_m)
        pts = pts[ctx.station_index(pts) >= 0][: MIN_KEY_AREAS - len(frame)]
        extra = gpoly.as_multipolygons(shapely.intersection(shapely.buffer(pts, 40.0), ctx.city))
        frame = pd.concat([frame, gpd.GeoDataFrame(
            {"name": [f"Junction {i + 1}" for i in range(len(extra))],
             "area_class": ["junction"] * len(extra)},
            geometry=gpd.GeoSeries(list(extra), crs=ctx.crs), crs=ctx.crs)], ignore_index=True)
    frame["required_dori"] = frame["area_class"].map(REQUIRED_DORI).fillna("detect")
    frame["source"] = "demo"
    return frame[["name", "area_class", "required_dori", "source", "geometry"]].reset_index(
        drop=True)


def _road_points(ctx: _City, rng: np.random.Generator, n: int, side_m: float = 3.0
                 ) -> np.ndarray:
    """Random points beside roads inside the city and outside buildings (length-weighted)."""
    lines = shapely.intersection(ctx.roads.geometry.to_numpy(), ctx.city)
    parts = shapely.get_parts(lines)
    parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING]
    lengths = shapely.length(parts)
    out: list[Any] = []
    while len(out) < n:
        i = rng.choice(len(parts), size=n, p=lengths / lengths.sum())
        d = rng.uniform(0, 1, n) * lengths[i]
        on = shapely.line_interpolate_point(parts[i], d)
        b = sampling.bearing_at_deg(parts[i], d)
        x, y = sampling.offset_xy(shapely.get_x(on), shapely.get_y(on), b,
                                  rng.choice([-side_m, side_m], n))
        pts = shapely.points(x, y)
        ok = (ctx.station_index(pts) >= 0) & ~ctx.in_building(pts)
        out.extend(pts[ok])
    return np.array(out[:n], dtype=object)


def _alarm_points(ctx: _City, key_areas: gpd.GeoDataFrame, rng: np.random.Generator
                  ) -> gpd.GeoDataFrame:
    rows: list[dict[str, Any]] = []
    areas = key_areas.geometry.to_numpy()
    pick = np.sort(rng.choice(len(areas), size=min(20, len(areas)), replace=False))
    for i in pick:
        for _ in range(20):
            xy = gpoly.random_points_in(areas[i], 1, rng)[0]
            p = shapely.Point(xy)
            if ctx.station_index(np.array([p]))[0] >= 0 and not ctx.in_building(
                    np.array([p]))[0]:
                rows.append(dict(name=f"SOS column {key_areas['name'].iloc[i]}",
                                 kind="sos_column", geometry=p,
                                 attributes={"key_area": str(key_areas["name"].iloc[i])}))
                break
    road_pts = _road_points(ctx, rng, 40 - len(rows))
    addresses = ctx.address(road_pts)
    for k, p in enumerate(road_pts):
        kind = ("sos_column", "intrusion", "fire")[k % 3]
        rows.append(dict(name=f"{kind.replace('_', ' ').capitalize()} {addresses[k] or ''}"
                         .strip(), kind=kind, geometry=p, attributes={}))
    for k, (r, s) in enumerate(zip(rows, _status(rng, len(rows)), strict=True), start=1):
        r["code"] = f"AP-{k:04d}"
        r["status"] = s
        r["source"] = "demo"
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=ctx.crs)
    return frame[["code", "name", "kind", "status", "source", "attributes", "geometry"]]


def _alarms(ctx: _City, key_areas: gpd.GeoDataFrame, alarm_points: gpd.GeoDataFrame,
            rng: np.random.Generator, n: int = 600) -> gpd.GeoDataFrame:
    n_point = int(n * 0.35)
    n_call = n - n_point
    # 110 calls: clustered (sigma 30 m) around key areas and road points.
    centres = np.concatenate([
        shapely.point_on_surface(key_areas.geometry.to_numpy()),
        _road_points(ctx, rng, 60),
    ])
    call_pts: list[Any] = []
    while len(call_pts) < n_call:
        c = centres[rng.integers(0, len(centres), n_call)]
        x = shapely.get_x(c) + rng.normal(0, 30.0, n_call)
        y = shapely.get_y(c) + rng.normal(0, 30.0, n_call)
        pts = shapely.points(x, y)
        call_pts.extend(pts[ctx.station_index(pts) >= 0])
    call_pts = call_pts[:n_call]
    ap_i = rng.integers(0, len(alarm_points), n_point)
    ap_kind = alarm_points["kind"].to_numpy()[ap_i]
    kinds: list[str] = []
    for k in ap_kind:
        if k == "fire":
            kinds.append("fire")
        elif k == "intrusion":
            kinds.append(str(rng.choice(["theft", "other"], p=[0.8, 0.2])))
        else:
            kinds.append(str(rng.choice(["theft", "dispute", "medical", "other"])))
    kinds += [str(k) for k in rng.choice(_ALARM_KINDS, size=n_call,
                                         p=[0.3, 0.25, 0.2, 0.03, 0.12, 0.1])]
    geoms = np.concatenate([alarm_points.geometry.to_numpy()[ap_i],
                            np.array(call_pts, dtype=object)])
    codes = list(alarm_points["code"].to_numpy()[ap_i]) + [None] * n_call
    # Times: uniform day, local hour by the diurnal profile (rejection on local time).
    times: list[dt.datetime] = []
    start = REFERENCE_TIME - dt.timedelta(days=HISTORY_DAYS)
    while len(times) < n:
        t = start + dt.timedelta(seconds=float(rng.uniform(0, HISTORY_DAYS * 86400)))
        if rng.random() < _HOURLY[t.astimezone(LOCAL_TZ).hour] / _HOURLY.max():
            times.append(t.astimezone(LOCAL_TZ).replace(microsecond=0))
    addresses = ctx.address(geoms)
    rows = []
    for i in range(n):
        lo, hi = _PRIORITY_RANGE[kinds[i]]
        age = REFERENCE_TIME - times[i]
        if age < dt.timedelta(hours=24):
            status = str(rng.choice(["open", "handling"]))
        else:
            status = "handling" if rng.random() < 0.02 else "closed"
        where = addresses[i] or "an unnamed place"
        rows.append(dict(alarm_point_code=codes[i], occurred_at=times[i], kind=kinds[i],
                         priority=int(rng.integers(lo, hi + 1)), status=status,
                         description=f"{kinds[i].capitalize()} reported near {where}",
                         source="demo", geometry=geoms[i]))
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=ctx.crs)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_convert(LOCAL_TZ)
    return frame.sort_values("occurred_at", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- entry point


def _none_for_missing(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Text columns as object dtype with None for missing values (not pandas' NaN)."""
    for col in frame.columns:
        if col == frame.geometry.name or pd.api.types.is_numeric_dtype(frame[col]):
            continue
        if pd.api.types.is_string_dtype(frame[col]) or frame[col].dtype == object:
            values = frame[col].tolist()
            frame[col] = pd.Series([None if _is_missing(v) else v for v in values],
                                   dtype=object, index=frame.index)
    return frame


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def build_demo(extract: OsmExtract, seed: int = 28181) -> DemoInventory:
    """Generate the seeded demo inventory on the city of an OSM extract.

    Parameters
    ----------
    extract
        Layers read by :func:`importers.osm.read_osm` (EPSG:4326).
    seed
        Seed of every random choice; the same seed gives identical frames.

    Returns
    -------
    DemoInventory
        Frames in EPSG:4326 (see the module docstring for the rules).

    Raises
    ------
    DemoError
        When the extract has no usable administrative areas, roads or buildings.
    """
    if len(extract.boundaries) == 0:
        raise DemoError(f"{extract.source}: no boundary=administrative areas to build a city")
    if len(extract.roads) == 0 or len(extract.buildings) == 0:
        raise DemoError(f"{extract.source}: the demo needs drivable roads and buildings")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12)]
    crs = metric_crs_for(extract.boundaries)
    boundaries_m = extract.boundaries.to_crs(crs)
    try:
        jur_m, city = jurisdictions_from_boundaries(
            boundaries_m,
            city_code=CITY_CODE,
            city_name="Monaco" if _is_monaco(boundaries_m) else "Demo City",
            stations=True,
        )
    except JurisdictionError as exc:
        raise DemoError(str(exc)) from exc
    stations = jur_m[jur_m["level"] == "station"].reset_index(drop=True)
    shapely.prepare(city)
    buildings = extract.buildings.to_crs(crs)
    buildings = buildings[buildings.intersects(city)].reset_index(drop=True)
    roads = extract.roads.to_crs(crs)
    named = roads[roads["name"].notna()].reset_index(drop=True)
    ctx = _City(crs=crs, city=city, stations=stations, buildings=buildings,
                building_tree=shapely.STRtree(buildings.geometry.to_numpy()), roads=roads,
                named_roads=named, named_tree=shapely.STRtree(named.geometry.to_numpy()))

    rows = (_osm_cameras(ctx, extract.cameras.to_crs(crs), streams[0])
            + _road_cameras(ctx, streams[1])
            + _junction_cameras(ctx, streams[2])
            + _facade_cameras(ctx, streams[3])
            + _high_point_cameras(ctx, streams[4]))
    cameras = _finish_cameras(ctx, rows, streams[5])
    present, missing = _entry_checkpoints(ctx, streams[6])
    checkpoints = _checkpoint_frame(ctx, present + _internal_checkpoints(ctx), streams[7])
    missing_frame = _checkpoint_frame(ctx, missing, streams[7])
    key_areas = _key_areas(ctx, extract.landmarks.to_crs(crs), streams[8])
    alarm_points = _alarm_points(ctx, key_areas, streams[9])
    alarms = _alarms(ctx, key_areas, alarm_points, streams[10])

    def wgs(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return _none_for_missing(frame.to_crs(WGS84).reset_index(drop=True))

    return DemoInventory(
        jurisdictions=wgs(jur_m), cameras=wgs(cameras), checkpoints=wgs(checkpoints),
        missing_entry_checkpoints=wgs(missing_frame), key_areas=wgs(key_areas),
        alarm_points=wgs(alarm_points), alarms=wgs(alarms), metric_crs=crs, seed=seed,
    )
