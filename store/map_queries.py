"""Read queries of the map console's planner layers: a coverage run's results for display.

Every function reads one layer of one run (EPSG:4326). Polygons and lines are simplified in
PostGIS for display (``ST_SimplifyPreserveTopology``) with a tolerance in degrees, so the page
does not carry analysis-grade vertices: ``DISPLAY_TOLERANCE_DEG`` = 5e-6° is ~0.55 m north-south
and ~0.4 m east-west at Monaco's 43.7° N, under half a screen pixel up to zoom 18 (1 px ≈ 0.43 m
there), and cuts the demo city's coverage unions from 1.43 MB to 0.27 MB of GeoJSON. Use a
larger tolerance for lower zooms (1 px ≈ 1.7 m at zoom 16, 6.9 m at zoom 14 at that latitude).

Every function takes the viewer's :class:`store.scope.Scope` (required, so forgetting it cannot
widen a result): a district user gets the coverage unions clipped to the district, the blind
spots of its key areas, the roads touching it and the placement sites inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
from sqlalchemy import Connection, text

from store.scope import Scope

DISPLAY_TOLERANCE_DEG = 5e-6
"""Default simplification tolerance in degrees (see the module docstring)."""

DORI_LEVELS = ("detect", "observe", "recognise", "identify")

ENTRY_ROADS_KEY = "entry_roads_status"
"""Key of a run's ``results`` JSON holding ``[{"road_id", "status", ...}, ...]`` per entry-road
crossing (written by ``analysis.coverage_run``; runs of older versions stored only the counts,
``entry_roads_by_status``)."""


def coverage_levels(
    conn: Connection, run_id: int, scope: Scope, tolerance_deg: float = DISPLAY_TOLERANCE_DEG
) -> gpd.GeoDataFrame:
    """The union of visible ground per DORI level of a run, simplified for display; for a
    scope below the whole city clipped to the scope's unit (``area_m2`` then of the clipped
    part, on the spheroid).

    Returns
    -------
    GeoDataFrame
        ``level, area_m2, geometry`` (MultiPolygon, EPSG:4326), weakest level first
        (detect, observe, recognise, identify), so the stronger levels draw on top.
    """
    order = ("ORDER BY CASE level WHEN 'detect' THEN 1 WHEN 'observe' THEN 2 "
             "WHEN 'recognise' THEN 3 ELSE 4 END")  # fmt: skip
    params = {"r": run_id, "tol": tolerance_deg, **scope.params()}
    if scope.whole_city:
        sql = ("SELECT level, area_m2, ST_SimplifyPreserveTopology(geom, :tol) AS geometry "
               f"FROM coverage_levels WHERE run_id = :r {order}")  # fmt: skip
    else:
        sql = ("WITH c AS (SELECT l.level, ST_Multi(ST_CollectionExtract(ST_Intersection("
               "l.geom, u.geom), 3)) AS g FROM coverage_levels l, jurisdictions u "
               "WHERE l.run_id = :r AND u.id = :scope_root) "
               "SELECT level, ST_Area(g::geography) AS area_m2, "
               f"ST_SimplifyPreserveTopology(g, :tol) AS geometry FROM c {order}")  # fmt: skip
    return gpd.read_postgis(text(sql), conn, geom_col="geometry", crs=4326, params=params)


def blind_spots(
    conn: Connection, run_id: int, scope: Scope, tolerance_deg: float = DISPLAY_TOLERANCE_DEG
) -> gpd.GeoDataFrame:
    """Blind spots of the key areas of a run (ground not seen at the level the area requires),
    of the key areas in ``scope`` (by their jurisdiction).

    Returns
    -------
    GeoDataFrame
        ``id, key_area_id, key_area, area_class, dori_level, area_m2, geometry``
        (MultiPolygon, EPSG:4326, simplified for display), largest first.
    """
    return gpd.read_postgis(
        text("SELECT b.id, b.key_area_id, k.name AS key_area, k.area_class, b.dori_level, "
             "b.area_m2, ST_SimplifyPreserveTopology(b.geom, :tol) AS geometry "
             "FROM blind_spots b JOIN key_areas k ON k.id = b.key_area_id "  # noqa: S608
             f"WHERE b.run_id = :r AND {scope.devices('k')} ORDER BY b.area_m2 DESC, b.id"),
        conn, geom_col="geometry", crs=4326,
        params={"r": run_id, "tol": tolerance_deg, **scope.params()},
    )  # fmt: skip


def road_coverage(
    conn: Connection, run_id: int, scope: Scope, tolerance_deg: float = DISPLAY_TOLERANCE_DEG
) -> gpd.GeoDataFrame:
    """Road coverage of a run joined to the roads: one row per road touching ``scope``'s unit,
    covered % per DORI level.

    Returns
    -------
    GeoDataFrame
        ``id, name, road_class, length_m, detect_pct, observe_pct, recognise_pct,
        identify_pct, geometry`` (LineString, EPSG:4326, simplified for display). A level the
        run has no row for is 0.
    """
    pct = ", ".join(
        f"coalesce(max(c.covered_pct) FILTER (WHERE c.level = '{lv}'), 0) AS {lv}_pct"
        for lv in DORI_LEVELS
    )
    return gpd.read_postgis(
        text(f"SELECT r.id, r.name, r.road_class, max(c.length_m) AS length_m, {pct}, "  # noqa: S608 - fixed names
             "ST_SimplifyPreserveTopology(r.geom, :tol) AS geometry "
             "FROM road_coverage c JOIN roads r ON r.id = c.road_id WHERE c.run_id = :r "
             f"AND {scope.area('r.geom')} GROUP BY r.id ORDER BY r.id"),
        conn, geom_col="geometry", crs=4326,
        params={"r": run_id, "tol": tolerance_deg, **scope.params()},
    )  # fmt: skip


@dataclass
class EntryRoads:
    """Entry roads of a run that lack a checkpoint (or one direction of it).

    ``roads`` holds the roads (``id, name, road_class, status``, LineString, EPSG:4326) when
    the run stored the per-road status; ``stored`` says whether it did. ``counts`` is the run's
    count of entry roads per status (``covered``, ``partial``, ``missing``).
    """

    roads: gpd.GeoDataFrame
    counts: dict[str, int] = field(default_factory=dict)
    stored: bool = False


def entry_roads_without_checkpoint(
    conn: Connection, run_id: int, scope: Scope, tolerance_deg: float = DISPLAY_TOLERANCE_DEG
) -> EntryRoads:
    """The entry roads of a run with status ``missing`` or ``partial``, from its results JSON,
    that touch ``scope``'s unit; below the whole city the counts are of the entry roads touching
    the unit too (none when the run stored only the city's counts).

    The per-road status is read from ``results[ENTRY_ROADS_KEY]``; runs of older versions
    stored only the counts per status, and then ``roads`` is empty and ``stored`` is False
    (the console says so).
    """
    row = conn.execute(
        text("SELECT results -> :k AS per_road, results -> 'entry_roads_by_status' AS counts "
             "FROM coverage_runs WHERE id = :r"),
        {"r": run_id, "k": ENTRY_ROADS_KEY},
    ).first()  # fmt: skip
    per_road: Any = row.per_road if row is not None else None
    counts = {str(k): int(v) for k, v in ((row.counts if row is not None else None) or {}).items()}
    empty = gpd.GeoDataFrame(
        {"id": [], "name": [], "road_class": [], "status": []}, geometry=[], crs=4326
    )
    if not isinstance(per_road, list):
        return EntryRoads(empty, counts if scope.whole_city else {}, stored=False)
    if not scope.whole_city:
        every = {int(d["road_id"]): str(d["status"]) for d in per_road
                 if isinstance(d, dict) and "road_id" in d and "status" in d}  # fmt: skip
        inside = conn.execute(
            text(f"SELECT id FROM roads WHERE id = ANY(:ids) AND {scope.area('roads.geom')}"),  # noqa: S608
            {"ids": list(every), **scope.params()},
        ).scalars()  # fmt: skip
        counts = {}
        for rid in inside:
            counts[every[int(rid)]] = counts.get(every[int(rid)], 0) + 1
    status = {int(d["road_id"]): str(d["status"]) for d in per_road
              if isinstance(d, dict) and d.get("status") in ("missing", "partial")}  # fmt: skip
    if not status:
        return EntryRoads(empty, counts, stored=True)
    roads = gpd.read_postgis(
        text("SELECT id, name, road_class, ST_SimplifyPreserveTopology(geom, :tol) AS geometry "  # noqa: S608
             f"FROM roads WHERE id = ANY(:ids) AND {scope.area('roads.geom')} ORDER BY id"),
        conn, geom_col="geometry", crs=4326,
        params={"ids": list(status), "tol": tolerance_deg, **scope.params()},
    )  # fmt: skip
    roads["status"] = [status[int(i)] for i in roads["id"]]
    return EntryRoads(roads, counts, stored=True)



def placement_sites(conn: Connection, scope: Scope) -> gpd.GeoDataFrame:
    """Sites of the newest placement proposal inside ``scope`` (by the site's jurisdiction),
    in rank order (EPSG:4326 points; ``view_geom`` as WKB in ``view_wkb``); an empty frame when
    there is no proposal."""
    pid = conn.execute(text("SELECT max(id) FROM placement_proposals")).scalar()
    if pid is None:
        return gpd.GeoDataFrame({"rank": []}, geometry=gpd.GeoSeries([], crs=4326))
    return gpd.read_postgis(
        text("SELECT s.*, s.geom AS geometry, ST_AsBinary(s.view_geom) AS view_wkb FROM "  # noqa: S608
             "(SELECT p.*, j.id AS jurisdiction_id FROM placement_sites p LEFT JOIN "
             "jurisdictions j ON j.code = p.jurisdiction_code WHERE p.proposal_id = :p) s "
             f"WHERE {scope.devices('s')} ORDER BY s.rank"),
        conn, geom_col="geometry", crs=4326, params={"p": int(pid), **scope.params()},
    ).drop(columns=["geom", "view_geom", "jurisdiction_id"])  # fmt: skip
