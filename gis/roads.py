"""Road coverage per DORI level (covered length, uncovered stretches) and the completeness of
checkpoints on the roads entering the city. Geometries in one metric CRS (metres).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.coverage import LEVELS, CoverageError, subdivide

__all__ = [
    "ENTRY_CLASSES",
    "RoadError",
    "checkpoint_completeness",
    "entry_roads",
    "longest_unseen",
    "road_coverage",
    "road_summary",
]

GeomArray = npt.NDArray[np.object_]
IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

_MAIN = ("motorway", "trunk", "primary", "secondary", "tertiary")
ENTRY_CLASSES: tuple[str, ...] = (
    *_MAIN,
    "unclassified",
    "residential",
    *(f"{c}_link" for c in _MAIN),
)
"""OSM ``highway`` classes a vehicle can enter the city by."""

_FORWARD = {"yes", "true", "1", "forward"}
_REVERSE = {"-1", "reverse", "backward"}


class RoadError(CoverageError):
    """Road input a road computation cannot use (geometry type, column, CRS, level)."""


def _lines(roads: gpd.GeoDataFrame) -> GeomArray:
    """The roads' LineStrings; anything else is an error naming the road."""
    if "road_id" not in roads.columns:
        raise RoadError("roads lacks column road_id")
    if roads.crs is not None and not roads.crs.is_projected:
        raise RoadError(f"roads must be in a metric (projected) CRS, got {roads.crs.name}")
    geoms = np.asarray(roads.geometry.array, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    ok[ok] = shapely.get_type_id(geoms[ok]) == shapely.GeometryType.LINESTRING
    if not ok.all():
        first = roads["road_id"].to_numpy()[np.flatnonzero(~ok)[0]]
        raise RoadError(
            f"roads: {int((~ok).sum())} road(s) without a LineString geometry, e.g. road_id "
            f"{first!r} (split MultiLineStrings into one row per part)"
        )
    return geoms


def _coverage_pieces(
    visible: gpd.GeoDataFrame | Mapping[str, Any], levels: Sequence[str]
) -> tuple[GeomArray, IntArray]:
    """Small polygons covering each level, with the position of their level in ``levels``."""
    if isinstance(visible, gpd.GeoDataFrame):
        if "level" not in visible.columns:
            raise RoadError("visible lacks column level")
        geoms = np.asarray(visible.geometry.array, dtype=object)
        lv = visible["level"].astype(str).to_numpy()
        pieces, idx = subdivide(geoms)
        code = np.full(len(geoms), -1, dtype=np.intp)
        for k, name in enumerate(levels):
            code[lv == name] = k
        code = code[idx]
        return pieces[code >= 0], code[code >= 0]
    missing = [lv for lv in levels if lv not in visible]
    if missing:
        raise RoadError(f"coverage has no level(s) {missing} (has {sorted(visible)})")
    pieces, idx = subdivide(np.array([visible[lv] for lv in levels], dtype=object))
    return pieces, idx.astype(np.intp)


def _merge_intervals(
    key: IntArray, start: FloatArray, end: FloatArray, span: FloatArray, tol: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Union of 1-D intervals per key: sort, then a running maximum of the ends.

    ``span[key]`` bounds the positions of a key; it only separates keys in the running
    maximum, the merged intervals keep the original numbers.
    """
    if not len(key):
        return key, start, end
    order = np.lexsort((start, key))
    key, start, end = key[order], start[order], end[order]
    base = np.r_[0.0, np.cumsum(span + 1.0)][key]  # keys never overlap once shifted
    reach = np.maximum.accumulate(end + base)
    new = np.ones(len(key), dtype=bool)
    new[1:] = (key[1:] != key[:-1]) | (start[1:] + base[1:] > reach[:-1] + tol)
    first = np.flatnonzero(new)
    return key[first], start[first], np.maximum.reduceat(end, first)


def road_coverage(
    roads: gpd.GeoDataFrame,
    visible: gpd.GeoDataFrame | Mapping[str, Any],
    *,
    levels: Iterable[str] = LEVELS,
    tolerance_m: float = 1e-6,
) -> pd.DataFrame:
    """Covered and uncovered length of each road at each DORI level.

    Each road is cut into its straight segments; an STRtree gives the (segment, polygon)
    pairs that meet, one vectorised ``shapely.intersection`` the pieces of road inside each
    polygon (MultiLineStrings split into parts, points dropped). A piece's vertices are
    projected onto its straight segment (the per-segment form of ``line_locate_point``, which
    stays exact on roads that loop or touch themselves) to give a [start, end] interval along
    the road, and the intervals are merged per road in 1-D (sort + running maximum). Nothing
    is ever intersected with one giant union, and a road lying exactly on a polygon edge is
    covered (polygons are closed).

    Parameters
    ----------
    roads
        GeoDataFrame with ``road_id`` and LineString ``geometry`` in a metric CRS (metres).
    visible
        Either the visible polygons (GeoDataFrame with ``level`` and polygonal ``geometry``)
        or level → covered geometry (e.g. from ``coverage.coverage_by_level``); same CRS.
    levels
        Levels to report, in output order.
    tolerance_m
        Gaps between covered intervals up to this length (metres) are closed, and uncovered
        intervals no longer than it are not reported (floating-point noise).

    Returns
    -------
    pandas.DataFrame
        One row per road (input order) and level: ``road_id``, ``level``, ``length_m``,
        ``covered_m``, ``covered_pct`` (0–100; NaN for a zero-length road) and
        ``uncovered_intervals`` — a float array of shape (k, 2) of [start_m, end_m] distances
        from the road's first vertex, in order.

    Raises
    ------
    RoadError
        On a missing column or level, a geographic CRS, or a road that is not a LineString.
    """
    levels = tuple(levels)
    bad = sorted(set(levels) - set(LEVELS))
    if bad:
        raise RoadError(f"unknown DORI level(s) {bad}; expected some of {LEVELS}")
    lines = _lines(roads)
    pieces, piece_level = _coverage_pieces(visible, levels)
    n_roads, n_levels = len(lines), len(levels)
    length = shapely.length(lines)

    # straight segments of every road, with their offset along the road
    xy, road_of = shapely.get_coordinates(lines, return_index=True)
    same = road_of[1:] == road_of[:-1]
    a, b, seg_road = xy[:-1][same], xy[1:][same], road_of[:-1][same].astype(np.intp)
    seg_len = np.hypot(*(b - a).T)
    cum = np.cumsum(seg_len)
    first_seg = np.r_[True, seg_road[1:] != seg_road[:-1]]
    road_start = np.maximum.accumulate(np.where(first_seg, cum - seg_len, 0.0))
    seg_off = cum - seg_len - road_start
    keep = seg_len > 0
    a, b, seg_road, seg_len, seg_off = (
        a[keep],
        b[keep],
        seg_road[keep],
        seg_len[keep],
        seg_off[keep],
    )
    segments = shapely.linestrings(np.stack([a, b], axis=1))

    key_l: list[IntArray] = []
    start_l: list[FloatArray] = []
    end_l: list[FloatArray] = []
    if len(segments) and len(pieces):
        si, pj = shapely.STRtree(pieces).query(segments, predicate="intersects")
        inter = shapely.intersection(segments[si], pieces[pj])
        parts, pi = shapely.get_parts(inter, return_index=True)
        parts, pi2 = shapely.get_parts(parts, return_index=True)  # collections nest lines
        pi = pi[pi2]
        is_line = shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING
        parts, pi = parts[is_line], pi[is_line]
        if len(parts):
            pxy, part_of = shapely.get_coordinates(parts, return_index=True)
            seg = si[pi][part_of]
            u = (b[seg] - a[seg]) / seg_len[seg][:, None]
            t = np.clip(np.einsum("ij,ij->i", pxy - a[seg], u), 0.0, seg_len[seg])
            bounds_at = np.flatnonzero(np.r_[True, part_of[1:] != part_of[:-1]])
            t_lo = np.minimum.reduceat(t, bounds_at)
            t_hi = np.maximum.reduceat(t, bounds_at)
            seg_p = si[pi]
            key_l.append(seg_road[seg_p] * n_levels + piece_level[pj[pi]])
            start_l.append(seg_off[seg_p] + t_lo)
            end_l.append(seg_off[seg_p] + t_hi)
    key = np.concatenate(key_l) if key_l else np.empty(0, dtype=np.intp)
    start = np.concatenate(start_l) if start_l else np.empty(0)
    end = np.concatenate(end_l) if end_l else np.empty(0)
    keep = end > start
    n_keys = n_roads * n_levels
    span = np.repeat(length, n_levels)
    key, start, end = _merge_intervals(key[keep], start[keep], end[keep], span, tolerance_m)
    end = np.minimum(end, span[key])
    covered = np.minimum(np.bincount(key, weights=end - start, minlength=n_keys), span)

    # gaps: before each merged interval, and after the last one of each key
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    prev_end = np.where(first, 0.0, np.r_[0.0, end[:-1]])
    last_end = np.zeros(n_keys)
    last_end[key] = end  # the last write per key wins: the last interval's end
    g_key = np.r_[key, np.arange(n_keys)]
    g_start = np.r_[prev_end, last_end]
    g_end = np.r_[start, span]
    gap = g_end - g_start > tolerance_m
    g_key, g_start, g_end = g_key[gap], g_start[gap], g_end[gap]
    order = np.lexsort((g_start, g_key))
    g_key, gaps = g_key[order], np.stack([g_start[order], g_end[order]], axis=1)
    cuts = np.searchsorted(g_key, np.arange(1, n_keys))
    uncovered = np.split(gaps, cuts)

    out = pd.DataFrame(
        {
            "road_id": np.repeat(roads["road_id"].to_numpy(), n_levels),
            "level": np.tile(np.asarray(levels, dtype=object), n_roads),
            "length_m": span,
            "covered_m": covered,
        }
    )
    pct = np.full(n_keys, np.nan)
    np.divide(100.0 * covered, span, out=pct, where=span > 0)
    out["covered_pct"] = pct
    col = np.empty(n_keys, dtype=object)
    col[:] = uncovered
    out["uncovered_intervals"] = col
    return out


def road_summary(
    cov: pd.DataFrame, roads: gpd.GeoDataFrame, *, by: str = "road_class"
) -> pd.DataFrame:
    """Kilometres and share of road covered per road class (and per jurisdiction).

    Parameters
    ----------
    cov
        Output of :func:`road_coverage`.
    roads
        The roads it was computed for, with ``road_id`` (unique) and the ``by`` column;
        when it has ``jurisdiction_id`` the summary is per jurisdiction too.
    by
        Column of ``roads`` to group by.

    Returns
    -------
    pandas.DataFrame
        ``[jurisdiction_id,] by, level, roads, length_km, covered_km, covered_pct`` (0–100),
        sorted by the group keys, levels in DORI order.

    Raises
    ------
    RoadError
        On a missing column or duplicate ``road_id``.
    """
    keys = (["jurisdiction_id"] if "jurisdiction_id" in roads.columns else []) + [by]
    missing = [c for c in ["road_id", *keys] if c not in roads.columns]
    if missing:
        raise RoadError(f"roads lacks column(s) {', '.join(missing)}")
    if roads["road_id"].duplicated().any():
        raise RoadError("roads.road_id must be unique to summarise coverage")
    attrs = pd.DataFrame(roads[["road_id", *keys]])
    joined = cov.merge(attrs, on="road_id", how="left", validate="many_to_one")
    joined["_lv"] = joined["level"].map({lv: k for k, lv in enumerate(LEVELS)})
    out = (
        joined.groupby([*keys, "_lv", "level"], sort=True, dropna=False)
        .agg(
            roads=("road_id", "size"), length_m=("length_m", "sum"), covered_m=("covered_m", "sum")
        )
        .reset_index()
    )
    out["length_km"] = out["length_m"] / 1000.0
    out["covered_km"] = out["covered_m"] / 1000.0
    length = out["length_m"].to_numpy(dtype=float)
    pct = np.full(len(out), np.nan)
    np.divide(100.0 * out["covered_m"].to_numpy(dtype=float), length, out=pct, where=length > 0)
    out["covered_pct"] = pct
    return out[[*keys, "level", "roads", "length_km", "covered_km", "covered_pct"]]


def _substrings(lines: GeomArray, start: FloatArray, end: FloatArray) -> GeomArray:
    """Part of each line between distances ``start`` < ``end`` (metres along the line)."""
    n = len(lines)
    if not n:
        return np.empty(0, dtype=object)
    xy, of = shapely.get_coordinates(lines, return_index=True)
    step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
    step[np.r_[True, of[1:] != of[:-1]]] = 0.0
    dist = np.cumsum(step)
    dist -= np.minimum.reduceat(dist, np.flatnonzero(np.r_[True, of[1:] != of[:-1]]))[
        np.cumsum(np.r_[True, of[1:] != of[:-1]]) - 1
    ]
    inner = (dist > start[of]) & (dist < end[of])
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines, start))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines, end))
    coords = np.concatenate([p0, xy[inner], p1])
    owner = np.concatenate([np.arange(n), of[inner], np.arange(n)])
    rank = np.concatenate([np.full(n, -np.inf), dist[inner], np.full(n, np.inf)])
    order = np.lexsort((rank, owner))
    return np.asarray(shapely.linestrings(coords[order], indices=owner[order]), dtype=object)


def longest_unseen(
    cov: pd.DataFrame, roads: gpd.GeoDataFrame, level: str, n: int = 10
) -> gpd.GeoDataFrame:
    """The ``n`` longest uncovered stretches of road at ``level``, as lines.

    Parameters
    ----------
    cov
        Output of :func:`road_coverage` for ``roads``.
    roads
        GeoDataFrame with unique ``road_id`` and LineString ``geometry`` (metric CRS).
    level
        DORI level.
    n
        How many stretches.

    Returns
    -------
    geopandas.GeoDataFrame
        ``road_id``, ``level``, ``start_m``, ``end_m`` (distances from the road's first
        vertex), ``length_m``, LineString ``geometry``; longest first (ties by road order,
        then start), CRS of ``roads``.

    Raises
    ------
    RoadError
        On an unknown level or a road of ``cov`` missing from ``roads``.
    """
    if level not in LEVELS:
        raise RoadError(f"unknown DORI level {level!r}; expected one of {LEVELS}")
    lines = _lines(roads)
    rows = cov[cov["level"] == level]
    pos = pd.Index(roads["road_id"]).get_indexer(rows["road_id"])
    if (pos < 0).any():
        raise RoadError("cov has road_id(s) not in roads")
    counts = np.array([len(iv) for iv in rows["uncovered_intervals"]], dtype=np.intp)
    if counts.sum():
        iv = np.concatenate(
            [np.asarray(v, dtype=float).reshape(-1, 2) for v in rows["uncovered_intervals"]]
        )
    else:
        iv = np.empty((0, 2))
    road = np.repeat(pos, counts)
    length = iv[:, 1] - iv[:, 0]
    top = np.lexsort((iv[:, 0], road, -length))[: max(int(n), 0)]
    geoms = _substrings(lines[road[top]], iv[top, 0], iv[top, 1])
    return gpd.GeoDataFrame(
        {
            "road_id": roads["road_id"].to_numpy()[road[top]],
            "level": level,
            "start_m": iv[top, 0],
            "end_m": iv[top, 1],
            "length_m": length[top],
        },
        geometry=gpd.GeoSeries(geoms, crs=roads.crs),
    )


def _oneway(values: pd.Series) -> npt.NDArray[np.int8]:
    """+1 oneway along the geometry, -1 against it (OSM ``oneway=-1``), 0 both ways."""
    out = np.zeros(len(values), dtype=np.int8)
    for k, v in enumerate(values.to_numpy(dtype=object)):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, bool | np.bool_):
            out[k] = 1 if v else 0
            continue
        s = str(v).strip().lower()
        out[k] = 1 if s in _FORWARD else -1 if s in _REVERSE else 0
    return out


def _lanes(values: Any, n: int) -> pd.Series:
    """Whole lane counts as nullable integers (unknown or unparsable → <NA>)."""
    if values is None:
        return pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    num = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    num = num.where((num == num.round()) & (num > 0))
    return num.astype("Int64")


def entry_roads(
    roads: gpd.GeoDataFrame,
    boundary: Any,
    *,
    classes: Iterable[str] | None = ENTRY_CLASSES,
    tolerance_m: float = 1e-6,
) -> gpd.GeoDataFrame:
    """Every crossing of the city boundary by a road, with the directions it carries across.

    A crossing is a place where a road passes from outside to inside the boundary or back
    (stretches running along the boundary are skipped over). A road that ends on the boundary
    and runs inside counts as crossing there (extracts are often clipped at the boundary);
    a road crossing twice gives two rows.

    Parameters
    ----------
    roads
        GeoDataFrame with ``road_id`` and LineString ``geometry`` in a metric CRS (metres);
        optional ``road_class`` (OSM ``highway``), ``name``, ``oneway`` (OSM values: yes/true/1
        along the geometry, -1 against it, anything else both ways; a oneway road's geometry
        is its direction of travel) and ``lanes``.
    boundary
        The city (Polygon/MultiPolygon), same CRS.
    classes
        Road classes to consider (None: all); needs ``road_class`` unless None.
    tolerance_m
        Distance (metres) within which a road end counts as on the boundary.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per crossing: ``road_id``, ``name``, ``road_class``, ``oneway`` (bool),
        ``lanes`` (Int64, <NA> unknown), ``directions`` (tuple of "in"/"out" that traffic
        takes across the boundary there), ``position_m`` (distance from the road's first
        vertex), Point ``geometry``; CRS of ``roads``.

    Raises
    ------
    RoadError
        On a missing column, a geographic CRS, a non-LineString road or a non-polygonal
        boundary.
    """
    if boundary is None or shapely.get_type_id(boundary) not in (3, 6) or boundary.is_empty:
        raise RoadError("boundary must be a non-empty Polygon or MultiPolygon")
    if classes is not None:
        if "road_class" not in roads.columns:
            raise RoadError("roads lacks column road_class (pass classes=None to keep all)")
        roads = roads[roads["road_class"].isin(list(classes))]
    lines = _lines(roads)
    ring = shapely.boundary(boundary)
    shapely.prepare(ring)
    shapely.prepare(boundary)
    cand = np.flatnonzero(shapely.intersects(ring, lines))
    rows: list[tuple[int, float, int]] = []  # (road row, position, +1 forward in / -1 out)
    if len(cand):
        inter = shapely.intersection(lines[cand], ring)
        pxy, of = shapely.get_coordinates(inter, return_index=True)
        pos = shapely.line_locate_point(lines[cand][of], shapely.points(pxy))
        length = shapely.length(lines[cand])
        for k, r in enumerate(cand):
            cuts = np.unique(np.r_[0.0, pos[of == k], length[k]])
            if len(cuts) < 2:
                continue
            mids = shapely.line_interpolate_point(lines[r], (cuts[:-1] + cuts[1:]) / 2)
            state = np.where(
                shapely.contains(boundary, mids), 1, np.where(shapely.intersects(ring, mids), 0, -1)
            )
            ends_on = shapely.dwithin(
                ring, shapely.line_interpolate_point(lines[r], [0.0, length[k]]), tolerance_m
            )
            seq = [(-1, cuts[0])] if ends_on[0] else []  # virtual outside beyond a clipped end
            seq += [(int(s), float(c)) for s, c in zip(state, cuts[:-1], strict=True)]
            seq += [(-1, cuts[-1])] if ends_on[1] else []
            prev_side, prev_end = 0, 0.0
            for i, (side, at) in enumerate(seq):
                if side == 0:
                    continue
                if prev_side and side != prev_side:
                    # crossing where the inside stretch begins / ends
                    rows.append((int(r), float(at if side == 1 else prev_end), side))
                prev_side = side
                prev_end = seq[i + 1][1] if i + 1 < len(seq) else float(cuts[-1])
    r_idx = np.array([t[0] for t in rows], dtype=np.intp)
    at = np.array([t[1] for t in rows], dtype=float)
    way = np.array([t[2] for t in rows], dtype=np.int8)
    oneway = (
        _oneway(roads["oneway"].iloc[r_idx])
        if "oneway" in roads.columns
        else np.zeros(len(r_idx), dtype=np.int8)
    )
    directions = [
        ("in", "out") if o == 0 else (("in",) if o * w > 0 else ("out",))
        for o, w in zip(oneway, way, strict=True)
    ]

    def column(name: str) -> Any:
        return roads[name].to_numpy()[r_idx] if name in roads.columns else [None] * len(r_idx)

    geoms = shapely.line_interpolate_point(lines[r_idx], at) if len(rows) else []
    return gpd.GeoDataFrame(
        {
            "road_id": roads["road_id"].to_numpy()[r_idx],
            "name": column("name"),
            "road_class": column("road_class"),
            "oneway": oneway != 0,
            "lanes": _lanes(column("lanes"), len(r_idx)).to_numpy(),
            "directions": pd.Series(directions, dtype=object).to_numpy(),
            "position_m": at,
        },
        geometry=gpd.GeoSeries(geoms, crs=roads.crs),
    )


def _directions(value: Any) -> frozenset[str]:
    """A checkpoint's directions: "in", "out", "both", "in,out" or a list of those."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return frozenset()
    items = [value] if isinstance(value, str) else list(value)
    out: set[str] = set()
    for item in items:
        for part in str(item).replace(";", ",").split(","):
            p = part.strip().lower()
            if p == "both":
                out |= {"in", "out"}
            elif p in ("in", "out"):
                out.add(p)
            elif p:
                raise RoadError(f"checkpoint direction {p!r}: expected in, out or both")
    return frozenset(out)


def checkpoint_completeness(
    entries: gpd.GeoDataFrame,
    checkpoints: gpd.GeoDataFrame,
    *,
    max_distance_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Whether each entry crossing is watched by checkpoints for every direction and lane.

    The checkpoints of a crossing are those whose ``road_id`` is the crossing's road (at any
    distance) plus those without a ``road_id`` within ``max_distance_m`` of the crossing;
    a checkpoint tied to another road never counts. Together they must watch every
    direction the road carries across the boundary and, when the lanes of the road and of
    every such checkpoint are known, at least as many lanes as the road has (the checkpoints'
    lanes are summed: one per carriageway direction is fine).

    Parameters
    ----------
    entries
        Output of :func:`entry_roads` (``road_id``, ``directions``, ``lanes``, Point
        ``geometry``), metric CRS (metres).
    checkpoints
        GeoDataFrame with ``checkpoint_id``, ``directions`` ("in", "out", "both" or a list)
        and Point ``geometry`` in the same CRS; optional ``road_id`` and ``lanes``.
    max_distance_m
        Search radius (metres) for checkpoints not tied to a road.

    Returns
    -------
    geopandas.GeoDataFrame
        ``entries`` plus ``checkpoint_ids`` (tuple, nearest first), ``distance_m`` (to the
        nearest; NaN when none), ``covered_directions`` (tuple), ``status`` ("covered",
        "partial" or "missing") and ``missing`` (what is lacking, "" when covered).

    Raises
    ------
    RoadError
        On missing columns, a CRS mismatch, a geographic CRS or an unknown direction.
    """
    for frame, cols, what in (
        (entries, ("road_id", "directions"), "entries"),
        (checkpoints, ("checkpoint_id", "directions"), "checkpoints"),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise RoadError(f"{what} lacks column(s) {', '.join(missing)}")
    if entries.crs is not None and not entries.crs.is_projected:
        raise RoadError(f"entries must be in a metric (projected) CRS, got {entries.crs.name}")
    if entries.crs is not None and checkpoints.crs is not None and entries.crs != checkpoints.crs:
        raise RoadError(f"checkpoints are in {checkpoints.crs.name}, entries in {entries.crs.name}")
    e_pts = np.asarray(entries.geometry.array, dtype=object)
    c_pts = np.asarray(checkpoints.geometry.array, dtype=object)
    c_dirs = [_directions(v) for v in checkpoints["directions"]]
    c_ids = checkpoints["checkpoint_id"].to_numpy()
    c_lanes = _lanes(
        checkpoints["lanes"] if "lanes" in checkpoints.columns else None, len(checkpoints)
    )
    c_road = (
        checkpoints["road_id"]
        if "road_id" in checkpoints.columns
        else pd.Series([None] * len(checkpoints), dtype=object)
    )
    untied = c_road.isna().to_numpy()
    e_lanes = _lanes(entries["lanes"] if "lanes" in entries.columns else None, len(entries))
    by_road: dict[Any, list[int]] = {}
    for j, rid in enumerate(c_road.to_numpy()):
        if not untied[j]:
            by_road.setdefault(rid, []).append(j)
    near: list[list[int]] = [[] for _ in range(len(entries))]
    if untied.any() and len(entries):
        ei, cj = shapely.STRtree(c_pts[untied]).query(
            e_pts, predicate="dwithin", distance=max_distance_m
        )
        for i, j in zip(ei, np.flatnonzero(untied)[cj], strict=True):
            near[i].append(int(j))
    ids_col, dist_col, dirs_col, status_col, missing_col = [], [], [], [], []
    for i, (rid, need_raw) in enumerate(
        zip(entries["road_id"], entries["directions"], strict=True)
    ):
        cand = sorted(set(by_road.get(rid, [])) | set(near[i]))
        dist = shapely.distance(e_pts[i], c_pts[cand]) if cand else np.empty(0)
        order = np.lexsort((np.asarray(cand), dist)) if cand else np.empty(0, dtype=np.intp)
        cand = [cand[k] for k in order]
        need = _directions(need_raw)
        have = frozenset().union(*(c_dirs[j] for j in cand)) if cand else frozenset()
        lacking: list[str] = []
        if not cand:
            status = "missing"
            lacking.append("no checkpoint on this road")
        else:
            lacking += [
                f"no checkpoint for direction {d}"
                for d in ("in", "out")
                if d in need and d not in have
            ]
            lanes = [c_lanes.iloc[j] for j in cand]
            road_lanes = e_lanes.iloc[i]
            if not pd.isna(road_lanes) and lanes and not any(pd.isna(v) for v in lanes):
                total = int(sum(int(v) for v in lanes))
                if total < int(road_lanes):
                    lacking.append(f"checkpoint lanes {total} < road lanes {int(road_lanes)}")
            status = "partial" if lacking else "covered"
        ids_col.append(tuple(c_ids[cand]))
        dist_col.append(float(dist[order][0]) if cand else np.nan)
        dirs_col.append(tuple(d for d in ("in", "out") if d in have))
        status_col.append(status)
        missing_col.append("; ".join(lacking))
    out = entries.copy()
    out["checkpoint_ids"] = pd.Series(ids_col, index=out.index, dtype=object)
    out["distance_m"] = np.asarray(dist_col, dtype=float)
    out["covered_directions"] = pd.Series(dirs_col, index=out.index, dtype=object)
    out["status"] = status_col
    out["missing"] = missing_col
    return out
