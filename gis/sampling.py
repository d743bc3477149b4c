"""Points along lines: regular sampling, tangent bearings, side offsets, boundary crossings and
junctions. All coordinates are in one projected (metric) CRS; bearings are degrees clockwise
from that CRS's grid north.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

__all__ = [
    "Crossings",
    "Junctions",
    "bearing_at_deg",
    "bearing_deg",
    "boundary_crossings",
    "junctions",
    "offset_xy",
    "positions_along",
    "step_inside",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def positions_along(
    lengths_m: npt.ArrayLike, spacing_m: npt.ArrayLike, phase_m: npt.ArrayLike
) -> tuple[IntArray, FloatArray]:
    """Regularly spaced positions along lines.

    Position k on line i is at ``phase_m[i] + k * spacing_m[i]`` for every such distance below
    the line's length, so a line of length L gets about L / spacing positions whatever its phase
    (a random phase in [0, spacing) makes short lines get a position with probability
    L / spacing instead of never).

    Parameters
    ----------
    lengths_m
        Length of each line (metres), shape (n,).
    spacing_m
        Spacing per line (metres, > 0), scalar or shape (n,).
    phase_m
        Distance of the first position from the line's start (metres, >= 0), scalar or (n,).

    Returns
    -------
    line_index, distance_m
        For every position, the index of its line and its distance from the line's start.

    Raises
    ------
    ValueError
        When a spacing is not positive or a phase negative.
    """
    lengths = np.asarray(lengths_m, dtype=np.float64)
    spacing = np.broadcast_to(np.asarray(spacing_m, dtype=np.float64), lengths.shape)
    phase = np.broadcast_to(np.asarray(phase_m, dtype=np.float64), lengths.shape)
    if np.any(spacing <= 0):
        raise ValueError("spacing_m must be > 0 for every line")
    if np.any(phase < 0):
        raise ValueError("phase_m must be >= 0 for every line")
    counts = np.maximum(np.ceil((lengths - phase) / spacing), 0).astype(np.intp)
    line_index = np.repeat(np.arange(len(lengths), dtype=np.intp), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(counts.sum(), dtype=np.intp) - np.repeat(starts, counts)
    distance = phase[line_index] + k * spacing[line_index]
    return line_index, distance


def bearing_deg(dx: npt.ArrayLike, dy: npt.ArrayLike) -> FloatArray:
    """Grid bearing of a vector (dx east, dy north), degrees clockwise from grid north in
    [0, 360)."""
    return np.mod(np.degrees(np.arctan2(dx, dy)), 360.0)


def bearing_at_deg(
    lines: npt.ArrayLike, distance_m: npt.ArrayLike, delta_m: float = 1.0
) -> FloatArray:
    """Direction of travel along each line at a distance from its start.

    Parameters
    ----------
    lines
        LineStrings in a metric CRS.
    distance_m
        Distance from each line's start (metres).
    delta_m
        Half-length of the chord used as tangent (metres).

    Returns
    -------
    numpy.ndarray
        Grid bearing of the chord from ``d - delta`` to ``d + delta`` (clamped to the line),
        degrees clockwise from grid north in [0, 360).
    """
    geoms = np.asarray(lines, dtype=object)
    d = np.asarray(distance_m, dtype=np.float64)
    lengths = shapely.length(geoms)
    a = shapely.line_interpolate_point(geoms, np.clip(d - delta_m, 0.0, lengths))
    b = shapely.line_interpolate_point(geoms, np.clip(d + delta_m, 0.0, lengths))
    return bearing_deg(shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a))


def offset_xy(
    x_m: npt.ArrayLike, y_m: npt.ArrayLike, bearing_deg_: npt.ArrayLike, right_m: npt.ArrayLike,
    ahead_m: npt.ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Move points relative to a heading.

    Parameters
    ----------
    x_m, y_m
        Coordinates in a metric CRS (metres).
    bearing_deg_
        Heading, degrees clockwise from grid north.
    right_m
        Distance to the right of the heading (negative: to the left), metres.
    ahead_m
        Distance along the heading, metres.

    Returns
    -------
    x_m, y_m
        Moved coordinates.
    """
    a = np.radians(np.asarray(bearing_deg_, dtype=np.float64))
    sin, cos = np.sin(a), np.cos(a)
    right = np.asarray(right_m, dtype=np.float64)
    ahead = np.asarray(ahead_m, dtype=np.float64)
    x = np.asarray(x_m, dtype=np.float64) + ahead * sin + right * cos
    y = np.asarray(y_m, dtype=np.float64) + ahead * cos - right * sin
    return x, y


@dataclass(frozen=True)
class Crossings:
    """Places where lines pass from one side of a polygon's boundary to the other.

    Attributes
    ----------
    line_index
        Index of the crossing line.
    distance_m
        Distance of the crossing from the line's start (metres), sorted within each line.
    enters
        True when the line's direction goes from outside to inside there.
    """

    line_index: IntArray
    distance_m: FloatArray
    enters: npt.NDArray[np.bool_]


def boundary_crossings(
    lines: npt.ArrayLike, polygon: shapely.Geometry, probe_m: float = 0.5
) -> Crossings:
    """Where lines cross a polygon's boundary (touching without crossing is ignored).

    Parameters
    ----------
    lines
        LineStrings in a metric CRS.
    polygon
        Polygon or MultiPolygon in the same CRS.
    probe_m
        The line is probed this far (metres) before and after each intersection with the
        boundary; a crossing has one probe strictly inside the polygon and the other not.

    Returns
    -------
    Crossings
    """
    geoms = np.asarray(lines, dtype=object)
    boundary = polygon.boundary
    hits = shapely.intersection(geoms, boundary)
    parts, idx = shapely.get_parts(hits, return_index=True)
    # A stretch running along the boundary contributes its two ends.
    is_line = shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING
    pts = np.concatenate([
        parts[~is_line],
        shapely.get_point(parts[is_line], 0),
        shapely.get_point(parts[is_line], -1),
    ]) if len(parts) else np.empty(0, dtype=object)
    idx = np.concatenate([idx[~is_line], idx[is_line], idx[is_line]]).astype(np.intp)
    keep = shapely.get_type_id(pts) == shapely.GeometryType.POINT
    pts, idx = pts[keep], idx[keep]
    dist = shapely.line_locate_point(geoms[idx], pts)
    lengths = shapely.length(geoms[idx])
    before = shapely.line_interpolate_point(geoms[idx], np.clip(dist - probe_m, 0, lengths))
    after = shapely.line_interpolate_point(geoms[idx], np.clip(dist + probe_m, 0, lengths))
    shapely.prepare(polygon)
    inside_before = shapely.contains(polygon, before)
    inside_after = shapely.contains(polygon, after)
    cross = inside_before != inside_after
    idx, dist, enters = idx[cross], dist[cross], inside_after[cross]
    order = np.lexsort((dist, idx))
    idx, dist, enters = idx[order], dist[order], enters[order]
    # One crossing per place: drop duplicates (a vertex shared by two boundary segments).
    dup = np.zeros(len(idx), dtype=bool)
    dup[1:] = (idx[1:] == idx[:-1]) & (np.abs(dist[1:] - dist[:-1]) < 1e-6)
    return Crossings(idx[~dup], dist[~dup], np.asarray(enters[~dup], dtype=bool))


def step_inside(
    lines: npt.ArrayLike, distance_m: npt.ArrayLike, polygon: shapely.Geometry,
    steps_m: tuple[float, ...] = (15.0, 10.0, 20.0, 5.0, 2.0),
) -> tuple[npt.NDArray[np.object_], FloatArray]:
    """Move from points on lines to the first position inside a polygon along the line.

    For each step s (in order) the positions ``d + s`` and ``d - s`` are tried; the first one
    strictly inside ``polygon`` is returned.

    Parameters
    ----------
    lines
        LineStrings in a metric CRS.
    distance_m
        Start distance along each line (metres).
    polygon
        Target area in the same CRS.
    steps_m
        Step lengths to try, metres.

    Returns
    -------
    points, distance_m
        Points (None where no step lands inside) and their distances along the lines (NaN).
    """
    geoms = np.asarray(lines, dtype=object)
    d0 = np.asarray(distance_m, dtype=np.float64)
    lengths = shapely.length(geoms)
    out = np.full(len(geoms), None, dtype=object)
    out_d = np.full(len(geoms), np.nan)
    shapely.prepare(polygon)
    for step in steps_m:
        for sign in (1.0, -1.0):
            todo = np.isnan(out_d)
            if not todo.any():
                return out, out_d
            d = np.clip(d0[todo] + sign * step, 0.0, lengths[todo])
            pts = shapely.line_interpolate_point(geoms[todo], d)
            ok = shapely.contains(polygon, pts)
            where = np.flatnonzero(todo)[ok]
            out[where], out_d[where] = pts[ok], d[ok]
    return out, out_d


@dataclass(frozen=True)
class Junctions:
    """Nodes where at least ``min_arms`` line arms meet.

    Attributes
    ----------
    x_m, y_m
        Coordinates of the nodes (metric CRS).
    arms
        Number of arms: a line ending at the node gives one, a line passing through gives two.
    """

    x_m: FloatArray
    y_m: FloatArray
    arms: IntArray


def junctions(lines: npt.ArrayLike, min_arms: int = 3, snap_m: float = 0.01) -> Junctions:
    """Find junctions of a line network from shared vertices.

    Parameters
    ----------
    lines
        LineStrings in a metric CRS that share vertices where they meet (as OSM ways do).
    min_arms
        Minimum number of arms for a node to be returned.
    snap_m
        Vertices closer than about this (metres) are treated as one node.

    Returns
    -------
    Junctions
        Sorted by descending number of arms, then by x, y.
    """
    geoms = np.asarray(lines, dtype=object)
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    if len(coords) == 0:
        empty = np.empty(0)
        return Junctions(empty, empty.copy(), np.empty(0, dtype=np.intp))
    first = np.ones(len(idx), dtype=bool)
    first[1:] = idx[1:] != idx[:-1]
    last = np.ones(len(idx), dtype=bool)
    last[:-1] = idx[1:] != idx[:-1]
    arms = np.where(first | last, 1, 2)
    arms[first & last] = 0  # single-vertex line: no arm
    keys = np.round(coords / snap_m).astype(np.int64)
    _, first_of, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    total = np.bincount(inverse.ravel(), weights=arms).astype(np.intp)
    sel = np.flatnonzero(total >= min_arms)
    xy = coords[first_of[sel]]
    order = np.lexsort((xy[:, 1], xy[:, 0], -total[sel]))
    return Junctions(xy[order, 0].astype(np.float64), xy[order, 1].astype(np.float64),
                     total[sel][order])
