"""Polygon helpers: repair to MultiPolygon, split across the long axis, facade edges with
outward normals, random points inside. Coordinates in a metric CRS unless stated otherwise;
bearings are degrees clockwise from grid north.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon

__all__ = [
    "Edges",
    "as_multipolygons",
    "compass_side",
    "exterior_edges",
    "random_points_in",
    "split_across_long_axis",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def as_multipolygons(geoms: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Polygonal part of each geometry as a MultiPolygon (None when it has none).

    Invalid inputs are repaired with ``make_valid`` first; lines and points produced by repairs
    or intersections are dropped. Works in any CRS.

    Parameters
    ----------
    geoms
        Array of geometries (any type, None allowed).

    Returns
    -------
    numpy.ndarray
        Object array of MultiPolygon or None, same length.
    """
    arr = np.asarray(geoms, dtype=object)
    out = np.full(len(arr), None, dtype=object)
    present = ~shapely.is_missing(arr)
    fixed = arr.copy()
    bad = present.copy()
    bad[present] = ~shapely.is_valid(arr[present])
    if bad.any():
        fixed[bad] = shapely.make_valid(arr[bad])
    parts, idx = shapely.get_parts(fixed[present], return_index=True)
    idx = np.flatnonzero(present)[idx]
    # Collections may nest multipolygons: flatten twice.
    parts2, idx2 = shapely.get_parts(parts, return_index=True)
    idx = idx[idx2]
    poly = (shapely.get_type_id(parts2) == shapely.GeometryType.POLYGON) & (
        shapely.area(parts2) > 0
    )
    parts2, idx = parts2[poly], idx[poly]
    if len(idx):
        groups = np.unique(idx)
        collected = shapely.multipolygons(parts2, indices=np.searchsorted(groups, idx))
        out[groups] = collected
    return out


def split_across_long_axis(polygon: Polygon | MultiPolygon) -> tuple[MultiPolygon, MultiPolygon]:
    """Cut a polygon in two by the line through its centroid perpendicular to its long axis.

    The long axis is the direction of the longest side of the minimum rotated rectangle.

    Parameters
    ----------
    polygon
        Polygon or MultiPolygon in a metric CRS.

    Returns
    -------
    (first, second)
        The halves as MultiPolygons; ``first`` lies on the side the long-axis direction points
        to, chosen to point north (or east when the axis is exactly east-west). Their union is
        the input up to floating-point noise.

    Raises
    ------
    ValueError
        When the polygon is empty or has no area.
    """
    if polygon.is_empty or polygon.area <= 0:
        raise ValueError("cannot split an empty polygon or one without area")
    rect = shapely.oriented_envelope(polygon)
    xy = shapely.get_coordinates(rect)[:4]
    sides = np.diff(np.vstack([xy, xy[:1]]), axis=0)
    ux, uy = sides[np.argmax(np.hypot(sides[:, 0], sides[:, 1]))]
    norm = float(np.hypot(ux, uy))
    ux, uy = ux / norm, uy / norm
    if uy < 0 or (uy == 0 and ux < 0):
        ux, uy = -ux, -uy
    c = polygon.centroid
    minx, miny, maxx, maxy = polygon.bounds
    big = 4.0 * float(np.hypot(maxx - minx, maxy - miny)) + 1.0
    vx, vy = -uy, ux  # along the cut

    def half(sign: float) -> Polygon:
        p0 = (c.x + vx * big, c.y + vy * big)
        p1 = (c.x - vx * big, c.y - vy * big)
        p2 = (p1[0] + sign * ux * big, p1[1] + sign * uy * big)
        p3 = (p0[0] + sign * ux * big, p0[1] + sign * uy * big)
        return Polygon([p0, p1, p2, p3])

    first, second = as_multipolygons(
        [shapely.intersection(polygon, half(1.0)), shapely.intersection(polygon, half(-1.0))]
    )
    if first is None or second is None:  # pragma: no cover - centroid is strictly inside extent
        raise ValueError("split produced an empty half")
    return first, second


def compass_side(dx: float, dy: float) -> str:
    """"North", "South", "East" or "West": the dominant direction of a grid vector."""
    if abs(dy) >= abs(dx):
        return "North" if dy >= 0 else "South"
    return "East" if dx > 0 else "West"


@dataclass(frozen=True)
class Edges:
    """Edges of polygons' exterior rings with outward unit normals (metric CRS).

    Attributes
    ----------
    geom_index
        Index of the input geometry each edge belongs to.
    x0, y0, x1, y1
        Edge end points (metres).
    length_m
        Edge length (metres).
    normal_x, normal_y
        Outward unit normal (pointing away from the polygon's interior).
    """

    geom_index: IntArray
    x0: FloatArray
    y0: FloatArray
    x1: FloatArray
    y1: FloatArray
    length_m: FloatArray
    normal_x: FloatArray
    normal_y: FloatArray

    @property
    def outward_bearing_deg(self) -> FloatArray:
        """Grid bearing of the outward normal, degrees clockwise from grid north."""
        return np.mod(np.degrees(np.arctan2(self.normal_x, self.normal_y)), 360.0)

    def points_outside(
        self, fraction: npt.ArrayLike, offset_m: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Points at ``fraction`` (0..1) along each edge, moved ``offset_m`` out along the normal.

        Returns
        -------
        x_m, y_m
        """
        t = np.asarray(fraction, dtype=np.float64)
        off = np.asarray(offset_m, dtype=np.float64)
        x = self.x0 + t * (self.x1 - self.x0) + off * self.normal_x
        y = self.y0 + t * (self.y1 - self.y0) + off * self.normal_y
        return x, y


def exterior_edges(polygons: npt.ArrayLike, min_length_m: float = 0.0) -> Edges:
    """All edges of the exterior rings of polygons, with outward normals.

    Parameters
    ----------
    polygons
        Polygons or MultiPolygons in a metric CRS (each part's exterior is used; holes are not).
    min_length_m
        Edges shorter than this (metres) are left out.

    Returns
    -------
    Edges
    """
    geoms = np.asarray(polygons, dtype=object)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings = shapely.get_exterior_ring(parts)
    ccw = shapely.is_ccw(rings)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]
    start = np.flatnonzero(same)
    x0, y0 = coords[start, 0], coords[start, 1]
    x1, y1 = coords[start + 1, 0], coords[start + 1, 1]
    ring = ring_of[start]
    dx, dy = x1 - x0, y1 - y0
    length = np.hypot(dx, dy)
    keep = (length > 0) & (length >= min_length_m)
    # The right-hand normal of a counter-clockwise ring points outwards.
    sign = np.where(ccw[ring], 1.0, -1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        nx, ny = sign * dy / length, -sign * dx / length
    return Edges(
        geom_index=part_of[ring][keep].astype(np.intp),
        x0=x0[keep], y0=y0[keep], x1=x1[keep], y1=y1[keep], length_m=length[keep],
        normal_x=nx[keep], normal_y=ny[keep],
    )


def random_points_in(
    polygon: Polygon | MultiPolygon, n: int, rng: np.random.Generator, max_rounds: int = 100
) -> FloatArray:
    """Uniform random points inside a polygon (rejection sampling in its bounds).

    Parameters
    ----------
    polygon
        Polygon or MultiPolygon with positive area (any CRS; uniform in its coordinates).
    n
        Number of points.
    rng
        Random generator (the caller owns the seed).
    max_rounds
        Give up after this many batches.

    Returns
    -------
    numpy.ndarray
        Shape (n, 2) coordinates.

    Raises
    ------
    ValueError
        When the polygon has no area or too few points land inside.
    """
    if polygon.is_empty or polygon.area <= 0:
        raise ValueError("cannot sample points in a polygon without area")
    minx, miny, maxx, maxy = polygon.bounds
    fill = polygon.area / ((maxx - minx) * (maxy - miny))
    shapely.prepare(polygon)
    found: list[FloatArray] = []
    have = 0
    for _ in range(max_rounds):
        batch = int(np.ceil((n - have) / fill * 1.5)) + 4
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(batch, 2))
        ok = shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])
        found.append(xy[ok])
        have += int(ok.sum())
        if have >= n:
            return np.vstack(found)[:n]
    raise ValueError(f"only {have} of {n} random points landed inside the polygon")
