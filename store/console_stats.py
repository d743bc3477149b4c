"""Read queries of the console's area tools: a selected area (a drawn polygon or a
jurisdiction), its cameras and coverage statistics; cameras along a drawn route; the yearly
assessment table of the viewer's jurisdictions; blind-spot totals for a what-if comparison.

Every function takes the viewer's :class:`store.scope.Scope` (required): a selected area is
clipped to the scope's unit, cameras are those of the scope (jurisdiction and clearance), the
assessment rows those of the scope's jurisdictions. Geometry in and out is GeoJSON in
EPSG:4326; areas are on the spheroid (``geography``) in square metres.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text

from store.scope import Scope

DORI_LEVELS = ("detect", "observe", "recognise", "identify")
MAX_VERTICES = 5000
"""Most vertices a drawn polygon or route may have (a browser could send anything)."""
_VERTEX_END = re.compile(r"[0-9.]\s*\]")  # the "]" closing one [x, y] position


class SelectionError(ValueError):
    """A selection that cannot be used: not a polygon, too many vertices, outside the scope."""


def _geojson_text(geometry: Mapping[str, Any], kinds: tuple[str, ...]) -> str:
    """The geometry as GeoJSON text after checking its type and size (user input)."""
    if not isinstance(geometry, Mapping) or geometry.get("type") not in kinds:
        raise SelectionError(f"expected a GeoJSON {' or '.join(kinds)}")
    coords = json.dumps(geometry.get("coordinates"))
    if len(_VERTEX_END.findall(coords)) > MAX_VERTICES:
        raise SelectionError(f"more than {MAX_VERTICES} vertices")
    return json.dumps({"type": geometry["type"], "coordinates": geometry.get("coordinates")})


def selection_area(
    conn: Connection,
    scope: Scope,
    *,
    polygon: Mapping[str, Any] | None = None,
    jurisdiction_id: int | None = None,
) -> dict[str, Any]:
    """The area to work on: a drawn polygon or a jurisdiction, within ``scope``'s unit.

    Parameters
    ----------
    polygon
        A GeoJSON Polygon / MultiPolygon geometry (EPSG:4326, lon/lat); repaired with
        ``ST_MakeValid``, then clipped to the scope's unit.
    jurisdiction_id
        Else: a jurisdiction the scope holds.

    Returns
    -------
    dict
        ``geometry`` (GeoJSON MultiPolygon, EPSG:4326), ``area_m2`` (spheroid), ``name``.

    Raises
    ------
    SelectionError
        Nothing given, a bad geometry, a jurisdiction out of scope, or an empty area.
    """
    params: dict[str, Any] = scope.params()
    if polygon is not None:
        params["g"] = _geojson_text(polygon, ("Polygon", "MultiPolygon"))
        clip = ("" if scope.whole_city else
                "ST_Intersection(g, (SELECT geom FROM jurisdictions WHERE id = :scope_root))")
        sql = (
            "WITH a AS (SELECT ST_CollectionExtract(ST_MakeValid(ST_SetSRID("
            "ST_GeomFromGeoJSON(:g), 4326)), 3) AS g), "
            f"c AS (SELECT ST_Multi(ST_CollectionExtract({clip or 'g'}, 3)) AS g FROM a) "
            "SELECT ST_AsGeoJSON(g, 9) AS gj, ST_Area(g::geography) AS m2, "
            "'drawn area' AS name FROM c WHERE NOT ST_IsEmpty(g)"
        )  # fmt: skip
    elif jurisdiction_id is not None:
        params["j"] = int(jurisdiction_id)
        in_scope = "TRUE" if scope.whole_city else "id = ANY(:scope_jids)"
        sql = ("SELECT ST_AsGeoJSON(geom, 9) AS gj, ST_Area(geom::geography) AS m2, name "  # noqa: S608
               f"FROM jurisdictions WHERE id = :j AND {in_scope}")  # fmt: skip
    else:
        raise SelectionError("draw a polygon or pick a jurisdiction")
    row = conn.execute(text(sql), params).first()
    if row is None or not row.m2:
        raise SelectionError("the area is empty or outside your jurisdiction")
    return {"geometry": json.loads(row.gj), "area_m2": float(row.m2), "name": str(row.name)}


def cameras_in_area(
    conn: Connection, area: Mapping[str, Any], scope: Scope, *, limit: int = 500
) -> list[dict[str, Any]]:
    """The scope's cameras the area covers (``ST_Covers``), the first ``limit`` by device id:
    ``device_id, name, status, kind, camera_type, lon, lat``. ``area`` is a GeoJSON geometry
    (EPSG:4326). Count them all with :func:`camera_counts`."""
    g = _geojson_text(area, ("Polygon", "MultiPolygon"))
    rows = conn.execute(
        text("SELECT c.device_id, c.name, c.status, c.kind, c.camera_type, "  # noqa: S608
             "ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat FROM cameras c "
             "WHERE ST_Covers(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326), c.geom) "
             f"AND {scope.devices('c', camera=True)} ORDER BY c.device_id LIMIT :n"),
        {"g": g, "n": int(limit), **scope.params()},
    ).mappings().all()  # fmt: skip
    return [dict(r) for r in rows]


def camera_counts(conn: Connection, area: Mapping[str, Any], scope: Scope) -> dict[str, int]:
    """The scope's cameras the area covers, counted per status."""
    g = _geojson_text(area, ("Polygon", "MultiPolygon"))
    rows = conn.execute(
        text("SELECT c.status, count(*) AS n FROM cameras c "  # noqa: S608
             "WHERE ST_Covers(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326), c.geom) "
             f"AND {scope.devices('c', camera=True)} GROUP BY c.status"),
        {"g": g, **scope.params()},
    ).all()  # fmt: skip
    return {str(r.status): int(r.n) for r in rows}


def area_coverage(
    conn: Connection, run_id: int, area: Mapping[str, Any]
) -> dict[str, dict[str, float]]:
    """Ground of the area seen at each DORI level in run ``run_id`` (the run's union per
    level intersected with the area): ``{level: {"covered_m2", "covered_pct"}}``; a level
    the run has no union for is 0. Call with an area from :func:`selection_area` (already
    clipped to the viewer's scope)."""
    g = _geojson_text(area, ("Polygon", "MultiPolygon"))
    rows = conn.execute(
        text("WITH a AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326) AS g) "
             "SELECT l.level, ST_Area(ST_Intersection(l.geom, a.g)::geography) AS m2, "
             "ST_Area(a.g::geography) AS total FROM coverage_levels l, a "
             "WHERE l.run_id = :r"),
        {"g": g, "r": run_id},
    ).all()  # fmt: skip
    got = {r.level: (float(r.m2 or 0.0), float(r.total or 0.0)) for r in rows}
    out = {}
    for lv in DORI_LEVELS:
        m2, total = got.get(lv, (0.0, 0.0))
        out[lv] = {"covered_m2": round(m2, 1),
                   "covered_pct": round(100.0 * m2 / total, 2) if total else 0.0}  # fmt: skip
    return out


def cameras_along_route(
    conn: Connection, route: Mapping[str, Any], scope: Scope, *, within_m: float = 30.0
) -> list[dict[str, Any]]:
    """The scope's cameras within ``within_m`` metres of a drawn route (GeoJSON LineString,
    EPSG:4326), in the order the route passes them (then by distance, then device id):
    ``device_id, name, status, lon, lat, along, distance_m`` (``along`` the fraction 0-1 of
    the route at the nearest point)."""
    g = _geojson_text(route, ("LineString",))
    # Position along the route in a local equirectangular frame (longitude scaled by the cosine
    # of the route's latitude): in raw degrees the nearest point of a zig-zag route can lie on
    # the wrong leg (a degree of longitude is 0.72 of one of latitude at 43.7° N).
    rows = conn.execute(
        text("WITH r0 AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326) AS g), "  # noqa: S608
             "r AS (SELECT g, cos(radians(ST_Y(ST_Centroid(g)))) AS k FROM r0) "
             "SELECT c.device_id, c.name, c.status, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, "
             "ST_LineLocatePoint(ST_Scale(r.g, r.k, 1), ST_Scale(c.geom, r.k, 1)) AS along, "
             "ST_Distance(r.g::geography, c.geom::geography) AS distance_m "
             "FROM cameras c, r WHERE ST_DWithin(r.g::geography, c.geom::geography, :m) "
             f"AND {scope.devices('c', camera=True)} "
             "ORDER BY along, distance_m, c.device_id"),
        {"g": g, "m": float(within_m), **scope.params()},
    ).mappings().all()  # fmt: skip
    return [dict(r) for r in rows]


ASSESSMENT_COLUMNS = ("area_key", "area_name", "level", "area_m2", "covered_m2", "covered_pct",
                      "open_area_m2", "open_covered_m2", "open_covered_pct")  # fmt: skip


def assessment(conn: Connection, run_id: int, scope: Scope) -> list[dict[str, Any]]:
    """The yearly-assessment table (考核) of run ``run_id`` per jurisdiction, for the
    jurisdictions of ``scope`` only (the unit and those below it; all for the whole city):
    one row per jurisdiction and DORI level, ``ASSESSMENT_COLUMNS`` (areas in m², % of the
    jurisdiction; ``open_*`` without building footprints), by code then level."""
    in_scope = "TRUE" if scope.whole_city else "j.id = ANY(:scope_jids)"
    cols = ", ".join(f"s.{c}" for c in ASSESSMENT_COLUMNS)
    rows = conn.execute(
        text(f"SELECT {cols}, j.level AS unit_level FROM coverage_stats s "  # noqa: S608
             "JOIN jurisdictions j ON j.code = s.area_key "
             f"WHERE s.run_id = :r AND s.scope = 'jurisdiction' AND {in_scope} "
             "ORDER BY s.area_key, CASE s.level WHEN 'detect' THEN 1 WHEN 'observe' THEN 2 "
             "WHEN 'recognise' THEN 3 ELSE 4 END"),
        {"r": run_id, **scope.params()},
    ).mappings().all()  # fmt: skip
    return [dict(r) for r in rows]


def blind_spot_totals(conn: Connection, run_id: int, scope: Scope) -> dict[int, dict[str, Any]]:
    """Blind area (m²) per key area of ``scope`` in run ``run_id``: ``{key_area_id: {"name",
    "dori_level", "area_m2"}}`` (key areas without a blind spot are absent)."""
    rows = conn.execute(
        text("SELECT k.id, k.name, k.required_dori, sum(b.area_m2) AS m2 "  # noqa: S608
             "FROM blind_spots b JOIN key_areas k ON k.id = b.key_area_id "
             f"WHERE b.run_id = :r AND {scope.devices('k')} GROUP BY k.id ORDER BY k.id"),
        {"r": run_id, **scope.params()},
    ).all()  # fmt: skip
    return {int(r.id): {"name": r.name, "dori_level": r.required_dori,
                        "area_m2": float(r.m2 or 0.0)} for r in rows}  # fmt: skip


def point_in_scope(conn: Connection, scope: Scope, lon: float, lat: float) -> bool:
    """Whether a point lies in the scope's unit (always, for the whole city)."""
    if scope.whole_city:
        return True
    return bool(conn.execute(
        text("SELECT 1 FROM jurisdictions WHERE id = :scope_root AND "
             "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
        {"x": float(lon), "y": float(lat), **scope.params()},
    ).first())  # fmt: skip


def cameras_in_scope(conn: Connection, scope: Scope, device_ids: list[str]) -> list[dict[str, Any]]:
    """The cameras among ``device_ids`` that are in ``scope`` (in the given order, once each):
    ``device_id, name, status, lon, lat``."""
    rows = conn.execute(
        text("SELECT c.device_id, c.name, c.status, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat "  # noqa: S608
             f"FROM cameras c WHERE c.device_id = ANY(:d) AND {scope.devices('c', camera=True)}"),
        {"d": [str(d) for d in device_ids], **scope.params()},
    ).mappings().all()  # fmt: skip
    found = {r["device_id"]: dict(r) for r in rows}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for d in device_ids:
        if d in found and d not in seen:
            seen.add(d)
            out.append(found[d])
    return out
