"""Web-Mercator tiles of the camera layer for large cities, read per scope from PostGIS.

A tile (``z/x/y``, the XYZ scheme of OSM and Leaflet, 256 px) holds either the raw cameras in
it (few enough to draw one by one) or, above :data:`MAX_POINTS`, their counts per square cell
of :data:`CELL_PX` screen pixels. Both are bounded in size whatever the city holds, and both use
the GiST index on ``cameras.geom``. Every query is limited to a :class:`~store.scope.Scope`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, text

from store.map_queries import placement_sites
from store.queries import MAP_COLUMNS, read_scoped
from store.scope import Scope

TILE_PX = 256
CELL_PX = 64
"""Side of an aggregate cell in screen pixels (a tile holds 4 x 4 cells)."""
MAX_POINTS = 500
"""Above this many cameras in a tile (with its margin) the tile is sent as counts per cell."""
MARGIN_PX = 12
"""Points this close outside a tile are sent with it: markers cut by a tile edge are drawn
whole by both tiles, and a click near the edge finds them in the tile under the pointer."""
MAX_ZOOM = 24
MAX_LAT_DEG = 85.0511287798


class TileError(ValueError):
    """A tile address outside the XYZ scheme (zoom 0–24, x and y in 0 … 2^z − 1)."""


@dataclass(frozen=True)
class PointTile:
    """Cameras of one tile. ``x_px``/``y_px`` are screen pixels from the tile's top-left corner
    (may lie up to :data:`MARGIN_PX` outside 0–256)."""

    ids: list[int]
    device_ids: list[str]
    names: list[str]
    kinds: list[str]
    statuses: list[str]
    x_px: NDArray[np.float64]
    y_px: NDArray[np.float64]


@dataclass(frozen=True)
class CountTile:
    """Cameras of one tile counted per cell: the cell's column and row (0–3), its count, how
    many are not online, and the mean position of its cameras in tile pixels."""

    col: list[int]
    row: list[int]
    count: list[int]
    not_online: list[int]
    x_px: list[float]
    y_px: list[float]
    total: int = field(default=0)


def tile_bounds(
    z: int, x: int, y: int, margin_px: float = 0.0
) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of tile ``z/x/y`` in degrees (EPSG:4326), grown by
    ``margin_px`` screen pixels on every side.

    Raises
    ------
    TileError
        If the address is outside the scheme.
    """
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(f"zoom {z} outside 0–{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise TileError(f"tile {z}/{x}/{y}: x and y must be in 0–{n - 1} at zoom {z}")
    m = margin_px / TILE_PX

    def lon(tx: float) -> float:
        return tx / n * 360.0 - 180.0

    def lat(ty: float) -> float:
        ty = min(max(ty, 0.0), float(n))
        return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * ty / n))))

    return (max(lon(x - m), -180.0), lat(y + 1 + m), min(lon(x + 1 + m), 180.0), lat(y - m))


def tile_pixels(
    z: int, x: int, y: int, lon_deg: NDArray[np.float64], lat_deg: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Screen pixels of lon/lat points (degrees, EPSG:4326) from the top-left of tile ``z/x/y``
    (spherical Web Mercator, EPSG:3857, as Leaflet draws it)."""
    n = float(1 << z)
    lat = np.radians(np.clip(lat_deg, -MAX_LAT_DEG, MAX_LAT_DEG))
    tx = (np.asarray(lon_deg, dtype="float64") + 180.0) / 360.0 * n
    ty = (1.0 - np.log(np.tan(lat) + 1.0 / np.cos(lat)) / math.pi) / 2.0 * n
    return (tx - x) * TILE_PX, (ty - y) * TILE_PX


def _where(scope: Scope) -> str:
    return (f"t.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326) "
            f"AND {scope.devices('t', camera=True)}")  # fmt: skip


def camera_points(
    conn: Connection, scope: Scope, z: int, x: int, y: int, *, limit: int | None = None
) -> PointTile | None:
    """The cameras of ``scope`` in tile ``z/x/y`` (with a :data:`MARGIN_PX` margin), in no
    particular order (so the LIMIT bounds the work of a dense tile); None when there are more
    than ``limit`` (default :data:`MAX_POINTS`; send :func:`camera_counts` instead)."""
    limit = MAX_POINTS if limit is None else limit
    w, s, e, n = tile_bounds(z, x, y, MARGIN_PX)
    rows = conn.execute(
        text("SELECT t.id, t.device_id, t.name, t.kind, t.status, ST_X(t.geom) AS lon, "
             f"ST_Y(t.geom) AS lat FROM cameras t WHERE {_where(scope)} "  # noqa: S608
             "LIMIT :lim"),
        {"w": w, "s": s, "e": e, "n": n, "lim": limit + 1, **scope.params()},
    ).all()  # fmt: skip
    if len(rows) > limit:
        return None
    lon = np.array([r.lon for r in rows], dtype="float64")
    lat = np.array([r.lat for r in rows], dtype="float64")
    px, py = tile_pixels(z, x, y, lon, lat)
    return PointTile(
        ids=[int(r.id) for r in rows], device_ids=[str(r.device_id) for r in rows],
        names=[str(r.name or "") for r in rows], kinds=[str(r.kind) for r in rows],
        statuses=[str(r.status) for r in rows], x_px=px, y_px=py,
    )  # fmt: skip


def camera_counts(conn: Connection, scope: Scope, z: int, x: int, y: int) -> CountTile:
    """The cameras of ``scope`` in tile ``z/x/y`` (no margin) counted per cell of
    :data:`CELL_PX` pixels, computed in PostGIS (one index scan and a GROUP BY)."""
    w, s, e, n = tile_bounds(z, x, y)
    # Mercator pixel of each camera, from lon/lat directly (no ST_Transform per row).
    px = "((ST_X(t.geom) + 180.0) / 360.0 * :scale - :x) * :tile"
    lat = f"radians(LEAST(GREATEST(ST_Y(t.geom), -{MAX_LAT_DEG}), {MAX_LAT_DEG}))"
    py = f"((1.0 - ln(tan({lat}) + 1.0 / cos({lat})) / pi()) / 2.0 * :scale - :y) * :tile"
    rows = conn.execute(
        text(f"""
            WITH p AS (
                SELECT {px} AS px, {py} AS py, t.status <> 'online' AS bad
                FROM cameras t WHERE {_where(scope)}
            ), c AS (
                SELECT LEAST(GREATEST(floor(px / :cell), 0), :cells - 1)::int AS col,
                       LEAST(GREATEST(floor(py / :cell), 0), :cells - 1)::int AS row,
                       px, py, bad FROM p
                -- The envelope test is inclusive and approximate at the edges: a camera
                -- belongs to the one tile its pixel falls in.
                WHERE px >= 0 AND px < :tile AND py >= 0 AND py < :tile
            )
            SELECT col, row, count(*) AS n, count(*) FILTER (WHERE bad) AS bad,
                   avg(px) AS mx, avg(py) AS my
            FROM c GROUP BY col, row ORDER BY row, col
        """),  # noqa: S608 - fixed SQL, values bound
        {"w": w, "s": s, "e": e, "n": n, "scale": float(1 << z), "x": x, "y": y,
         "tile": TILE_PX, "cell": CELL_PX, "cells": TILE_PX // CELL_PX, **scope.params()},
    ).all()  # fmt: skip
    return CountTile(
        col=[int(r.col) for r in rows], row=[int(r.row) for r in rows],
        count=[int(r.n) for r in rows], not_online=[int(r.bad) for r in rows],
        x_px=[round(float(r.mx), 1) for r in rows], y_px=[round(float(r.my), 1) for r in rows],
        total=sum(int(r.n) for r in rows),
    )  # fmt: skip


GRID_ZOOM = 14
"""Zoom of the base cells of :class:`CameraGrid` (64 px there: ~450 m at 44° N); count tiles
of this zoom and below are sums of base cells."""


@dataclass(frozen=True)
class CameraGrid:
    """The cameras of a scope counted per base cell (:data:`CELL_PX` pixels at
    :data:`GRID_ZOOM`), with the sums of their global pixel coordinates at that zoom (for the
    mean position of any coarser cell), the number not online, and totals per status."""

    cx: NDArray[np.int64]
    cy: NDArray[np.int64]
    n: NDArray[np.int64]
    bad: NDArray[np.int64]
    sx: NDArray[np.float64]
    sy: NDArray[np.float64]
    status_counts: dict[str, int]

    @property
    def total(self) -> int:
        return int(self.n.sum())


def camera_grid(conn: Connection, scope: Scope) -> CameraGrid:
    """Count the cameras of ``scope`` per base cell and status: one scan in PostGIS (about 2 s
    for 1M cameras on a busy 2-core machine; statuses are folded here, a GROUP BY of three
    columns being faster than grouping sets)."""
    world = float(TILE_PX << GRID_ZOOM)
    lat = f"LEAST(GREATEST(ST_Y(t.geom), -{MAX_LAT_DEG}), {MAX_LAT_DEG})"
    rows = conn.execute(
        text(f"""
            WITH p AS (
                SELECT (ST_X(t.geom) + 180.0) / 360.0 * :world AS gx,
                       (1.0 - ln(tan(radians(45.0 + {lat} / 2.0))) / pi()) / 2.0 * :world
                           AS gy,
                       t.status
                FROM cameras t WHERE {scope.devices("t", camera=True)}
            )
            SELECT floor(gx / :cell)::bigint AS cx, floor(gy / :cell)::bigint AS cy, status,
                   count(*) AS n, sum(gx) AS sx, sum(gy) AS sy
            FROM p GROUP BY 1, 2, 3 ORDER BY 1, 2
        """),  # noqa: S608 - fixed SQL, values bound
        {"world": world, "cell": CELL_PX, **scope.params()},
    ).all()  # fmt: skip
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + int(r.n)
    if not rows:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return CameraGrid(empty_i, empty_i, empty_i, empty_i, empty_f, empty_f, statuses)
    cx = np.array([r.cx for r in rows], dtype=np.int64)
    cy = np.array([r.cy for r in rows], dtype=np.int64)
    n = np.array([r.n for r in rows], dtype=np.int64)
    bad = np.where(np.array([r.status != "online" for r in rows]), n, 0)
    sx = np.array([r.sx for r in rows], dtype=np.float64)
    sy = np.array([r.sy for r in rows], dtype=np.float64)
    # Rows come ordered by cell: fold the statuses of each cell into one entry.
    first = np.flatnonzero(np.r_[True, (cx[1:] != cx[:-1]) | (cy[1:] != cy[:-1])])
    return CameraGrid(
        cx=cx[first], cy=cy[first], n=np.add.reduceat(n, first),
        bad=np.add.reduceat(bad, first), sx=np.add.reduceat(sx, first),
        sy=np.add.reduceat(sy, first), status_counts=statuses,
    )  # fmt: skip


def _in_tile(grid: CameraGrid, z: int, x: int, y: int) -> tuple[NDArray[np.bool_], int]:
    if not 0 <= z <= GRID_ZOOM:
        raise TileError(f"zoom {z}: grid counts are for zoom 0–{GRID_ZOOM}")
    tile_bounds(z, x, y)  # validates the address
    shift = GRID_ZOOM - z
    per = (TILE_PX // CELL_PX) << shift  # base cells along a tile's side
    inside = (grid.cx // per == x) & (grid.cy // per == y)
    return inside, shift


def grid_tile_total(grid: CameraGrid, z: int, x: int, y: int) -> int:
    """Cameras in tile ``z/x/y`` (``z`` ≤ :data:`GRID_ZOOM`) according to ``grid``."""
    inside, _ = _in_tile(grid, z, x, y)
    return int(grid.n[inside].sum())


def grid_counts(grid: CameraGrid, z: int, x: int, y: int) -> CountTile:
    """:func:`camera_counts` of tile ``z/x/y`` (``z`` ≤ :data:`GRID_ZOOM`) from ``grid``
    (no SQL): base cells summed into the tile's cells, mean positions from the pixel sums."""
    inside, shift = _in_tile(grid, z, x, y)
    cells = TILE_PX // CELL_PX
    col = (grid.cx[inside] >> shift) - x * cells
    row = (grid.cy[inside] >> shift) - y * cells
    key = row * cells + col
    size = cells * cells
    n = np.bincount(key, weights=grid.n[inside], minlength=size)
    bad = np.bincount(key, weights=grid.bad[inside], minlength=size)
    sx = np.bincount(key, weights=grid.sx[inside], minlength=size)
    sy = np.bincount(key, weights=grid.sy[inside], minlength=size)
    used = np.flatnonzero(n > 0)
    scale = float(1 << shift)
    mx = sx[used] / n[used] / scale - x * TILE_PX
    my = sy[used] / n[used] / scale - y * TILE_PX
    return CountTile(
        col=[int(k % cells) for k in used], row=[int(k // cells) for k in used],
        count=[int(v) for v in n[used]], not_online=[int(v) for v in bad[used]],
        x_px=[round(float(v), 1) for v in mx], y_px=[round(float(v), 1) for v in my],
        total=int(n.sum()),
    )  # fmt: skip


def camera_tile(
    conn: Connection, scope: Scope, z: int, x: int, y: int, grid: CameraGrid | None = None
) -> PointTile | CountTile:
    """Tile ``z/x/y`` of the camera layer for ``scope``: its cameras one by one, or counted per
    cell when there are more than :data:`MAX_POINTS`. With the scope's ``grid``, tiles up to
    :data:`GRID_ZOOM` are decided and counted from it (no scan of a dense tile)."""
    if grid is not None and z <= GRID_ZOOM:
        if grid_tile_total(grid, z, x, y) > MAX_POINTS:
            return grid_counts(grid, z, x, y)
        points = camera_points(conn, scope, z, x, y)
        return points if points is not None else grid_counts(grid, z, x, y)
    points = camera_points(conn, scope, z, x, y)
    return points if points is not None else camera_counts(conn, scope, z, x, y)


def camera_count(conn: Connection, scope: Scope) -> int:
    """How many cameras ``scope`` sees (decides between inline GeoJSON and tiles)."""
    return int(conn.execute(
        text(f"SELECT count(*) FROM cameras t WHERE {scope.devices('t', camera=True)}"),  # noqa: S608
        scope.params(),
    ).scalar_one())  # fmt: skip


def camera_extent(conn: Connection, scope: Scope) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` in degrees of the cameras of ``scope``; None if none."""
    row = conn.execute(
        text("SELECT ST_XMin(b) AS w, ST_YMin(b) AS s, ST_XMax(b) AS e, ST_YMax(b) AS n FROM "
             f"(SELECT ST_Extent(t.geom) AS b FROM cameras t WHERE "  # noqa: S608
             f"{scope.devices('t', camera=True)}) q"),
        scope.params(),
    ).one()  # fmt: skip
    if row.w is None:
        return None
    return float(row.w), float(row.s), float(row.e), float(row.n)


def camera_status_counts(conn: Connection, scope: Scope) -> dict[str, int]:
    """Cameras of ``scope`` per status (the legend of a tiled page)."""
    rows = conn.execute(
        text(f"SELECT t.status, count(*) AS n FROM cameras t WHERE "  # noqa: S608
             f"{scope.devices('t', camera=True)} GROUP BY t.status"),
        scope.params(),
    ).all()  # fmt: skip
    return {str(r.status): int(r.n) for r in rows}


def map_frames_tiled(engine: Engine, scope: Scope) -> dict[str, gpd.GeoDataFrame]:
    """:func:`store.queries.map_frames` for a page whose cameras come as tiles: every layer
    but the cameras, whose frame is empty (with its columns)."""
    with engine.connect() as conn:
        frames = {name: read_scoped(conn, name, scope) for name in MAP_COLUMNS
                  if name != "cameras"}  # fmt: skip
        frames["cameras"] = gpd.GeoDataFrame(
            {c: [] for c in MAP_COLUMNS["cameras"][1]}, geometry=[], crs=4326
        )
        frames["placement"] = placement_sites(conn, scope)
    return frames
