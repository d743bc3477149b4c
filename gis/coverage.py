"""Coverage per DORI level: fast tiled union of visible polygons, blind spots in key areas,
coverage statistics per area (the yearly assessment) and incident effectiveness.

All geometries are in one metric CRS (metres); areas are square metres.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon

__all__ = [
    "LEVELS",
    "CoverageError",
    "Effectiveness",
    "Pieces",
    "building_pieces",
    "coverage_pieces",
    "blind_spots",
    "coverage_by_level",
    "coverage_stats",
    "effectiveness",
    "subdivide",
    "union_tiled",
]

LEVELS: tuple[str, ...] = ("detect", "observe", "recognise", "identify")
"""DORI levels from the loosest to the strictest (IEC 62676-4)."""

GeomArray = npt.NDArray[np.object_]
IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


class CoverageError(ValueError):
    """Input a coverage computation cannot use (wrong level, CRS, geometry type, column)."""


# -- small helpers ------------------------------------------------------------------------------
def _geometry_array(geoms: Any) -> GeomArray:
    """Object array of the geometries of a GeoSeries / GeoDataFrame / array-like."""
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if isinstance(geoms, gpd.GeoSeries):
        return np.asarray(geoms.array, dtype=object)
    return np.asarray(geoms, dtype=object).reshape(-1)


def _polygons_only(arr: GeomArray, what: str) -> GeomArray:
    """Non-empty polygonal geometries of ``arr``; anything else polygonal-less is an error."""
    keep = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    arr = arr[keep]
    types = shapely.get_type_id(arr)
    bad = ~np.isin(types, _POLYGONAL)
    if bad.any():
        kinds = sorted({shapely.GeometryType(int(t)).name for t in types[bad]})
        raise CoverageError(f"{what}: expected Polygon/MultiPolygon, got {', '.join(kinds)}")
    return arr


def _polygon_parts(arr: GeomArray) -> tuple[GeomArray, IntArray]:
    """Polygons with area > 0 among the (possibly nested) parts of ``arr``, with their row."""
    parts, idx = shapely.get_parts(arr, return_index=True)
    parts2, idx2 = shapely.get_parts(parts, return_index=True)
    idx = idx[idx2]
    keep = (shapely.get_type_id(parts2) == shapely.GeometryType.POLYGON) & (
        shapely.area(parts2) > 0
    )
    return parts2[keep], idx[keep].astype(np.intp)


def _multipolygons(parts: GeomArray, idx: IntArray, n: int) -> GeomArray:
    """Group polygon ``parts`` by row ``idx`` into ``n`` MultiPolygons (empty where none)."""
    out = np.array([MultiPolygon() for _ in range(n)], dtype=object)
    if len(parts):
        order = np.argsort(idx, kind="stable")
        parts, idx = parts[order], idx[order]
        rows = np.unique(idx)
        out[rows] = shapely.multipolygons(parts, indices=np.searchsorted(rows, idx))
    return out


def _check_metric(crs: Any, what: str) -> None:
    if crs is not None and not crs.is_projected:
        raise CoverageError(f"{what} must be in a metric (projected) CRS, got {crs.name}")


def _check_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CoverageError(f"{what} lacks column(s) {', '.join(missing)}")


def _check_levels(values: Iterable[Any], what: str) -> None:
    bad = sorted({str(v) for v in values} - set(LEVELS))
    if bad:
        raise CoverageError(f"{what}: unknown DORI level(s) {bad}; expected one of {LEVELS}")


def _level_geometry(coverage: Mapping[str, Any], level: str) -> Any:
    try:
        return coverage[level]
    except KeyError:
        raise CoverageError(f"coverage has no {level!r} level (has {sorted(coverage)})") from None


# -- tiled union --------------------------------------------------------------------------------
def _tile_union(
    geoms: GeomArray, box: tuple[float, float, float, float], clip: bool, grid_size: float | None
) -> Any:
    """Union of one tile's polygons, clipped to the tile box when any of them sticks out."""
    if grid_size is None:
        union = _union(geoms)
        if clip:
            union = shapely.clip_by_rect(union, *box)
            if not union.is_valid:  # rectangle clipping is fast but not guaranteed valid
                union = shapely.intersection(shapely.make_valid(union), shapely.box(*box))
    else:
        union = shapely.union_all(geoms, grid_size=grid_size)
        if clip:
            union = shapely.intersection(union, shapely.box(*box), grid_size=grid_size)
    return union


def _tile_union_wkb(
    task: tuple[list[bytes], tuple[float, float, float, float], bool, float | None],
) -> bytes:
    """:func:`_tile_union` in a worker process: WKB in, WKB out."""
    wkb, box, clip, grid_size = task
    geoms = shapely.from_wkb(np.asarray(wkb, dtype=object))
    return bytes(shapely.to_wkb(_tile_union(geoms, box, clip, grid_size)))


def _union(geoms: GeomArray) -> Any:
    # GEOS's disjoint-subset union unites each connected group of polygons on its own: camera
    # sectors form many separate clusters, where it measured 3-9x faster than union_all.
    if hasattr(shapely, "disjoint_subset_union_all") and shapely.geos_version >= (3, 12, 0):
        return shapely.disjoint_subset_union_all(geoms)
    return shapely.union_all(geoms)  # pragma: no cover - shapely < 2.1 / GEOS < 3.12


def _pool_context() -> Any:
    # fork is cheapest (no re-import); from 3.12 CPython warns about forking a threaded
    # process, and numpy's BLAS threads make every process threaded, so use forkserver there.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.version_info < (3, 12):
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _insert_seam_vertices(
    coords: FloatArray, ring_offsets: IntArray, axis: int, lines: FloatArray
) -> tuple[FloatArray, IntArray]:
    """Split every ring segment lying on a seam line at all ring vertices on that line.

    ``lines`` are the seam coordinates (x = line for ``axis`` 0, y = line for ``axis`` 1). After
    this, two tiles' pieces share identical vertices along their common seam, which is what a
    coverage union needs.
    """
    other = 1 - axis
    v = coords[:, axis]
    n = len(coords)
    li = np.minimum(np.searchsorted(lines, v), len(lines) - 1)
    on = lines[li] == v
    if not on.any():
        return coords, ring_offsets
    last = np.zeros(n, dtype=bool)
    last[ring_offsets[1:] - 1] = True
    seg_start = np.flatnonzero(on[:-1] & on[1:] & (li[:-1] == li[1:]) & ~last[:-1])
    if not len(seg_start):
        return coords, ring_offsets
    ins_seg: list[IntArray] = []
    ins_val: list[FloatArray] = []
    for line in np.unique(li[seg_start]):
        vals = np.unique(coords[on & (li == line), other])
        segs = seg_start[li[seg_start] == line]
        a, b = coords[segs, other], coords[segs + 1, other]
        k0 = np.searchsorted(vals, np.minimum(a, b), "right")
        k1 = np.searchsorted(vals, np.maximum(a, b), "left")
        count = np.maximum(k1 - k0, 0)
        if not count.any():
            continue
        seg_rep = np.repeat(segs, count)
        # t-th inserted value of each segment, walking from a to b
        t = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        asc = np.repeat(a < b, count)
        k = np.where(asc, np.repeat(k0, count) + t, np.repeat(k1, count) - 1 - t)
        ins_seg.append(seg_rep)
        ins_val.append(vals[k])
    if not ins_seg:
        return coords, ring_offsets
    seg_all = np.concatenate(ins_seg)
    val_all = np.concatenate(ins_val)
    order = np.argsort(seg_all, kind="stable")  # keeps the a→b order within a segment
    seg_all, val_all = seg_all[order], val_all[order]
    per_vertex = np.bincount(seg_all, minlength=n)
    shift = np.cumsum(per_vertex) - per_vertex  # inserts before each original vertex
    new = np.empty((n + len(seg_all), 2))
    new[np.arange(n) + shift] = coords
    slot = np.arange(len(seg_all)) - np.searchsorted(seg_all, seg_all, "left")
    pos = seg_all + shift[seg_all] + 1 + slot
    new[pos, axis] = lines[li[seg_all]]
    new[pos, other] = val_all
    offsets = ring_offsets.copy()
    offsets[:-1] = ring_offsets[:-1] + shift[ring_offsets[:-1]]
    offsets[-1] = len(new)
    return new, offsets


def _merge_seams(
    parts: GeomArray, xs: FloatArray, ys: FloatArray, grid_size: float | None
) -> GeomArray:
    """Dissolve tile pieces across the seams: a coverage union after matching seam vertices,
    falling back to an ordinary union if GEOS finds the pieces not edge-matched."""
    if len(parts) < 2:
        return parts
    if grid_size is None:
        geom_type, coords, (ring_off, poly_off) = shapely.to_ragged_array(parts)
        ring_off = ring_off.astype(np.intp)
        coords, ring_off = _insert_seam_vertices(coords, ring_off, 0, xs)
        coords, ring_off = _insert_seam_vertices(coords, ring_off, 1, ys)
        matched = shapely.from_ragged_array(geom_type, coords, (ring_off, poly_off))
        try:
            merged = shapely.coverage_union_all(matched)
        except shapely.errors.GEOSException:
            merged = None
        expected = float(shapely.area(parts).sum())
        if merged is not None and abs(merged.area - expected) <= 1e-9 * max(expected, 1.0):
            return _polygon_parts(np.array([merged], dtype=object))[0]
    merged = shapely.union_all(parts, grid_size=grid_size)
    return _polygon_parts(np.array([merged], dtype=object))[0]


def union_tiled(
    geoms: npt.ArrayLike | gpd.GeoSeries,
    *,
    tile_m: float = 2000.0,
    workers: int = 1,
    grid_size: float | None = None,
) -> MultiPolygon:
    """Union of many polygons, computed per square tile and merged along the tile seams.

    Every polygon is assigned to each tile its bounding box meets; each tile's union (GEOS's
    disjoint-subset union where available, exact like ``union_all``) is clipped to the tile
    box, so tiles share only their seams. Tiles run in ``workers`` processes (geometries
    travel as WKB). The clipped pieces are dissolved across the seams with a
    coverage union after inserting each seam's vertices into both sides, so the merge is
    linear in the output size; pieces not touching a seam pass through untouched.

    Parameters
    ----------
    geoms
        Polygons / MultiPolygons in a metric CRS (metres); None and empty are skipped.
    tile_m
        Tile side in metres. The tile grid is anchored at multiples of ``tile_m`` so the
        result does not depend on the data extent. Tiles are the unit of parallel work; 2 km
        (~100 tiles over a 20 x 20 km city) balances 2 processes against the seam merge.
    workers
        Processes for the per-tile unions; 1 runs in this process.
    grid_size
        Optional precision grid (metres) passed to GEOS; None keeps full precision.

    Returns
    -------
    shapely.MultiPolygon
        The union, normalised (same input → identical WKB whatever ``workers``); empty when
        there is nothing to unite. Equals ``shapely.union_all(geoms)`` up to floating-point
        noise.

    Raises
    ------
    CoverageError
        When a geometry is not polygonal, or ``tile_m``/``workers``/``grid_size`` is invalid.
    """
    if not tile_m > 0:
        raise CoverageError(f"tile_m must be positive, got {tile_m}")
    if workers < 1:
        raise CoverageError(f"workers must be at least 1, got {workers}")
    if grid_size is not None and not grid_size > 0:
        raise CoverageError(f"grid_size must be positive or None, got {grid_size}")
    arr = _polygons_only(_geometry_array(geoms), "union_tiled")
    if not len(arr):
        return MultiPolygon()
    if grid_size is not None:
        # seams on the precision grid so that both sides round seam vertices identically
        tile_m = max(round(tile_m / grid_size), 1) * grid_size
    b = shapely.bounds(arr)
    ix0 = np.floor(b[:, 0] / tile_m).astype(np.int64)
    ix1 = np.floor(b[:, 2] / tile_m).astype(np.int64)
    iy0 = np.floor(b[:, 1] / tile_m).astype(np.int64)
    iy1 = np.floor(b[:, 3] / tile_m).astype(np.int64)
    gx, gy = int(ix0.min()), int(iy0.min())
    nx, ny = int(ix1.max()) - gx + 1, int(iy1.max()) - gy + 1
    xs = ((np.arange(nx + 1) + gx) * tile_m).astype(np.float64)
    ys = ((np.arange(ny + 1) + gy) * tile_m).astype(np.float64)
    # (polygon, tile) pairs: every tile in each polygon's bbox range
    span_x, span_y = ix1 - ix0 + 1, iy1 - iy0 + 1
    count = span_x * span_y
    g_idx = np.repeat(np.arange(len(arr)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    tx = ix0[g_idx] - gx + k % span_x[g_idx]
    ty = iy0[g_idx] - gy + k // span_x[g_idx]
    tile = ty * nx + tx
    crosses = np.repeat(count > 1, count)
    order = np.lexsort((g_idx, tile))
    g_idx, tile, crosses = g_idx[order], tile[order], crosses[order]
    tiles, starts = np.unique(tile, return_index=True)
    bounds_of = np.split(np.arange(len(tile)), starts[1:])
    boxes_l: list[tuple[float, float, float, float]] = []
    members: list[IntArray] = []
    clips: list[bool] = []
    for t, rows in zip(tiles, bounds_of, strict=True):
        txi, tyi = int(t % nx), int(t // nx)
        boxes_l.append((float(xs[txi]), float(ys[tyi]), float(xs[txi + 1]), float(ys[tyi + 1])))
        members.append(g_idx[rows])
        clips.append(bool(crosses[rows].any()))
    if workers == 1 or len(tiles) == 1:
        pieces = np.array(
            [
                _tile_union(arr[m], bx, c, grid_size)
                for m, bx, c in zip(members, boxes_l, clips, strict=True)
            ],
            dtype=object,
        )
    else:
        wkb = shapely.to_wkb(arr)
        # biggest tiles first for load balance; results are put back in tile order
        by_size = sorted(range(len(tiles)), key=lambda i: -len(members[i]))
        tasks = [(list(wkb[members[i]]), boxes_l[i], clips[i], grid_size) for i in by_size]
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            done = list(pool.map(_tile_union_wkb, tasks, chunksize=1))
        results: list[bytes] = [b""] * len(tiles)
        for i, res in zip(by_size, done, strict=True):
            results[i] = res
        pieces = shapely.from_wkb(np.asarray(results, dtype=object))
    parts, owner = _polygon_parts(pieces)
    if len(tiles) > 1 and len(parts):
        boxes = np.array(boxes_l)[owner]
        pb = shapely.bounds(parts)
        on_seam = (
            ((pb[:, 0] <= boxes[:, 0]) & (boxes[:, 0] > xs[0]))
            | ((pb[:, 2] >= boxes[:, 2]) & (boxes[:, 2] < xs[-1]))
            | ((pb[:, 1] <= boxes[:, 1]) & (boxes[:, 1] > ys[0]))
            | ((pb[:, 3] >= boxes[:, 3]) & (boxes[:, 3] < ys[-1]))
        )
        merged = _merge_seams(parts[on_seam], xs, ys, grid_size)
        parts = np.concatenate([parts[~on_seam], merged])
    result = shapely.multipolygons(parts) if len(parts) else MultiPolygon()
    return shapely.normalize(result)


def subdivide(geoms: npt.ArrayLike, *, max_vertices: int = 256) -> tuple[GeomArray, IntArray]:
    """Cut polygons into pieces of at most about ``max_vertices`` vertices (like ST_Subdivide).

    Pieces of one input have disjoint interiors and cover it exactly (they may share edges),
    so sums of piece areas and unions of piece intersections equal those of the input, while
    every intersection with a piece stays cheap.

    Parameters
    ----------
    geoms
        Polygons / MultiPolygons (None and empty skipped), any CRS.
    max_vertices
        Split a piece while it has more vertices than this (at least 8).

    Returns
    -------
    (pieces, index)
        Polygon pieces and, for each, the position of its input geometry.
    """
    max_vertices = max(int(max_vertices), 8)
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    present = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    parts, idx = _polygon_parts(arr[present])
    idx = np.flatnonzero(present)[idx]
    done_p: list[GeomArray] = []
    done_i: list[IntArray] = []
    while len(parts):
        big = shapely.get_num_coordinates(parts) > max_vertices
        done_p.append(parts[~big])
        done_i.append(idx[~big])
        parts, idx = parts[big], idx[big]
        if not len(parts):
            break
        b = shapely.bounds(parts)
        wide = (b[:, 2] - b[:, 0]) >= (b[:, 3] - b[:, 1])
        mid = np.where(wide, (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
        # clip_by_rect takes scalar bounds only: one call per piece, each linear in its size
        lo = [
            shapely.clip_by_rect(p, x0, y0, m if w else x1, y1 if w else m)
            for p, (x0, y0, x1, y1), m, w in zip(parts, b, mid, wide, strict=True)
        ]
        hi = [
            shapely.clip_by_rect(p, m if w else x0, y0 if w else m, x1, y1)
            for p, (x0, y0, x1, y1), m, w in zip(parts, b, mid, wide, strict=True)
        ]
        halves = np.array(lo + hi, dtype=object)
        bad = ~shapely.is_valid(halves)
        if bad.any():  # rectangle clipping is fast but not guaranteed valid
            halves[bad] = shapely.make_valid(halves[bad])
        parts, sub = _polygon_parts(halves)
        idx = np.concatenate([idx, idx])[sub]
    if not done_p:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.intp)
    return np.concatenate(done_p), np.concatenate(done_i)


def _pairs(left: GeomArray, right: GeomArray) -> tuple[IntArray, IntArray]:
    """Index pairs (i, j) with left[i] intersecting right[j] (STRtree on ``right``)."""
    if not len(left) or not len(right):
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    i, j = shapely.STRtree(right).query(left, predicate="intersects")
    return i.astype(np.intp), j.astype(np.intp)


@dataclass(frozen=True)
class Pieces:
    """A polygonal area prepared once for many overlays: disjoint pieces of at most ~256
    vertices (see :func:`subdivide`), in the metric CRS of the analysis.

    Pass it wherever a level's coverage or the building footprints are expected so that a
    run subdivides each big geometry once instead of once per table.
    """

    geoms: GeomArray

    @property
    def area(self) -> float:
        """Total area in square metres (the pieces do not overlap)."""
        return float(shapely.area(self.geoms).sum()) if len(self.geoms) else 0.0


def _pieces(geom: Any) -> GeomArray:
    if isinstance(geom, Pieces):
        return geom.geoms
    if geom is None:
        return np.empty(0, dtype=object)
    return subdivide(np.array([geom], dtype=object))[0]


def coverage_pieces(coverage: Mapping[str, Any]) -> dict[str, Pieces]:
    """Every level's covered geometry as :class:`Pieces` (for repeated overlays)."""
    return {lv: g if isinstance(g, Pieces) else Pieces(_pieces(g)) for lv, g in coverage.items()}


def building_pieces(buildings: gpd.GeoDataFrame, *, workers: int = 1) -> Pieces:
    """Disjoint pieces of the union of the building footprints (metric CRS), computed once
    (the union in ``workers`` processes) and passed as ``buildings`` to
    :func:`blind_spots` and :func:`coverage_stats`."""
    return Pieces(_building_pieces(buildings, None, workers=workers))


# -- coverage per level -------------------------------------------------------------------------
def coverage_by_level(visible: gpd.GeoDataFrame, *, workers: int = 1) -> dict[str, MultiPolygon]:
    """Union of the visible polygons of each DORI level.

    Parameters
    ----------
    visible
        GeoDataFrame with ``camera_id``, ``level`` (one of :data:`LEVELS`) and polygonal
        ``geometry`` in a metric CRS (metres). Per camera the levels are nested (identify ⊂
        recognise ⊂ observe ⊂ detect), so a level's union is the union of its own rows.
    workers
        Processes for :func:`union_tiled`.

    Returns
    -------
    dict
        Every level of :data:`LEVELS` → MultiPolygon (empty when no row has that level).

    Raises
    ------
    CoverageError
        On a missing column, an unknown level, a geographic CRS or non-polygonal geometry.
    """
    _check_columns(visible, ("level",), "visible")
    _check_metric(visible.crs, "visible")
    _check_levels(visible["level"].unique(), "visible")
    geoms = _geometry_array(visible)
    level = visible["level"].to_numpy()
    return {lv: union_tiled(geoms[level == lv], workers=workers) for lv in LEVELS}


def _area_polygons(frame: gpd.GeoDataFrame, what: str) -> GeomArray:
    """Polygonal geometry of each row, repaired if invalid, as MultiPolygons."""
    arr = _geometry_array(frame)
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    types = shapely.get_type_id(arr[~missing])
    if (~np.isin(types, _POLYGONAL)).any():
        raise CoverageError(f"{what}: every geometry must be a Polygon or MultiPolygon")
    arr = arr.copy()
    arr[missing] = None
    bad = ~missing
    bad[bad] = ~shapely.is_valid(arr[bad])
    if bad.any():
        arr[bad] = shapely.make_valid(arr[bad])
    parts, idx = _polygon_parts(arr)
    return _multipolygons(parts, idx, len(arr))


def _building_pieces(
    buildings: gpd.GeoDataFrame | Pieces | None, crs: Any, *, workers: int = 1
) -> GeomArray:
    """Disjoint pieces of the union of the building footprints (empty without buildings)."""
    if isinstance(buildings, Pieces):
        return buildings.geoms
    if buildings is None or not len(buildings):
        return np.empty(0, dtype=object)
    if crs is not None and buildings.crs is not None and buildings.crs != crs:
        raise CoverageError(f"buildings are in {buildings.crs.name}, areas in {crs.name}")
    polys = _area_polygons(buildings, "buildings")
    return _pieces(union_tiled(polys, workers=workers))


def _grouped_union(geoms: GeomArray, group: IntArray, n: int) -> GeomArray:
    """Union of ``geoms`` per group id in ``range(n)`` (None where a group has none)."""
    out = np.full(n, None, dtype=object)
    if not len(geoms):
        return out
    order = np.argsort(group, kind="stable")
    geoms, group = geoms[order], group[order]
    keys, starts = np.unique(group, return_index=True)
    ends = np.r_[starts[1:], len(group)]
    out[keys] = [shapely.union_all(geoms[s:e]) for s, e in zip(starts, ends, strict=True)]
    return out


def blind_spots(
    key_areas: gpd.GeoDataFrame,
    coverage: Mapping[str, Any],
    *,
    buildings: gpd.GeoDataFrame | Pieces | None = None,
    min_area_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Parts of each key area not covered at the key area's required DORI level.

    Parameters
    ----------
    key_areas
        GeoDataFrame with ``key_area_id``, ``required_dori`` (one of :data:`LEVELS`) and
        polygonal ``geometry`` in a metric CRS (metres).
    coverage
        Level → covered geometry (e.g. from :func:`coverage_by_level`, or its
        :func:`coverage_pieces`), same CRS.
    buildings
        Optional building footprints (same CRS), or their :func:`building_pieces`. Their
        interiors cannot be seen from the street and are not counted as blind: they are
        removed from the blind spots.
    min_area_m2
        Blind polygons (each part) smaller than this many square metres are dropped as
        slivers.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per key area with a blind spot left: ``key_area_id``, ``dori_level`` (the
        required level), ``geometry`` (MultiPolygon), ``area_m2``; CRS of ``key_areas``.

    Raises
    ------
    CoverageError
        On missing columns, unknown levels, a level missing from ``coverage``, a geographic
        CRS, CRS mismatch or non-polygonal geometry.
    """
    _check_columns(key_areas, ("key_area_id", "required_dori"), "key_areas")
    _check_metric(key_areas.crs, "key_areas")
    required = key_areas["required_dori"].astype(str).to_numpy()
    _check_levels(required, "key_areas.required_dori")
    areas = _area_polygons(key_areas, "key_areas")
    n = len(areas)
    bld = _building_pieces(buildings, key_areas.crs)
    masks: list[GeomArray] = []
    groups: list[IntArray] = []
    for level in sorted(set(required)):
        rows = np.flatnonzero(required == level)
        blockers = np.concatenate([_pieces(_level_geometry(coverage, level)), bld])
        i, j = _pairs(areas[rows], blockers)
        masks.append(shapely.intersection(areas[rows][i], blockers[j]))
        groups.append(rows[i])
    if masks:
        seen = _grouped_union(np.concatenate(masks), np.concatenate(groups), n)
    else:
        seen = np.full(n, None, dtype=object)
    blind = np.asarray(areas, dtype=object).copy()
    hit = ~shapely.is_missing(seen)
    if hit.any():
        blind[hit] = shapely.difference(areas[hit], seen[hit])
    parts, idx = _polygon_parts(blind)
    keep = shapely.area(parts) >= min_area_m2
    parts, idx = parts[keep], idx[keep]
    rows = np.unique(idx)
    geoms = _multipolygons(parts, idx, n)[rows]
    return gpd.GeoDataFrame(
        {
            "key_area_id": key_areas["key_area_id"].to_numpy()[rows],
            "dori_level": required[rows],
            "area_m2": shapely.area(geoms),
        },
        geometry=gpd.GeoSeries(geoms, crs=key_areas.crs),
    )[["key_area_id", "dori_level", "geometry", "area_m2"]]


def _percent(part: npt.ArrayLike, whole: npt.ArrayLike) -> FloatArray:
    p, w = np.asarray(part, dtype=np.float64), np.asarray(whole, dtype=np.float64)
    out = np.full(len(w), np.nan)
    np.divide(100.0 * p, w, out=out, where=w > 0)
    return out


def _overlap_m2(pieces: GeomArray, owner: IntArray, n: int, other: GeomArray) -> FloatArray:
    """Area (m²) of ``pieces`` ∩ ``other`` summed per owner (0..n-1); ``other`` must not
    overlap itself (see :func:`_clipped`: pieces wholly inside count without an overlay)."""
    geoms, idx = _clipped(pieces, owner, other)
    return np.asarray(np.bincount(idx, weights=shapely.area(geoms), minlength=n),
                      dtype=np.float64)  # fmt: skip


def _clipped(pieces: GeomArray, owner: IntArray, other: GeomArray) -> tuple[GeomArray, IntArray]:
    """The parts of ``other`` inside each of ``pieces`` (with the piece's owner); pieces of
    ``other`` lying wholly inside are taken as they are, the others are intersected."""
    if not len(pieces) or not len(other):
        return np.empty(0, dtype=object), np.empty(0, dtype=np.intp)
    tree = shapely.STRtree(other)
    ci, cj = tree.query(pieces, predicate="contains_properly")
    i, j = tree.query(pieces, predicate="intersects")
    crossing = ~np.isin(i.astype(np.int64) * len(other) + j,
                        ci.astype(np.int64) * len(other) + cj)  # fmt: skip
    i, j = i[crossing], j[crossing]
    geoms = np.concatenate([other[cj], shapely.intersection(pieces[i], other[j])])
    return geoms, np.concatenate([owner[ci], owner[i]]).astype(np.intp)


def coverage_stats(
    areas: gpd.GeoDataFrame,
    coverage: Mapping[str, Any],
    *,
    buildings: gpd.GeoDataFrame | Pieces | None = None,
    id_column: str = "area_id",
    levels: Iterable[str] = LEVELS,
    coverage_excludes_buildings: bool = False,
) -> pd.DataFrame:
    """Coverage per area and DORI level: the yearly-assessment table.

    Two figures per row: the *total* one counts the whole area, building interiors included
    (``area_m2``, ``covered_m2``, ``covered_pct``); the *open* one leaves building interiors
    out of both the area and the covered part (``open_area_m2``, ``open_covered_m2``,
    ``open_covered_pct``), since a street camera cannot see into buildings. Without
    ``buildings`` the open figures equal the total ones.

    Parameters
    ----------
    areas
        GeoDataFrame with ``id_column`` and polygonal ``geometry`` in a metric CRS (metres),
        e.g. jurisdictions or key areas.
    coverage
        Level → covered geometry (e.g. from :func:`coverage_by_level`), same CRS.
    buildings
        Optional building footprints, same CRS (overlapping footprints are counted once), or
        their :func:`building_pieces`.
    id_column
        Column identifying the areas.
    levels
        Levels to report; each must be in ``coverage``.
    coverage_excludes_buildings
        True when the coverage holds no building interior (as everything built from
        :func:`gis.occlusion.visible_polygons` with these buildings: it drops the footprints),
        so the covered part of the open ground is the covered part itself and the costly
        overlay of the coverage with the buildings is skipped.

    Returns
    -------
    pandas.DataFrame
        One row per area and level (areas in input order, then levels): ``id_column``,
        ``level``, ``area_m2``, ``covered_m2``, ``covered_pct``, ``open_area_m2``,
        ``open_covered_m2``, ``open_covered_pct``; areas in m², percentages 0–100 (NaN for an
        area without surface).

    Raises
    ------
    CoverageError
        On a missing column or level, a geographic CRS, CRS mismatch or non-polygonal input.
    """
    _check_columns(areas, (id_column,), "areas")
    _check_metric(areas.crs, "areas")
    levels = tuple(levels)
    _check_levels(levels, "levels")
    polys = _area_polygons(areas, "areas")
    n = len(polys)
    a_pieces, a_idx = subdivide(polys)
    area_m2 = np.bincount(a_idx, weights=shapely.area(a_pieces), minlength=n)
    bld = _building_pieces(buildings, areas.crs)
    bld_m2 = _overlap_m2(a_pieces, a_idx, n, bld)
    frames = []
    for level in levels:
        cov = _pieces(_level_geometry(coverage, level))
        covered = _overlap_m2(a_pieces, a_idx, n, cov)
        if coverage_excludes_buildings or not len(bld):
            covered_bld = np.zeros(n)
        else:
            inter, owner = _clipped(a_pieces, a_idx, cov)
            covered_bld = _overlap_m2(inter, owner, n, bld)
        open_area = np.maximum(area_m2 - bld_m2, 0.0)
        open_covered = np.clip(covered - covered_bld, 0.0, open_area)
        frames.append(
            pd.DataFrame(
                {
                    id_column: areas[id_column].to_numpy(),
                    "level": level,
                    "area_m2": area_m2,
                    "covered_m2": covered,
                    "covered_pct": _percent(covered, area_m2),
                    "open_area_m2": open_area,
                    "open_covered_m2": open_covered,
                    "open_covered_pct": _percent(open_covered, open_area),
                    "_row": np.arange(n),
                }
            )
        )
    if not frames:
        raise CoverageError("levels is empty")
    out = pd.concat(frames, ignore_index=True)
    out["_lv"] = out["level"].map({lv: k for k, lv in enumerate(levels)})
    out = out.sort_values(["_row", "_lv"], kind="stable").drop(columns=["_row", "_lv"])
    return out.reset_index(drop=True)


# -- incidents ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Effectiveness:
    """Result of :func:`effectiveness`.

    Attributes
    ----------
    table
        One row per ``jurisdiction_id`` and ``period`` (month, ``"YYYY-MM"``): ``incidents``,
        ``covered`` (incidents where coverage reached the required level), ``covered_pct``
        (0–100).
    blind
        The incidents that fell in blind spots: the input rows plus ``required_level`` and
        ``period``, same CRS.
    """

    table: pd.DataFrame
    blind: gpd.GeoDataFrame


def effectiveness(
    incidents: gpd.GeoDataFrame,
    coverage: Mapping[str, Any],
    *,
    key_areas: gpd.GeoDataFrame | None = None,
    required_level: str | pd.Series = "observe",
    freq: str = "M",
) -> Effectiveness:
    """Share of incidents that happened where coverage reached the required DORI level.

    The level an incident needed is, in order of precedence: ``required_level`` when it is a
    Series (one level per incident, aligned on the index); else the strictest
    ``required_dori`` of the ``key_areas`` containing the incident; else ``required_level``
    (the default for incidents outside every key area). A point on the edge of the covered
    area counts as covered.

    Parameters
    ----------
    incidents
        GeoDataFrame of Points in a metric CRS (metres) with ``jurisdiction_id`` and
        ``occurred_at`` (datetime; months are taken in the timestamps' own time zone).
    coverage
        Level → covered geometry (e.g. from :func:`coverage_by_level`), same CRS.
    key_areas
        Optional key areas (``required_dori``, polygonal ``geometry``), same CRS.
    required_level
        A level of :data:`LEVELS`, or a Series of levels indexed like ``incidents``.
    freq
        pandas period frequency of the table ("M" month, "Q" quarter, "Y" year).

    Returns
    -------
    Effectiveness
        ``table`` per jurisdiction and period, and the ``blind`` incidents.

    Raises
    ------
    CoverageError
        On missing columns, unknown levels, non-point or missing geometries, a geographic CRS.
    """
    _check_columns(incidents, ("jurisdiction_id", "occurred_at"), "incidents")
    _check_metric(incidents.crs, "incidents")
    pts = _geometry_array(incidents)
    bad = shapely.is_missing(pts) | shapely.is_empty(pts)
    bad[~bad] = shapely.get_type_id(pts[~bad]) != shapely.GeometryType.POINT
    if bad.any():
        raise CoverageError(
            f"incidents: {int(bad.sum())} row(s) without a Point geometry, e.g. index "
            f"{incidents.index[np.flatnonzero(bad)[0]]!r}"
        )
    n = len(pts)
    if isinstance(required_level, pd.Series):
        need = required_level.reindex(incidents.index).to_numpy(dtype=object)
        if pd.isna(need).any():
            raise CoverageError("required_level Series has no level for some incidents")
        need = need.astype(str)
    else:
        need = np.full(n, str(required_level), dtype=object)
        if key_areas is not None and len(key_areas):
            _check_columns(key_areas, ("required_dori",), "key_areas")
            ka_level = key_areas["required_dori"].astype(str).to_numpy()
            _check_levels(ka_level, "key_areas.required_dori")
            i, j = _pairs(pts, _area_polygons(key_areas, "key_areas"))
            rank = np.array([LEVELS.index(v) for v in ka_level], dtype=np.intp)
            strictest = np.full(n, -1)
            np.maximum.at(strictest, i, rank[j])
            inside = strictest >= 0
            need[inside] = np.asarray(LEVELS, dtype=object)[strictest[inside]]
    _check_levels(np.unique(need.astype(str)), "required_level")
    covered = np.zeros(n, dtype=bool)
    for level in np.unique(need.astype(str)):
        rows = np.flatnonzero(need == level)
        i, _ = _pairs(pts[rows], _pieces(_level_geometry(coverage, str(level))))
        covered[rows[np.unique(i)]] = True
    when = pd.to_datetime(incidents["occurred_at"])
    if isinstance(when.dtype, pd.DatetimeTZDtype):
        when = when.dt.tz_localize(None)
    period = when.dt.to_period(freq).astype(str).to_numpy()
    frame = pd.DataFrame(
        {
            "jurisdiction_id": incidents["jurisdiction_id"].to_numpy(),
            "period": period,
            "incidents": 1,
            "covered": covered.astype(np.int64),
        }
    )
    table = frame.groupby(["jurisdiction_id", "period"], sort=True, as_index=False)[
        ["incidents", "covered"]
    ].sum()
    table["covered_pct"] = _percent(
        table["covered"].to_numpy(dtype=np.float64), table["incidents"].to_numpy(dtype=np.float64)
    )
    blind = incidents.loc[~covered].copy()
    blind["required_level"] = need[~covered].astype(str)
    blind["period"] = period[~covered]
    return Effectiveness(table=table, blind=blind)
