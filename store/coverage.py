"""SQL of coverage runs: read the inputs, write a run's results (COPY), query them.

A run's results are written in the caller's transaction, so a failed run leaves nothing.
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from store.models import Building, Camera, Checkpoint, Jurisdiction, KeyArea, Road
from store.scope import Scope

CAMERA_COLUMNS = (
    "id", "device_id", "name", "mount_height_m", "azimuth_deg", "tilt_deg", "any_direction",
    "camera_type", "sensor_width_mm", "sensor_height_mm", "focal_length_mm", "hfov_deg",
    "resolution_w_px", "resolution_h_px", "ptz_presets", "jurisdiction_id", "status",
)  # fmt: skip


def read_inputs(conn: Connection) -> dict[str, gpd.GeoDataFrame]:
    """Cameras, buildings, key areas, roads, checkpoints and jurisdictions (EPSG:4326)."""
    engine_like = conn
    return {
        "cameras": _read(engine_like, Camera, CAMERA_COLUMNS),
        "buildings": _read(engine_like, Building, ("id", "height_m")),
        "key_areas": _read(engine_like, KeyArea, ("id", "name", "area_class", "required_dori")),
        "roads": _read(engine_like, Road, ("id", "name", "road_class", "oneway", "lanes")),
        "checkpoints": _read(
            engine_like,
            Checkpoint,
            ("id", "device_id", "road_id", "directions", "lanes", "is_entry"),
        ),  # fmt: skip
        "jurisdictions": _read(engine_like, Jurisdiction, ("id", "code", "name", "level")),
    }


def _read(conn: Connection, model: Any, columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    table = model.__table__
    cols = ", ".join(columns)
    return gpd.read_postgis(
        text(f"SELECT {cols}, geom AS geometry FROM {table.name} ORDER BY id"),
        conn, geom_col="geometry", crs=4326,
    )  # fmt: skip


def alarms_since(conn: Connection, since: str | None = None) -> gpd.GeoDataFrame:
    """Past alarms/incidents (id, occurred_at, kind, jurisdiction_id, geometry)."""
    sql = "SELECT id, occurred_at, kind, jurisdiction_id, geom AS geometry FROM alarms"
    params: dict[str, Any] = {}
    if since:
        sql += " WHERE occurred_at >= :since"
        params["since"] = since
    return gpd.read_postgis(text(sql + " ORDER BY id"), conn, geom_col="geometry", crs=4326,
                            params=params)  # fmt: skip


def create_run(conn: Connection, parameters: dict[str, Any]) -> int:
    """A new coverage run in state 'running'; returns its id."""
    return int(
        conn.execute(
            text("INSERT INTO coverage_runs (status, parameters) VALUES ('running', :p) "
                 "RETURNING id"),
            {"p": json.dumps(parameters)},
        ).scalar_one()
    )  # fmt: skip


def finish_run(conn: Connection, run_id: int, timings: dict[str, float],
               results: dict[str, Any]) -> None:  # fmt: skip
    conn.execute(
        text("UPDATE coverage_runs SET status='done', finished_at=now(), timings=:t, "
             "results=:r WHERE id=:id"),
        {"t": json.dumps(timings), "r": json.dumps(results, default=str), "id": run_id},
    )  # fmt: skip


def as_multi(geoms: Any) -> np.ndarray:
    """Polygons as valid MultiPolygons (reprojection can leave tiny self-touches, which are
    repaired); empty or non-polygonal results become an empty MultiPolygon.

    Vectorised and part-wise: only the polygon parts GEOS finds invalid are repaired, so a
    union of millions of vertices costs a validity check of its small parts, not a full
    ``make_valid`` of the whole.
    """
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    n = len(arr)
    present = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    rows = np.flatnonzero(present)
    parts, idx = _polygon_parts(arr[rows], rows)
    bad = ~shapely.is_valid(parts)
    if bad.any():
        fixed, fidx = _polygon_parts(shapely.make_valid(parts[bad]), idx[bad])
        parts = np.concatenate([parts[~bad], fixed])
        idx = np.concatenate([idx[~bad], fidx])
    out = np.array([shapely.MultiPolygon() for _ in range(n)], dtype=object)
    if len(parts):
        order = np.argsort(idx, kind="stable")
        parts, idx = parts[order], idx[order]
        rows = np.unique(idx)
        out[rows] = shapely.multipolygons(parts, indices=np.searchsorted(rows, idx))
        # parts that touched before reprojection may overlap by a rounding error after it
        multi = rows[np.bincount(idx, minlength=n)[rows] > 1]
        if len(multi):
            invalid = multi[~shapely.is_valid(out[multi])]
            if len(invalid):
                unions = [shapely.union_all(shapely.get_parts(g)) for g in out[invalid]]
                out[invalid] = _as_multipolygons(np.array(unions, dtype=object))
    return out


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """The polygonal parts of each (already valid) geometry as one MultiPolygon."""
    parts, idx = _polygon_parts(geoms, np.arange(len(geoms)))  # geoms[i] belongs to row i
    out = np.array([shapely.MultiPolygon() for _ in range(len(geoms))], dtype=object)
    for i in np.unique(idx):
        out[i] = shapely.MultiPolygon(list(parts[idx == i]))
    return out


def _polygon_parts(geoms: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-empty Polygon parts of ``geoms`` (collections flattened), each with the
    ``owner`` of the geometry it came from."""
    parts, i = shapely.get_parts(geoms, return_index=True)
    parts2, i2 = shapely.get_parts(parts, return_index=True)
    keep = (shapely.get_type_id(parts2) == shapely.GeometryType.POLYGON) & ~shapely.is_empty(
        parts2
    )
    return parts2[keep], np.asarray(owner)[i[i2]][keep]


PARTITIONED = ("coverage_visible", "road_coverage")


def run_partition(conn: Connection, table: str, run_id: int) -> str:
    """Create the bare table that will hold ``run_id``'s rows of the partitioned ``table``
    (no indexes, no foreign keys: COPY into it is cheap); returns its name. Call
    :func:`attach_partition` after filling it."""
    if table not in PARTITIONED:
        raise ValueError(f"{table} is not partitioned by run; one of {PARTITIONED}")
    name = f"{table}_run_{int(run_id)}"
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS "
                      f"INCLUDING CONSTRAINTS)"))  # fmt: skip
    # lets ATTACH skip its scan for rows of other runs
    conn.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {name}_run "
                      f"CHECK (run_id = {int(run_id)})"))  # fmt: skip
    # Lookups here are GiST probes of a fraction of a millisecond; PostGIS overestimates how
    # many rows a point's bounding box meets, and the planner then starts a parallel worker
    # for them (~15 ms on the 100k-camera city). Never scan a run's rows in parallel.
    conn.execute(text(f"ALTER TABLE {name} SET (parallel_workers = 0)"))
    return name


def attach_partition(conn: Connection, table: str, run_id: int) -> None:
    """Attach the filled run table as ``table``'s partition for ``run_id``: its indexes are
    built and its foreign keys checked in bulk here."""
    name = f"{table}_run_{int(run_id)}"
    conn.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} "
                      f"FOR VALUES IN ({int(run_id)})"))  # fmt: skip


def analyze_results(conn: Connection, run_id: int) -> None:
    """ANALYZE a run's partitions of the large result tables (planner statistics), in the
    caller's transaction."""
    names = ", ".join(f"{t}_run_{int(run_id)}" for t in PARTITIONED)
    conn.execute(text(f"ANALYZE {names}"))


def latest_run(conn: Connection) -> int | None:
    """The newest finished run's id of the inventory as it is (what-if runs, which change
    cameras in memory only, are not the city's coverage and are skipped)."""
    rid = conn.execute(
        text("SELECT id FROM coverage_runs WHERE status='done' AND coalesce(parameters -> "
             "'what_if', 'null'::jsonb) = 'null'::jsonb ORDER BY id DESC LIMIT 1")
    ).scalar()
    return None if rid is None else int(rid)


def visible_of_run(conn: Connection, run_id: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A run's non-empty visible polygons (``camera_id`` = device id, ``level``) and the
    positions of the stored cameras (``camera_id``, ``store_id``, ``name``), EPSG:4326."""
    visible = gpd.read_postgis(
        text("SELECT camera_ref AS camera_id, level, geom AS geometry FROM coverage_visible "
             "WHERE run_id = :r AND NOT ST_IsEmpty(geom) ORDER BY id"),
        conn, geom_col="geometry", crs=4326, params={"r": run_id},
    )  # fmt: skip
    cameras = gpd.read_postgis(
        text("SELECT device_id AS camera_id, id AS store_id, name, geom AS geometry "
             "FROM cameras ORDER BY id"),
        conn, geom_col="geometry", crs=4326,
    )  # fmt: skip
    return visible, cameras


def device_ids_in_scope(conn: Connection, scope: Scope) -> list[str]:
    """Device ids of the stored cameras in ``scope`` (jurisdiction and clearance), for
    filtering lookups made outside the database (the in-memory which-cameras index)."""
    where = scope.devices("c", camera=True)
    return list(conn.execute(
        text(f"SELECT device_id FROM cameras c WHERE {where}"), scope.params()  # noqa: S608
    ).scalars())  # fmt: skip


def run_exists(conn: Connection, run_id: int) -> bool:
    """Whether a finished run with this id exists."""
    return bool(conn.execute(
        text("SELECT 1 FROM coverage_runs WHERE id = :r AND status = 'done'"), {"r": run_id}
    ).first())  # fmt: skip


LEVEL_RANK = {"detect": 1, "observe": 2, "recognise": 3, "identify": 4}


def cameras_seeing(
    conn: Connection, run_id: int, lon: float, lat: float, scope: Scope
) -> list[dict[str, Any]]:
    """Cameras in ``scope`` whose visible area contains the point, best DORI level first, then
    nearest. (What-if cameras of a run, with no stored camera, show only to the whole city.)"""
    in_scope = "TRUE" if scope.jurisdiction_ids is None else scope.devices("c")
    rows = conn.execute(
        text(f"""
        WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4326) AS g)
        SELECT v.camera_id, v.camera_ref AS device_id, c.name,
               (array_agg(v.level ORDER BY CASE v.level WHEN 'identify' THEN 4
                    WHEN 'recognise' THEN 3 WHEN 'observe' THEN 2 ELSE 1 END DESC))[1] AS level,
               min(ST_Distance(c.geom::geography, p.g::geography)) AS distance_m
        FROM coverage_visible v CROSS JOIN p
        LEFT JOIN cameras c ON c.id = v.camera_id
        WHERE v.run_id = :run AND ST_Covers(v.geom, p.g) AND {in_scope}
          AND (c.id IS NULL OR c.access_level <= :scope_clearance)
        GROUP BY v.camera_id, v.camera_ref, c.name
        """),
        {"x": lon, "y": lat, "run": run_id, **scope.params()},
    ).all()
    out = [
        {"camera_id": r.camera_id, "device_id": r.device_id, "name": r.name,
         "dori_level": r.level, "distance_m": round(float(r.distance_m), 2)
         if r.distance_m is not None else None}
        for r in rows
    ]  # fmt: skip
    out.sort(key=lambda d: (-LEVEL_RANK[d["dori_level"]], d["distance_m"] or 0.0))
    return out


def assessment(conn: Connection, run_id: int, scope: str = "jurisdiction") -> pd.DataFrame:
    """The stored assessment table of a run for one scope."""
    return pd.read_sql(
        text("SELECT area_key, area_name, level, area_m2, covered_m2, covered_pct, "
             "open_area_m2, open_covered_m2, open_covered_pct FROM coverage_stats "
             "WHERE run_id = :r AND scope = :s ORDER BY area_key, level"),
        conn, params={"r": run_id, "s": scope},
    )  # fmt: skip


def road_report(conn: Connection, run_id: int, level: str, top: int = 10) -> dict[str, Any]:
    """Road km covered per class at ``level``, and the ``top`` longest unseen stretches."""
    by_class = pd.read_sql(
        text("SELECT r.road_class, count(*) AS roads, sum(c.length_m)/1000 AS length_km, "
             "sum(c.covered_m)/1000 AS covered_km, "
             "100 * sum(c.covered_m) / nullif(sum(c.length_m), 0) AS covered_pct "
             "FROM road_coverage c JOIN roads r ON r.id = c.road_id "
             "WHERE c.run_id = :r AND c.level = :l GROUP BY r.road_class ORDER BY length_km DESC"),
        conn, params={"r": run_id, "l": level},
    )  # fmt: skip
    gaps = conn.execute(
        text("SELECT r.id, r.name, r.road_class, (g->>0)::float AS start_m, "
             "(g->>1)::float AS end_m FROM road_coverage c JOIN roads r ON r.id = c.road_id, "
             "jsonb_array_elements(c.gaps_m) g WHERE c.run_id = :r AND c.level = :l "
             "ORDER BY (g->>1)::float - (g->>0)::float DESC LIMIT :n"),
        {"r": run_id, "l": level, "n": top},
    ).all()  # fmt: skip
    longest = [
        {"road_id": g.id, "name": g.name, "road_class": g.road_class, "start_m": g.start_m,
         "end_m": g.end_m, "length_m": round(g.end_m - g.start_m, 1)}
        for g in gaps
    ]  # fmt: skip
    return {"by_class": by_class.to_dict(orient="records"), "longest_unseen": longest}
