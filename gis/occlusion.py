"""Building occlusion: move wall-mounted cameras off their facade, and cut each camera's
field-of-view polygons down to the part that no building hides (2.5D shadow casting).

Everything works in one metric CRS (metres); bearings are degrees clockwise from grid north.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.context
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely import STRtree

__all__ = [
    "OcclusionInputError",
    "place_facade_cameras",
    "visible_polygons",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
GeomArray = npt.NDArray[np.object_]

#: Far shadow points go to ``REACH_FACTOR * reach + REACH_MARGIN_M`` from the camera, where
#: ``reach`` is the farthest sector vertex. With arc points at most 36 degrees apart the far side
#: of a shadow then stays beyond ``0.95 * 1.2 * reach > reach``.
REACH_FACTOR = 1.2
REACH_MARGIN_M = 1.0
#: Points on the far arc of an unbounded shadow (span <= 180 degrees -> steps <= 36 degrees).
ARC_POINTS = 6
#: A finite shadow whose roof projects this many times farther than the wall is treated as
#: unbounded: the two differ only along rays that pass within ``reach / K_UNBOUNDED`` of the
#: camera (millimetres), and it keeps coordinates far from overflowing precision.
K_UNBOUNDED = 1.0e4
#: Sine of the turning angle below which a footprint vertex counts as straight (convexity test).
_CONVEX_TOL = 1.0e-9


class OcclusionInputError(ValueError):
    """Input frames that occlusion cannot work with (CRS, columns, ids or values)."""


# --------------------------------------------------------------------------------------------
# input checks


def _check_crs(frames: dict[str, gpd.GeoDataFrame]) -> None:
    crss = {name: frame.crs for name, frame in frames.items()}
    for name, crs in crss.items():
        if crs is None:
            raise OcclusionInputError(f"{name} has no CRS; give them all the same metric CRS")
        if not crs.is_projected:
            raise OcclusionInputError(
                f"{name} is in {crs.to_string()}, a geographic CRS; project to a metric CRS "
                "(e.g. the city's UTM zone) first"
            )
        units = {axis.unit_name for axis in crs.axis_info}
        if not units <= {"metre", "meter"}:
            raise OcclusionInputError(
                f"{name} CRS {crs.to_string()} has axis units {sorted(units)}, not metres"
            )
    first_name, first = next(iter(crss.items()))
    for name, crs in crss.items():
        if crs != first:
            raise OcclusionInputError(
                f"{name} CRS {crs.to_string()} differs from {first_name} CRS "
                f"{first.to_string()}; reproject to one metric CRS"
            )


def _require_columns(frame: gpd.GeoDataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise OcclusionInputError(f"{name} lacks column(s) {missing}")


def _finite_column(
    frame: gpd.GeoDataFrame, name: str, column: str, *, allow_nan: bool = False
) -> FloatArray:
    try:
        values = np.asarray(frame[column], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise OcclusionInputError(f"{name}.{column} must be numeric: {exc}") from exc
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if bad.any():
        row = frame.index[int(np.flatnonzero(bad)[0])]
        raise OcclusionInputError(
            f"{name}.{column} must be a finite number; row {row!r} has {values[bad][0]!r}"
        )
    return values


def _camera_points(cameras: gpd.GeoDataFrame) -> FloatArray:
    geoms = np.asarray(cameras.geometry.values, dtype=object)
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    ok = is_point & ~shapely.is_empty(geoms)
    if not ok.all():
        row = cameras.index[int(np.flatnonzero(~ok)[0])]
        raise OcclusionInputError(f"cameras row {row!r}: geometry must be a non-empty Point")
    return np.asarray(shapely.get_coordinates(geoms), dtype=np.float64)


def _polygonal(geoms: GeomArray) -> GeomArray:
    """Footprints repaired with make_valid and reduced to their polygonal part (None if none)."""
    out = geoms.copy()
    present = ~shapely.is_missing(out)
    bad = present.copy()
    bad[present] = ~shapely.is_valid(out[present])
    if bad.any():
        fixed = shapely.make_valid(out[bad])
        parts, idx = shapely.get_parts(fixed, return_index=True)
        parts, idx2 = shapely.get_parts(parts, return_index=True)
        idx = idx[idx2]
        keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (
            shapely.area(parts) > 0
        )
        repaired = np.full(len(fixed), None, dtype=object)
        if keep.any():
            groups = np.unique(idx[keep])
            repaired[groups] = shapely.multipolygons(
                parts[keep], indices=np.searchsorted(groups, idx[keep])
            )
        out[bad] = repaired
    kinds = shapely.get_type_id(out)
    polygonal = (kinds == shapely.GeometryType.POLYGON) | (
        kinds == shapely.GeometryType.MULTIPOLYGON
    )
    out[~polygonal] = None
    return out


# --------------------------------------------------------------------------------------------
# facade placement


def place_facade_cameras(
    cameras: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, offset_m: float = 0.4
) -> tuple[gpd.GeoDataFrame, int]:
    """Move cameras that sit inside or on a building footprint just outside it.

    Facade (wall-mounted) cameras are often surveyed on the wall line or a little inside the
    footprint; seen from there the host building would hide everything. A camera whose point
    lies inside or on a footprint is moved along its azimuth to where that ray first leaves
    the buildings, plus ``offset_m`` (at most half the free gap found there). Without an
    azimuth (NaN), or when the ray never leaves the buildings within reach, it goes to the
    nearest point of its host footprint's boundary and ``offset_m`` out from there.

    Parameters
    ----------
    cameras
        Columns ``camera_id``, ``geometry`` (Point) and ``azimuth_deg`` (degrees clockwise from
        *grid* north of the CRS, i.e. already corrected for meridian convergence; NaN when
        unknown). Metric CRS.
    buildings
        Column ``geometry`` (Polygon/MultiPolygon footprints, holes allowed), same CRS.
    offset_m
        Distance in metres to move a camera beyond the wall (0.3-0.5 m is typical).

    Returns
    -------
    (moved, count)
        A copy of ``cameras`` with moved geometries (other columns untouched) and the number
        of cameras that were moved.

    Raises
    ------
    OcclusionInputError
        On a missing, geographic or mismatched CRS, missing columns, a non-point camera
        geometry, an infinite azimuth or a non-positive ``offset_m``.
    """
    _require_columns(cameras, "cameras", ("camera_id", "geometry", "azimuth_deg"))
    _require_columns(buildings, "buildings", ("geometry",))
    _check_crs({"cameras": cameras, "buildings": buildings})
    if not (math.isfinite(offset_m) and offset_m > 0):
        raise OcclusionInputError(f"offset_m must be a positive number of metres, not {offset_m}")
    xy = _camera_points(cameras)
    azimuth = _finite_column(cameras, "cameras", "azimuth_deg", allow_nan=True)
    footprints = _polygonal(np.asarray(buildings.geometry.values, dtype=object))
    footprints = footprints[~shapely.is_missing(footprints)]
    moved = cameras.copy()
    if len(footprints) == 0 or len(cameras) == 0:
        return moved, 0
    tree = STRtree(footprints)
    points = shapely.points(xy)
    cam_i, bld_i = tree.query(points, predicate="intersects")
    if len(cam_i) == 0:
        return moved, 0
    hosted = np.unique(cam_i)
    new_xy = xy.copy()

    has_az = np.isfinite(azimuth[hosted])
    by_ray = hosted[has_az]
    fallback: IntArray = hosted[~has_az]
    if len(by_ray):
        ray_xy, ok = _exit_along_azimuth(xy, azimuth, by_ray, cam_i, bld_i, footprints, tree,
                                         offset_m)
        new_xy[by_ray[ok]] = ray_xy[ok]
        fallback = np.concatenate([fallback, by_ray[~ok]])
    if len(fallback):
        keep = np.isin(cam_i, fallback)
        new_xy[fallback] = _nearest_outside(xy, fallback, cam_i[keep], bld_i[keep], footprints,
                                            offset_m)
    moved_mask = np.zeros(len(cameras), dtype=bool)
    moved_mask[hosted] = True
    geometry = np.asarray(moved.geometry.values, dtype=object).copy()
    geometry[moved_mask] = shapely.points(new_xy[moved_mask])
    moved = moved.set_geometry(gpd.GeoSeries(geometry, index=moved.index, crs=cameras.crs),
                               crs=cameras.crs)
    return moved, int(moved_mask.sum())


def _group_union(geoms: GeomArray, group: IntArray, n_groups: int) -> GeomArray:
    """Union of ``geoms`` per group id (0..n_groups-1); None where a group has nothing.

    Groups are padded into 2-D arrays bucketed by size (powers of two), so one camera with
    hundreds of candidates does not inflate the padding of all the others.
    """
    out = np.full(n_groups, None, dtype=object)
    if len(geoms) == 0:
        return out
    order = np.argsort(group, kind="stable")
    g = group[order]
    counts = np.bincount(g, minlength=n_groups)
    start = np.cumsum(counts) - counts
    rank = np.arange(len(g)) - start[g]
    ordered = geoms[order]
    single = counts == 1
    out[single] = ordered[start[single]]
    width = np.zeros(n_groups, dtype=np.intp)
    multi = counts > 1
    width[multi] = 1 << np.ceil(np.log2(counts[multi])).astype(np.intp)
    for w in np.unique(width[multi]):
        rows = np.flatnonzero(width == w)
        row_of = np.full(n_groups, -1, dtype=np.intp)
        row_of[rows] = np.arange(len(rows))
        sel = row_of[g] >= 0
        padded = np.full((len(rows), int(w)), None, dtype=object)
        padded[row_of[g[sel]], rank[sel]] = ordered[sel]
        out[rows] = shapely.union_all(padded, axis=1)
    return out


def _exit_along_azimuth(
    xy: FloatArray,
    azimuth: FloatArray,
    cams: IntArray,
    cam_i: IntArray,
    bld_i: IntArray,
    footprints: GeomArray,
    tree: STRtree,
    offset_m: float,
) -> tuple[FloatArray, BoolArray]:
    """New positions (and whether one was found) for ``cams`` moved out along their azimuth."""
    theta = np.radians(azimuth[cams])
    direction = np.column_stack([np.sin(theta), np.cos(theta)])  # clockwise from grid north
    # Long enough to cross every host footprint, whatever its shape.
    host_reach = shapely.hausdorff_distance(shapely.points(xy[cam_i]), footprints[bld_i])
    reach = np.zeros(len(xy))
    np.maximum.at(reach, cam_i, host_reach)
    length = reach[cams] + 2.0 * offset_m + 1.0
    start = xy[cams]
    end = start + direction * length[:, None]
    rays = shapely.linestrings(np.stack([start, end], axis=1))
    ray_i, blk_i = tree.query(rays, predicate="intersects")
    blockers = _group_union(footprints[blk_i], ray_i, len(cams))
    free = rays.copy()
    hit = ~shapely.is_missing(blockers)
    free[hit] = shapely.difference(rays[hit], blockers[hit])
    parts, part_ray = shapely.get_parts(free, return_index=True)
    solid = ~shapely.is_empty(parts)
    parts, part_ray = parts[solid], part_ray[solid]
    found = np.zeros(len(cams), dtype=bool)
    new_xy = np.full((len(cams), 2), np.nan)
    if len(parts) == 0:
        return new_xy, found
    coords, coord_part = shapely.get_coordinates(parts, return_index=True)
    # Position of each free piece along its ray, in metres from the camera.
    along = np.einsum("ij,ij->i", coords - start[part_ray[coord_part]],
                      direction[part_ray[coord_part]])
    lo = np.full(len(parts), np.inf)
    hi = np.full(len(parts), -np.inf)
    np.minimum.at(lo, coord_part, along)
    np.maximum.at(hi, coord_part, along)
    order = np.lexsort((lo, part_ray))
    first = order[np.r_[True, part_ray[order][1:] != part_ray[order][:-1]]]
    ray = part_ray[first]
    step = lo[first] + np.minimum(offset_m, (hi[first] - lo[first]) / 2.0)
    new_xy[ray] = start[ray] + direction[ray] * step[:, None]
    found[ray] = True
    return new_xy, found


def _nearest_outside(
    xy: FloatArray,
    cams: IntArray,
    cam_i: IntArray,
    bld_i: IntArray,
    footprints: GeomArray,
    offset_m: float,
) -> FloatArray:
    """Positions ``offset_m`` outside the nearest wall of each camera's host footprint(s)."""
    hosts = _group_union(footprints[bld_i], cam_i, len(xy))[cams]
    polys, poly_cam = shapely.get_parts(hosts, return_index=True)
    # Exterior counter-clockwise, holes clockwise: the solid is left of every edge.
    polys = shapely.orient_polygons(polys, exterior_cw=False)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    a = coords[:-1][same]
    b = coords[1:][same]
    seg_cam = poly_cam[ring_poly[coord_ring[:-1][same]]]
    c = xy[cams][seg_cam]
    ab = b - a
    len2 = np.einsum("ij,ij->i", ab, ab)
    s = np.clip(np.einsum("ij,ij->i", c - a, ab) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
    foot = a + ab * s[:, None]
    dist = np.hypot(*(foot - c).T)
    order = np.lexsort((dist, seg_cam))
    first = order[np.r_[True, seg_cam[order][1:] != seg_cam[order][:-1]]]
    nearest = foot[first]
    away = nearest - c[first]
    away_len = np.hypot(*away.T)
    edge = ab[first]
    edge_len = np.sqrt(len2[first])
    normal = np.column_stack([edge[:, 1], -edge[:, 0]]) / np.where(edge_len > 0, edge_len, 1.0)[
        :, None
    ]
    # Strictly inside: straight out through the nearest wall point; on the wall: its normal.
    inside = away_len > 1e-9
    direction = normal.copy()
    direction[inside] = away[inside] / away_len[inside, None]
    out = np.empty((len(cams), 2))
    out[seg_cam[first]] = nearest + direction * offset_m
    return out


# --------------------------------------------------------------------------------------------
# shadows


@dataclass(frozen=True)
class _Parts:
    """Convex parts of building footprints, with their vertices in one flat array."""

    geoms: GeomArray  # convex polygons (triangles for non-convex footprints)
    building: IntArray  # index of the footprint each part belongs to
    vstart: IntArray  # first vertex of each part in xy
    vcount: IntArray  # number of vertices of each part
    xy: FloatArray  # (n, 2) vertices, rings not closed


def _expand(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Flat ``starts[i] + 0..counts[i]-1`` and the ``i`` each element came from."""
    owner = np.repeat(np.arange(len(counts)), counts)
    offsets = np.cumsum(counts) - counts
    flat = np.arange(int(counts.sum())) - offsets[owner] + starts[owner]
    return flat.astype(np.intp), owner


def _ring_vertices(polys: GeomArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Exterior vertices (closing point dropped), first vertex and count per polygon."""
    coords, idx = shapely.get_coordinates(shapely.get_exterior_ring(polys), return_index=True)
    counts = np.bincount(idx, minlength=len(polys))
    starts = np.cumsum(counts) - counts
    last = starts + counts - 1
    keep = np.ones(len(coords), dtype=bool)
    keep[last[counts > 0]] = False
    return coords[keep], starts - np.arange(len(polys)), np.maximum(counts - 1, 0)


def _convex_parts(footprints: GeomArray) -> _Parts:
    """Split footprints into convex parts: convex polygons stay whole, others (concave or with
    courtyards) become constrained Delaunay triangles (holes stay open)."""
    polys, poly_bld = shapely.get_parts(footprints, return_index=True)
    solid = shapely.area(polys) > 0  # no zero-area slivers
    polys, poly_bld = polys[solid], poly_bld[solid]
    xy, vstart, vcount = _ring_vertices(polys)
    # Turning direction at every vertex of every ring (cyclic).
    owner = np.repeat(np.arange(len(polys)), vcount)
    pos = np.arange(len(xy)) - vstart[owner]
    nxt = vstart[owner] + (pos + 1) % vcount[owner]
    prv = vstart[owner] + (pos - 1) % vcount[owner]
    e_in = xy - xy[prv]
    e_out = xy[nxt] - xy
    cross = e_in[:, 0] * e_out[:, 1] - e_in[:, 1] * e_out[:, 0]
    norm = np.hypot(*e_in.T) * np.hypot(*e_out.T)
    sine = cross / np.where(norm > 0, norm, 1.0)
    left = np.bincount(owner, weights=(sine < -_CONVEX_TOL), minlength=len(polys))
    right = np.bincount(owner, weights=(sine > _CONVEX_TOL), minlength=len(polys))
    convex = ((left == 0) | (right == 0)) & (shapely.get_num_interior_rings(polys) == 0)

    tri_src = np.flatnonzero(~convex)
    tris, tri_idx = shapely.get_parts(
        shapely.constrained_delaunay_triangles(polys[tri_src]), return_index=True
    )
    tris_ok = shapely.area(tris) > 0
    tris, tri_idx = tris[tris_ok], tri_idx[tris_ok]
    geoms = np.concatenate([polys[convex], tris])
    source = np.concatenate([np.flatnonzero(convex), tri_src[tri_idx]])
    order = np.argsort(source, kind="stable")
    geoms = geoms[order]
    building = poly_bld[source[order]]
    xy, vstart, vcount = _ring_vertices(geoms)
    return _Parts(geoms=geoms, building=building.astype(np.intp), vstart=vstart,
                  vcount=vcount, xy=xy)


@dataclass(frozen=True)
class _Hulls:
    """Shadow hull points per (camera, convex part), and footprints to drop per camera."""

    xy: FloatArray
    of_point: IntArray
    cam: IntArray
    footprint_bld: IntArray
    footprint_cam: IntArray


def _shadow_hulls(
    cam_xy: FloatArray,
    mount_m: FloatArray,
    far_m: FloatArray,
    pair_cam: IntArray,
    pair_bld: IntArray,
    height_m: FloatArray,
    parts: _Parts,
    target_m: float,
) -> _Hulls:
    """Points of the 2.5D shadow of every convex part of every (camera, building) pair.

    Along a ray from the camera through a point Q of a part, the hidden ground is
    ``C + lam * (Q - C)`` for ``lam`` in ``[lo, hi]``: ``[1, (H-t)/(H-hb)]`` for a building
    lower than the camera, ``[1, inf)`` for one at least as tall, and
    ``[(t-H)/(hb-H), inf)`` when the camera is below the target plane and the building between
    the two. For a convex part these sets are convex: the hull of the part scaled by ``lo`` and
    by ``hi``, or for ``hi = inf`` by points on an arc far beyond the camera's reach.
    """
    h_cam = mount_m[pair_cam]
    h_bld = height_m[pair_bld]
    t = target_m
    casts = h_bld > np.minimum(h_cam, t)
    finite = casts & (h_cam > t) & (h_bld < h_cam)
    k = np.full(len(pair_cam), np.inf)
    k[finite] = (h_cam[finite] - t) / (h_cam[finite] - h_bld[finite])
    finite &= k < K_UNBOUNDED
    lo = np.ones(len(pair_cam))
    low = casts & (h_cam < t) & (h_bld > h_cam) & (h_bld < t)
    lo[low] = (t - h_cam[low]) / (h_bld[low] - h_cam[low])
    # The footprint itself is dropped too; shadows starting at the wall already contain it.
    own = ~casts | low

    cast_pairs = np.flatnonzero(casts)
    first_part = np.searchsorted(parts.building, np.arange(int(height_m.size) + 1))
    part_count = np.diff(first_part)
    cp_part, cp_owner = _expand(first_part[pair_bld[cast_pairs]],
                                part_count[pair_bld[cast_pairs]])
    cp_pair = cast_pairs[cp_owner]
    cp_cam = pair_cam[cp_pair]
    cp_c = cam_xy[cp_cam]
    n_cp = len(cp_part)
    v_idx, v_cp = _expand(parts.vstart[cp_part], parts.vcount[cp_part])
    vcount = parts.vcount[cp_part]
    voff = np.cumsum(vcount) - vcount
    d = parts.xy[v_idx] - cp_c[v_cp]

    cp_finite = finite[cp_pair]
    cp_lo = lo[cp_pair]
    unbounded = np.flatnonzero(~cp_finite)
    inside = np.zeros(n_cp, dtype=bool)
    if len(unbounded):
        inside[unbounded] = shapely.contains_properly(
            parts.geoms[cp_part[unbounded]], shapely.points(cp_c[unbounded])
        )
    arc = ~cp_finite & ~inside

    xy_chunks: list[FloatArray] = []
    of_chunks: list[IntArray] = []
    # Finite: the part and its roof projected onto the target plane.
    vf = cp_finite[v_cp]
    if vf.any():
        kk = k[cp_pair][v_cp[vf]]
        xy_chunks += [cp_c[v_cp[vf]] + d[vf], cp_c[v_cp[vf]] + d[vf] * kk[:, None]]
        of_chunks += [v_cp[vf], v_cp[vf]]
    # Unbounded: the part (scaled by lo) and an arc beyond reach across its angular span.
    va = arc[v_cp]
    if va.any():
        xy_chunks.append(cp_c[v_cp[va]] + d[va] * cp_lo[v_cp[va], None])
        of_chunks.append(v_cp[va])
        ref = np.add.reduceat(d, voff, axis=0) / vcount[:, None]
        ref_v = ref[v_cp]
        rel = np.arctan2(ref_v[:, 0] * d[:, 1] - ref_v[:, 1] * d[:, 0],
                         np.einsum("ij,ij->i", ref_v, d))
        span_lo = np.minimum.reduceat(rel, voff)
        span_hi = np.maximum.reduceat(rel, voff)
        r_max = np.maximum.reduceat(np.hypot(d[:, 0], d[:, 1]), voff)
        a = np.flatnonzero(arc)
        far = np.maximum(far_m[cp_cam[a]], cp_lo[a] * r_max[a] + REACH_MARGIN_M)
        steps = np.linspace(0.0, 1.0, ARC_POINTS)
        ang = (np.arctan2(ref[a, 1], ref[a, 0]) + span_lo[a])[:, None] + (
            span_hi[a] - span_lo[a]
        )[:, None] * steps[None, :]
        pts = cp_c[a][:, None, :] + far[:, None, None] * np.stack(
            [np.cos(ang), np.sin(ang)], axis=-1
        )
        xy_chunks.append(pts.reshape(-1, 2))
        of_chunks.append(np.repeat(a, ARC_POINTS))
    # Camera inside a part at least as tall as itself: it sees nothing.
    b = np.flatnonzero(inside)
    if len(b):
        corners = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
        pts = cp_c[b][:, None, :] + far_m[cp_cam[b]][:, None, None] * corners[None, :, :]
        xy_chunks.append(pts.reshape(-1, 2))
        of_chunks.append(np.repeat(b, 4))

    if xy_chunks:
        of_point = np.concatenate(of_chunks)
        order = np.argsort(of_point, kind="stable")
        xy = np.concatenate(xy_chunks)[order]
        of_point = of_point[order]
    else:
        xy = np.empty((0, 2))
        of_point = np.empty(0, dtype=np.intp)
    return _Hulls(xy=xy, of_point=of_point.astype(np.intp), cam=cp_cam,
                  footprint_bld=pair_bld[own], footprint_cam=pair_cam[own])


def visible_polygons(
    sectors: gpd.GeoDataFrame,
    cameras: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    target_height_m: float = 0.0,
    workers: int = 1,
) -> gpd.GeoDataFrame:
    """The part of each field-of-view polygon that its camera can see past the buildings.

    2.5D line of sight: a point P of the target plane (height ``target_height_m``) is seen
    when the straight segment from the camera (at ``mount_height_m``) to P passes over every
    footprint it crosses higher than the building there. Each building meeting the area
    between the camera and its sectors casts an exact polyhedral shadow (convex parts: the
    hull of the part and its roof projected onto the target plane, or, for a building at
    least as tall as the camera, out beyond the sector's reach); buildings lower than the
    target plane cast none. The ground inside building footprints is never visible (one
    cannot see into a building from the street), so footprints are dropped as well. A camera
    standing inside a footprint at least as tall as itself sees nothing: run
    :func:`place_facade_cameras` first for wall-mounted cameras. A camera on a roof (inside a
    lower footprint) sees past the roof edge by the same rule.

    Parameters
    ----------
    sectors
        Columns ``camera_id`` and ``geometry`` (Polygon/MultiPolygon, the field of view of one
        level, already limited by range), plus any others (kept). Metric CRS.
    cameras
        Columns ``camera_id`` (unique), ``geometry`` (Point) and ``mount_height_m`` (metres
        above the ground). Same CRS.
    buildings
        Columns ``geometry`` (Polygon/MultiPolygon footprints, possibly concave, with holes
        for courtyards; invalid ones are repaired with ``make_valid``) and ``height_m``
        (metres above the ground). Same CRS.
    target_height_m
        Height in metres of the plane that must be seen (0 ground, about 1.6 faces).
    workers
        Processes to use (1 = this process only). With more, the rows are split by camera:
        one share is computed here and the others in forked processes (a spawned pool where
        ``fork`` is not available). Every camera is computed whole in one process, so the
        geometry is identical, bit for bit, for any number of workers.

    Returns
    -------
    geopandas.GeoDataFrame
        ``sectors`` (same index, columns and CRS) with each geometry replaced by its visible
        part; rows with nothing visible keep an empty polygon so that callers can count them.

    Raises
    ------
    OcclusionInputError
        On a missing, geographic or mismatched CRS, missing columns, duplicate camera ids, a
        sector whose camera is unknown, non-point cameras, non-polygonal sectors, non-finite
        heights or ``target_height_m``, or ``workers < 1``.
    """
    _require_columns(sectors, "sectors", ("camera_id", "geometry"))
    _require_columns(cameras, "cameras", ("camera_id", "geometry", "mount_height_m"))
    _require_columns(buildings, "buildings", ("geometry", "height_m"))
    _check_crs({"sectors": sectors, "cameras": cameras, "buildings": buildings})
    if not math.isfinite(target_height_m):
        raise OcclusionInputError(f"target_height_m must be finite, not {target_height_m}")
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise OcclusionInputError(f"workers must be a whole number >= 1, not {workers!r}")
    cam_xy = _camera_points(cameras)
    mount_m = _finite_column(cameras, "cameras", "mount_height_m")
    height_m = _finite_column(buildings, "buildings", "height_m")
    ids = pd.Index(cameras["camera_id"])
    if not ids.is_unique:
        dup = ids[ids.duplicated()][0]
        raise OcclusionInputError(f"cameras.camera_id must be unique; {dup!r} repeats")
    sec_cam = np.asarray(ids.get_indexer(pd.Index(sectors["camera_id"])), dtype=np.intp)
    if (sec_cam < 0).any():
        bad = int(np.flatnonzero(sec_cam < 0)[0])
        raise OcclusionInputError(
            f"sectors row {sectors.index[bad]!r}: camera_id "
            f"{sectors['camera_id'].iloc[bad]!r} is not in cameras"
        )
    sec_geoms = np.asarray(sectors.geometry.values, dtype=object)
    kinds = shapely.get_type_id(sec_geoms)
    missing = shapely.is_missing(sec_geoms)
    polygonal = (kinds == shapely.GeometryType.POLYGON) | (
        kinds == shapely.GeometryType.MULTIPOLYGON
    )
    if (~polygonal & ~missing).any():
        bad = int(np.flatnonzero(~polygonal & ~missing)[0])
        raise OcclusionInputError(
            f"sectors row {sectors.index[bad]!r}: geometry must be a Polygon or MultiPolygon"
        )
    result = sec_geoms.copy()
    result[missing] = shapely.Polygon()
    rows = np.flatnonzero(~missing & ~shapely.is_empty(sec_geoms))
    footprints = _polygonal(np.asarray(buildings.geometry.values, dtype=object))
    footprints[shapely.is_missing(footprints)] = shapely.Polygon()
    if len(rows) and len(footprints):
        rest = (cam_xy, mount_m, footprints, height_m, float(target_height_m))
        tasks = _split_by_camera(sec_cam[rows], len(cam_xy), int(workers))
        if len(tasks) == 1:
            result[rows] = _visible_rows(sec_geoms[rows], sec_cam[rows], *rest)
        else:
            done = _in_processes(tasks, sec_geoms[rows], sec_cam[rows], rest)
            for task, vis in zip(tasks, done, strict=True):
                result[rows[task]] = vis
    out = sectors.copy()
    return out.set_geometry(gpd.GeoSeries(result, index=out.index, crs=sectors.crs),
                            crs=sectors.crs)


def _visible_rows(
    sec_geoms: GeomArray,
    sec_cam: IntArray,
    cam_xy: FloatArray,
    mount_m: FloatArray,
    footprints: GeomArray,
    height_m: FloatArray,
    target_m: float,
) -> GeomArray:
    """Visible part of each sector row (non-empty polygons); the core of visible_polygons.

    Everything is computed per camera, so any split of the rows by camera gives the same
    geometry for each row.
    """
    n_cams = len(cam_xy)
    coords, coord_row = shapely.get_coordinates(sec_geoms, return_index=True)
    row_c = cam_xy[sec_cam]
    dist = np.hypot(*(coords - row_c[coord_row]).T)
    row_reach = np.maximum.reduceat(dist, np.searchsorted(coord_row, np.arange(len(sec_geoms))))
    reach = np.zeros(n_cams)
    np.maximum.at(reach, sec_cam, row_reach)
    far_m = REACH_FACTOR * reach + REACH_MARGIN_M
    # Buildings that can hide part of a sector meet the hull of the sector and its camera.
    view_idx = np.concatenate([coord_row, np.arange(len(sec_geoms))])
    order = np.argsort(view_idx, kind="stable")
    # A line through the points has the same hull as the points and is cheaper to build.
    views = shapely.convex_hull(
        shapely.linestrings(np.concatenate([coords, row_c])[order], indices=view_idx[order])
    )
    q_row, q_bld = STRtree(footprints).query(views, predicate="intersects")
    key = np.unique(sec_cam[q_row].astype(np.int64) * len(footprints) + q_bld)
    pair_cam = (key // len(footprints)).astype(np.intp)
    pair_bld = (key % len(footprints)).astype(np.intp)
    used, pair_used = np.unique(pair_bld, return_inverse=True)
    parts = _convex_parts(footprints[used])
    hulls = _shadow_hulls(cam_xy, mount_m, far_m, pair_cam, pair_used.astype(np.intp),
                          height_m[used], parts, target_m)
    shadows = shapely.convex_hull(shapely.linestrings(hulls.xy, indices=hulls.of_point))
    items = np.concatenate([shadows, footprints[used][hulls.footprint_bld]])
    item_cam = np.concatenate([hulls.cam, hulls.footprint_cam])

    # Each row minus the shadows and footprints of its camera whose bounding boxes meet it,
    # subtracted one after the other (cheaper than a union of the shadows followed by one
    # difference, and than cutting a camera's widest row and intersecting the others with
    # it: a nested DORI row meets only the items near the camera).
    ordered = np.argsort(item_cam, kind="stable")
    items_i = items[ordered]
    per_cam = np.bincount(item_cam, minlength=n_cams)
    first = np.cumsum(per_cam) - per_cam
    pair_item, pair_row = _expand(first[sec_cam], per_cam[sec_cam])
    rb = shapely.bounds(sec_geoms)[pair_row]
    ib = shapely.bounds(items_i)[pair_item]
    meet = (ib[:, 0] <= rb[:, 2]) & (ib[:, 2] >= rb[:, 0]) & (ib[:, 1] <= rb[:, 3]) & (
        ib[:, 3] >= rb[:, 1]
    )
    pair_item, pair_row = pair_item[meet], pair_row[meet]
    rank = np.arange(len(pair_row)) - np.searchsorted(pair_row, pair_row)
    out = sec_geoms.copy()
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        at = rank == r
        out[pair_row[at]] = shapely.difference(out[pair_row[at]], items_i[pair_item[at]])
    return out


def _split_by_camera(sec_cam: IntArray, n_cams: int, workers: int) -> list[IntArray]:
    """Row indices cut into ``workers`` camera ranges with about as many rows each."""
    cum = np.cumsum(np.bincount(sec_cam, minlength=n_cams))
    edges = np.searchsorted(cum, cum[-1] * np.arange(1, workers) / workers, side="left") + 1
    bounds = np.unique(np.concatenate([[0], np.minimum(edges, n_cams), [n_cams]]))
    tasks = [np.flatnonzero((sec_cam >= lo) & (sec_cam < hi))
             for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return [t for t in tasks if len(t)]


_RowArgs = tuple[GeomArray, IntArray, FloatArray, FloatArray, GeomArray, FloatArray, float]


def _child(conn: Connection, args: _RowArgs) -> None:
    """Forked worker: compute its rows and send them back as WKB (exact doubles)."""
    try:
        out = _visible_rows(*args)
        conn.send(("ok", shapely.to_wkb(out)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _in_processes(
    tasks: list[IntArray],
    sec_geoms: GeomArray,
    sec_cam: IntArray,
    rest: tuple[FloatArray, FloatArray, GeomArray, FloatArray, float],
) -> list[GeomArray]:
    """Run ``_visible_rows`` on each task, the first one here and the others in processes.

    With the ``fork`` start method the children inherit the inputs instead of unpickling
    them; elsewhere a spawned process pool receives them pickled.
    """
    args: list[_RowArgs] = [(sec_geoms[t], sec_cam[t], *rest) for t in tasks]
    if "fork" not in multiprocessing.get_all_start_methods():
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(tasks), mp_context=spawn) as pool:
            futures = [pool.submit(_visible_rows, *a) for a in args]
            return [f.result() for f in futures]
    fork = multiprocessing.get_context("fork")
    children: list[tuple[multiprocessing.context.ForkProcess, Connection]] = []
    try:
        for a in args[1:]:
            receive, send = fork.Pipe(duplex=False)
            process = fork.Process(target=_child, args=(send, a), daemon=True)
            process.start()
            send.close()
            children.append((process, receive))
        results = [_visible_rows(*args[0])]
        for process, receive in children:
            status, payload = receive.recv()
            process.join()
            if status != "ok":
                raise RuntimeError(f"occlusion worker process failed:\n{payload}")
            results.append(np.asarray(shapely.from_wkb(payload), dtype=object))
        return results
    finally:
        for process, receive in children:
            receive.close()
            if process.is_alive():
                process.terminate()
                process.join()
