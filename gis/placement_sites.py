"""Where a new camera could go: candidate mount sites and, per site, configurations
(azimuth x lens, with a tilt that suits the lens) for the placement solvers.

Sites (metric CRS, metres): street-side poles at a spacing along roads (offset to the kerb
side), building facades and corners (just outside the wall, facing away from it), roofs of tall
buildings (the roof edge, a mast above the roof), and existing cameras (their pole or wall). No
site is inside a building footprint; sites can be limited to an area (a jurisdiction) and kept
out of no-mount polygons (water, ...). Azimuths are chosen in grid bearings and stored from
TRUE north (meridian convergence applied), as the inventory stores them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from gis import sampling
from gis.crs import grid_to_true_azimuth_deg
from gis.fov import DORI_PPM, LEVELS, fov_deg, max_slant_range_m
from gis.polygons import exterior_edges

__all__ = [
    "DEFAULT_LENSES",
    "SITE_KINDS",
    "LensOption",
    "PlacementInputError",
    "candidate_configs",
    "candidate_sites",
]

FloatArray = npt.NDArray[np.float64]

#: Kinds of candidate site.
SITE_KINDS: tuple[str, ...] = ("pole", "facade", "corner", "roof", "existing")


class PlacementInputError(ValueError):
    """Inputs that cannot give candidates or demand (CRS, columns, parameters)."""


@dataclass(frozen=True)
class LensOption:
    """A lens a new camera may get. Sensor size is the active area the stream uses (mm).

    ``design_level`` is the DORI level the tilt is chosen for: the top edge of the frame points
    at the ground range where that level's pixel density runs out, so the level's whole band
    is in frame and the frame's bottom comes as close to the pole as the VFOV allows.
    """

    key: str
    model: str
    sensor_width_mm: float
    sensor_height_mm: float
    focal_length_mm: float
    resolution_w_px: int
    resolution_h_px: int
    design_level: str = "observe"

    @property
    def hfov_deg(self) -> float:
        return float(fov_deg(self.sensor_width_mm, self.sensor_height_mm, self.focal_length_mm)[0])

    @property
    def vfov_deg(self) -> float:
        return float(fov_deg(self.sensor_width_mm, self.sensor_height_mm, self.focal_length_mm)[1])

    def slant_m(self, level: str) -> float:
        """Largest slant distance (m) at which ``level`` is reached (pinhole, on axis)."""
        return float(max_slant_range_m(self.resolution_w_px, self.hfov_deg, DORI_PPM[level]))


#: Default lens options of new cameras: common 1/2.8" 4 MP bullets.
DEFAULT_LENSES: tuple[LensOption, ...] = (
    LensOption("4mm", '1/2.8" 4MP 4 mm', 5.6, 3.1, 4.0, 2560, 1440, "observe"),
    LensOption("8mm", '1/2.8" 4MP 8 mm', 5.6, 3.1, 8.0, 2560, 1440, "recognise"),
    LensOption("12mm", '1/2.8" 4MP 12 mm', 5.6, 3.1, 12.0, 2560, 1440, "observe"),
)


def _check_metric(frame: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> CRS:
    if frame.crs is None:
        raise PlacementInputError(f"{what} has no CRS; project it to a metric CRS first")
    crs = CRS.from_user_input(frame.crs)
    if not crs.is_projected:
        raise PlacementInputError(f"{what} is in {crs.name!r}, not a projected metric CRS")
    return crs


def _footprints(buildings: gpd.GeoDataFrame) -> tuple[npt.NDArray[np.object_], FloatArray]:
    geoms = np.asarray(buildings.geometry.to_numpy(), dtype=object)
    heights = (buildings["height_m"].to_numpy(dtype=float) if "height_m" in buildings.columns
               else np.full(len(geoms), np.nan))  # fmt: skip
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, heights = geoms[ok], heights[ok]
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms, heights


def _poles(roads: gpd.GeoDataFrame, spacing_m: float, kerb_m: float | None
           ) -> tuple[FloatArray, FloatArray]:
    lines = np.asarray(roads.geometry.to_numpy(), dtype=object)
    if len(lines) == 0:
        return np.empty(0), np.empty(0)
    lengths = shapely.length(lines)
    li, d = sampling.positions_along(lengths, spacing_m, spacing_m / 2.0)
    if len(li) == 0:
        return np.empty(0), np.empty(0)
    pts = shapely.line_interpolate_point(lines[li], d)
    bearing = sampling.bearing_at_deg(lines[li], d)
    if kerb_m is None:
        lanes = (pd.to_numeric(roads["lanes"], errors="coerce").to_numpy(dtype=float)
                 if "lanes" in roads.columns else np.full(len(lines), np.nan))  # fmt: skip
        lanes = np.where(np.isfinite(lanes) & (lanes > 0), lanes, 2.0)
        off = lanes[li] * 3.25 / 2.0 + 1.0  # half the carriageway plus a pavement strip
    else:
        off = np.full(len(li), float(kerb_m))
    # alternate sides along a road, so a street gets poles on both kerbs
    k = np.arange(len(li)) - np.searchsorted(li, li)
    side = np.where(k % 2 == 0, 1.0, -1.0)
    return sampling.offset_xy(shapely.get_x(pts), shapely.get_y(pts), bearing, side * off)


def _walls(footprints: npt.NDArray[np.object_], spacing_m: float, offset_m: float,
           min_edge_m: float) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.intp]]:
    """Points along facades (outside the wall), their outward bearing and building index."""
    e = exterior_edges(footprints, min_length_m=min_edge_m)
    n = np.maximum(1, np.floor(e.length_m / spacing_m)).astype(np.intp)
    edge = np.repeat(np.arange(len(n)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    frac = (k + 0.5) / n[edge]
    x = e.x0[edge] + frac * (e.x1[edge] - e.x0[edge]) + offset_m * e.normal_x[edge]
    y = e.y0[edge] + frac * (e.y1[edge] - e.y0[edge]) + offset_m * e.normal_y[edge]
    return x, y, e.outward_bearing_deg[edge], e.geom_index[edge]


def _corners(footprints: npt.NDArray[np.object_], offset_m: float, min_turn_deg: float,
             min_edge_m: float) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.intp]]:
    """Convex corners of footprints: a point outside on the bisector, its bearing, building."""
    parts, part_of = shapely.get_parts(footprints, return_index=True)
    rings = shapely.get_exterior_ring(parts)
    ccw = shapely.is_ccw(rings)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    xs, ys, bs, owners = [], [], [], []
    # rings are few (a city has ~1e5); the per-ring arithmetic below is vectorised
    starts = np.searchsorted(ring_of, np.arange(len(rings)))
    ends = np.searchsorted(ring_of, np.arange(len(rings)), side="right")
    for r in range(len(rings)):
        c = coords[starts[r]:ends[r] - 1]  # drop the closing vertex
        if len(c) < 3:
            continue
        e_in = c - np.roll(c, 1, axis=0)  # edge arriving at each vertex
        e_out = np.roll(c, -1, axis=0) - c
        l_in, l_out = np.hypot(*e_in.T), np.hypot(*e_out.T)
        ok = (l_in >= min_edge_m) & (l_out >= min_edge_m)
        with np.errstate(invalid="ignore", divide="ignore"):
            u_in, u_out = e_in / l_in[:, None], e_out / l_out[:, None]
        cross = u_in[:, 0] * u_out[:, 1] - u_in[:, 1] * u_out[:, 0]
        turn = np.degrees(np.arccos(np.clip((u_in * u_out).sum(axis=1), -1.0, 1.0)))
        convex = (cross > 0) if ccw[r] else (cross < 0)
        keep = ok & convex & (turn >= min_turn_deg)
        if not keep.any():
            continue
        sign = 1.0 if ccw[r] else -1.0
        n_in = sign * np.stack([u_in[:, 1], -u_in[:, 0]], axis=1)  # outward normals
        n_out = sign * np.stack([u_out[:, 1], -u_out[:, 0]], axis=1)
        bis = n_in + n_out
        bis /= np.maximum(np.hypot(*bis.T), 1e-12)[:, None]
        # offset along the bisector so that both walls are offset_m away
        half = np.radians(turn) / 2.0
        dist = offset_m / np.maximum(np.cos(half), 0.2)
        p = c + bis * dist[:, None]
        xs.append(p[keep, 0])
        ys.append(p[keep, 1])
        bs.append(sampling.bearing_deg(bis[keep, 0], bis[keep, 1]))
        owners.append(np.full(int(keep.sum()), part_of[r], dtype=np.intp))
    if not xs:
        return np.empty(0), np.empty(0), np.empty(0), np.empty(0, dtype=np.intp)
    return (np.concatenate(xs), np.concatenate(ys), np.concatenate(bs),
            np.concatenate(owners))  # fmt: skip


def candidate_sites(
    *,
    roads: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    cameras: gpd.GeoDataFrame | None = None,
    area: shapely.Geometry | None = None,
    no_mount: Sequence[shapely.Geometry] | None = None,
    near: npt.ArrayLike | None = None,
    reach_m: float = 100.0,
    pole_spacing_m: float = 30.0,
    kerb_offset_m: float | None = None,
    facade_spacing_m: float = 25.0,
    wall_offset_m: float = 0.5,
    min_edge_m: float = 4.0,
    min_corner_turn_deg: float = 45.0,
    roof_min_height_m: float = 25.0,
    pole_height_m: float = 6.0,
    facade_height_m: float = 4.5,
    roof_mast_m: float = 3.0,
) -> gpd.GeoDataFrame:
    """Places where a camera may be mounted.

    Parameters
    ----------
    roads
        Drivable roads (LineString ``geometry``, optional ``lanes``), metric CRS.
    buildings
        Footprints (``geometry``, ``height_m`` in metres), same CRS.
    cameras
        Existing cameras (``camera_id``, Point ``geometry``, optional ``mount_height_m``),
        same CRS: their mounts are offered again (a second camera or a re-aim there). A camera
        surveyed inside a footprint is offered at the nearest point outside it.
    area
        Only sites covered by this (Multi)Polygon (the jurisdiction), same CRS.
    no_mount
        Polygons where nothing may be mounted (water, rail, private ground), same CRS.
    near, reach_m
        Points (shapely, same CRS): only sites within ``reach_m`` metres of one of them are
        kept (a camera farther from all demand cannot cover any).
    pole_spacing_m, kerb_offset_m
        Poles every ``pole_spacing_m`` along each road, alternately left and right, at
        ``kerb_offset_m`` from the centre line (default: lanes x 3.25 m / 2 + 1 m; 2 lanes
        when unknown).
    facade_spacing_m, wall_offset_m, min_edge_m, min_corner_turn_deg
        Facade sites every ``facade_spacing_m`` along walls of at least ``min_edge_m``, and
        convex corners turning at least ``min_corner_turn_deg``; all ``wall_offset_m`` outside
        the wall.
    roof_min_height_m, roof_mast_m
        Buildings at least this tall offer their roof edge (corners and facade points) as
        high-point sites, mounted ``roof_mast_m`` above the roof.
    pole_height_m, facade_height_m
        Mount heights (m above ground) of pole and facade/corner sites (a facade site is never
        above its building's roof).

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id`` (str, unique), ``kind`` (one of :data:`SITE_KINDS`), ``mount_height_m``,
        ``facing_deg`` (grid bearing away from the wall, NaN for poles and existing cameras),
        ``building_index`` (row of ``buildings`` the site is on, -1 for none), ``source_id``
        (the existing camera's id, else None), Point ``geometry``; CRS of ``buildings``.
        Never inside a footprint, inside ``area`` when given, outside ``no_mount``.

    Raises
    ------
    PlacementInputError
        On a missing or geographic CRS, CRS mismatch, a missing ``height_m`` or a
        non-positive spacing.
    """
    crs = _check_metric(buildings, "buildings")
    if _check_metric(roads, "roads") != crs:
        raise PlacementInputError("roads and buildings must share one CRS")
    if "height_m" not in buildings.columns:
        raise PlacementInputError("buildings need a height_m column (metres)")
    for name, v in (("pole_spacing_m", pole_spacing_m), ("facade_spacing_m", facade_spacing_m),
                    ("wall_offset_m", wall_offset_m)):  # fmt: skip
        if not (math.isfinite(v) and v > 0):
            raise PlacementInputError(f"{name} must be a positive number of metres, not {v!r}")
    foot, height = _footprints(buildings)
    bidx = np.flatnonzero(~(shapely.is_missing(buildings.geometry.to_numpy())
                            | shapely.is_empty(buildings.geometry.to_numpy())))  # fmt: skip
    parts: list[pd.DataFrame] = []

    def add(kind: str, x: FloatArray, y: FloatArray, mount: FloatArray, facing: FloatArray,
            building: npt.NDArray[np.intp], source: npt.ArrayLike | None = None) -> None:
        parts.append(pd.DataFrame({
            "kind": kind, "x": x, "y": y, "mount_height_m": mount, "facing_deg": facing,
            "building_index": building,
            "source_id": (np.full(len(x), None, dtype=object) if source is None
                          else np.asarray(source, dtype=object)),
        }))  # fmt: skip

    px, py = _poles(roads, pole_spacing_m, kerb_offset_m)
    add("pole", px, py, np.full(len(px), pole_height_m), np.full(len(px), np.nan),
        np.full(len(px), -1, dtype=np.intp))
    if len(foot):
        wx, wy, wb, wi = _walls(foot, facade_spacing_m, wall_offset_m, min_edge_m)
        cx, cy, cb, ci = _corners(foot, wall_offset_m, min_corner_turn_deg, min_edge_m)
        for kind, x, y, b, i in (("facade", wx, wy, wb, wi), ("corner", cx, cy, cb, ci)):
            h = height[i]
            add(kind, x, y, np.minimum(facade_height_m, np.where(np.isfinite(h), h, 1e9)), b,
                bidx[i])
            tall = np.isfinite(h) & (h >= roof_min_height_m)
            add("roof", x[tall], y[tall], h[tall] + roof_mast_m, b[tall], bidx[i[tall]])
    if cameras is not None and len(cameras):
        if _check_metric(cameras, "cameras") != crs:
            raise PlacementInputError("cameras and buildings must share one CRS")
        pts = np.asarray(cameras.geometry.to_numpy(), dtype=object)
        have = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
        pts = pts[have]
        cam_ids = cameras["camera_id"].to_numpy(dtype=object)[have]
        mount = (pd.to_numeric(cameras["mount_height_m"], errors="coerce").to_numpy(dtype=float)
                 [have] if "mount_height_m" in cameras.columns
                 else np.full(len(pts), np.nan))  # fmt: skip
        mount = np.where(np.isfinite(mount) & (mount > 0), mount, pole_height_m)
        ex, ey = shapely.get_x(pts), shapely.get_y(pts)
        if len(foot):
            tree = shapely.STRtree(foot)
            ci_, bi_ = tree.query(pts, predicate="intersects")
            if len(ci_):
                # surveyed on/inside a wall: the nearest point outside that footprint
                ring = shapely.boundary(foot[bi_])
                near_pt = shapely.shortest_line(pts[ci_], ring)
                a = shapely.get_point(near_pt, 1)
                dx, dy = shapely.get_x(a) - ex[ci_], shapely.get_y(a) - ey[ci_]
                d = np.maximum(np.hypot(dx, dy), 1e-9)
                ex[ci_] = shapely.get_x(a) + wall_offset_m * dx / d
                ey[ci_] = shapely.get_y(a) + wall_offset_m * dy / d
        add("existing", ex, ey, mount, np.full(len(ex), np.nan), np.full(len(ex), -1, np.intp),
            cam_ids)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["kind", "x", "y", "mount_height_m", "facing_deg", "building_index",
                 "source_id"])  # fmt: skip
    pts = shapely.points(frame["x"].to_numpy(dtype=float), frame["y"].to_numpy(dtype=float))
    keep = np.ones(len(pts), dtype=bool)
    if len(foot) and len(pts):
        hit, _ = shapely.STRtree(foot).query(pts, predicate="intersects")
        keep[hit] = False
    if area is not None and len(pts):
        shapely.prepare(area)
        keep &= shapely.covers(area, pts)
    for poly in no_mount or ():
        keep &= ~shapely.intersects(poly, pts)
    if near is not None and len(pts):
        targets = np.asarray(near, dtype=object)
        close = np.zeros(len(pts), dtype=bool)
        if len(targets):
            si, _ = shapely.STRtree(targets).query(pts, predicate="dwithin", distance=reach_m)
            close[si] = True
        keep &= close
    frame = frame[keep].reset_index(drop=True)
    counters = frame.groupby("kind").cumcount().to_numpy()
    frame.insert(0, "site_id", [f"{k}-{c}" for k, c in zip(frame["kind"], counters, strict=True)])
    return gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]), geometry=pts[keep], crs=crs
    )  # fmt: skip


def _azimuth_offsets(kind: str, step_deg: float) -> FloatArray:
    """Azimuths tried at a site, relative to its facing (walls) or north (free-standing)."""
    if kind in ("facade", "roof"):
        half = 60.0
    elif kind == "corner":
        half = 90.0
    else:
        return np.arange(0.0, 360.0 - 1e-9, step_deg)
    k = math.floor(half / step_deg + 1e-9)
    return np.asarray(np.arange(-k, k + 1) * step_deg, dtype=np.float64)


def candidate_configs(
    sites: gpd.GeoDataFrame,
    *,
    lenses: Sequence[LensOption] = DEFAULT_LENSES,
    azimuth_step_deg: float = 45.0,
    target_height_m: float = 0.0,
    max_tilt_deg: float = 60.0,
) -> gpd.GeoDataFrame:
    """Every site x azimuth x lens, as camera rows :func:`gis.fov.camera_sectors` accepts.

    Free-standing sites (poles, existing mounts) try azimuths all round at
    ``azimuth_step_deg``; wall sites (facade, roof edge) the facing ± 60°, corners ± 90°
    (never into their own wall). The tilt of each configuration points the top of the frame
    at the ground range where the lens's design level runs out (``atan(h / d) + VFOV/2`` with
    ``h`` the lens height over the target plane), at most ``max_tilt_deg``; a lens whose design
    level cannot be reached from the mount height is left out for that site.

    Parameters
    ----------
    sites
        Output of :func:`candidate_sites` (metric CRS).
    lenses
        Lens options (see :data:`DEFAULT_LENSES`).
    azimuth_step_deg
        Angle between tried azimuths, degrees (in (0, 180]).
    target_height_m
        Height of the target plane, metres (0 ground, 1.6 faces).
    max_tilt_deg
        Steepest tilt below the horizontal, degrees.

    Returns
    -------
    geopandas.GeoDataFrame
        ``camera_id`` (configuration id ``<site_id>/<grid azimuth>/<lens key>``), ``site_id``,
        ``site_kind``, ``lens``, ``lens_model``, ``design_level``, ``azimuth_grid_deg``,
        ``azimuth_deg`` (TRUE north, degrees in [0, 360)), ``tilt_deg``, ``mount_height_m``,
        ``sensor_width_mm``, ``sensor_height_mm``, ``focal_length_mm``, ``hfov_deg``,
        ``resolution_w_px``, ``resolution_h_px``, ``camera_type`` ("fixed"), ``building_index``,
        ``source_id``, Point ``geometry``; CRS of ``sites``.

    Raises
    ------
    PlacementInputError
        On a geographic CRS, an unknown design level or a bad step.
    """
    crs = _check_metric(sites, "sites")
    if not (0.0 < azimuth_step_deg <= 180.0):
        raise PlacementInputError(f"azimuth_step_deg must be in (0, 180], not {azimuth_step_deg}")
    for lens in lenses:
        if lens.design_level not in LEVELS:
            raise PlacementInputError(f"lens {lens.key}: unknown design level "
                                      f"{lens.design_level!r}; known: {LEVELS}")  # fmt: skip
    kinds = sites["kind"].to_numpy(dtype=object)
    site_rows: list[npt.NDArray[np.intp]] = []
    grid_az: list[FloatArray] = []
    for kind in SITE_KINDS:
        rows = np.flatnonzero(kinds == kind)
        if len(rows) == 0:
            continue
        off = _azimuth_offsets(kind, azimuth_step_deg)
        base = sites["facing_deg"].to_numpy(dtype=float)[rows]
        base = np.where(np.isfinite(base), base, 0.0)
        site_rows.append(np.repeat(rows, len(off)))
        grid_az.append(np.mod(np.repeat(base, len(off)) + np.tile(off, len(rows)), 360.0))
    if not site_rows:
        return gpd.GeoDataFrame(
            {c: [] for c in ("camera_id", "site_id", "azimuth_deg", "tilt_deg")},
            geometry=gpd.GeoSeries([], crs=crs),
        )  # fmt: skip
    srow = np.concatenate(site_rows)
    gaz = np.round(np.concatenate(grid_az), 1)
    pts = np.asarray(sites.geometry.to_numpy(), dtype=object)[srow]
    true_az = np.mod(np.round(grid_to_true_azimuth_deg(
        crs, shapely.get_x(pts), shapely.get_y(pts), gaz), 2), 360.0)  # fmt: skip
    mount = sites["mount_height_m"].to_numpy(dtype=float)[srow]
    frames = []
    for lens in lenses:
        h = mount - target_height_m
        slant = lens.slant_m(lens.design_level)
        with np.errstate(invalid="ignore"):
            far = np.sqrt(slant * slant - h * h)
        ok = np.isfinite(far) & (far > 0) & (h > 0)
        tilt = np.minimum(np.degrees(np.arctan2(h, np.where(ok, far, 1.0))) + lens.vfov_deg / 2,
                          max_tilt_deg)  # fmt: skip
        site_ids = sites["site_id"].to_numpy(dtype=object)[srow]
        frames.append(pd.DataFrame({
            "camera_id": [f"{s}/{a:g}/{lens.key}" for s, a in zip(site_ids, gaz, strict=True)],
            "site_id": site_ids,
            "site_kind": kinds[srow],
            "lens": lens.key, "lens_model": lens.model, "design_level": lens.design_level,
            "azimuth_grid_deg": gaz, "azimuth_deg": true_az, "tilt_deg": np.round(tilt, 2),
            "mount_height_m": mount,
            "sensor_width_mm": lens.sensor_width_mm, "sensor_height_mm": lens.sensor_height_mm,
            "focal_length_mm": lens.focal_length_mm, "hfov_deg": round(lens.hfov_deg, 3),
            "resolution_w_px": lens.resolution_w_px, "resolution_h_px": lens.resolution_h_px,
            "camera_type": "fixed",
            "building_index": sites["building_index"].to_numpy()[srow],
            "source_id": sites["source_id"].to_numpy(dtype=object)[srow],
            "geometry": pts,
        })[ok])  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)
