"""SQL of the OGC API – Features collections: pages of GeoJSON features built by PostGIS.

Each :class:`Collection` names its table, its feature id, its properties (as SQL), its
queryables and how a :class:`store.scope.Scope` limits it. :func:`items` returns one page by
keyset on the table's integer ``id`` (``WHERE id > :after ORDER BY id LIMIT n``), filtered by a
GiST bbox test, so a page costs the same wherever it is in the collection; PostgreSQL writes
each feature's JSON (``json_build_object`` + ``ST_AsGeoJSON``), Python only joins the texts.
Geometry is EPSG:4326; ``flip`` gives latitude/longitude order (EPSG:4326 / EPSG:4490 axis
order) and ``wkb`` returns it as WKB for a transformation made outside the database (GCJ-02).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from store.coverage import latest_run
from store.scope import Scope

MAX_LIMIT = 10_000

_SUBTREE = (
    "(WITH RECURSIVE u AS (SELECT id FROM jurisdictions WHERE code = :{p} "
    "UNION ALL SELECT c.id FROM jurisdictions c JOIN u ON c.parent_id = u.id) SELECT id FROM u)"
)


@dataclass(frozen=True)
class Queryable:
    """A property a client may filter on (``?name=value``): ``condition`` is SQL with the bind
    parameter ``:{p}``; ``type`` is its JSON Schema type (the value is converted to it)."""

    condition: str
    type: str
    description: str


@dataclass(frozen=True)
class Collection:
    """One feature collection: where its rows are and how to write them as GeoJSON."""

    id: str
    title: str
    description: str
    from_sql: str  # the table as ``t`` and its joins
    feature_id: str  # SQL of the feature id
    feature_id_type: str  # "string" or "integer"
    properties: tuple[tuple[str, str], ...]  # (name, SQL)
    geometry_type: str
    scope: Callable[[Scope], str]  # SQL condition keeping the scope's rows
    queryables: Mapping[str, Queryable] = field(default_factory=dict)
    time: str | None = None  # SQL of the feature's time (datetime filter), if it has one
    time_name: str | None = None
    action: str = "view"  # the store.access action a token needs to read it
    per_run: bool = False  # rows of one coverage run: filter ``run``, default the latest
    writable: bool = False


def _devices(camera: bool = False) -> Callable[[Scope], str]:
    return lambda scope: scope.devices("t", camera=camera)


def _jurisdictions(scope: Scope) -> str:
    return "TRUE" if scope.jurisdiction_ids is None else "t.id = ANY(:scope_jids)"


def _coverage(scope: Scope) -> str:
    # as store.coverage.cameras_seeing: what-if cameras (no stored camera) only for the city
    in_scope = "TRUE" if scope.jurisdiction_ids is None else scope.devices("c")
    return f"{in_scope} AND (c.id IS NULL OR c.access_level <= :scope_clearance)"


def _eq(column: str, typ: str, description: str) -> Queryable:
    return Queryable(f"{column} = :{{p}}", typ, description)


def _jurisdiction(column: str) -> Queryable:
    return Queryable(f"{column} IN {_SUBTREE}", "string",
                     "jurisdiction code: rows of that unit and of every unit below it")  # fmt: skip


_STATUS = _eq("t.status", "string", "online, offline, fault or unknown")

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        "cameras", "Cameras", "Video cameras (GB/T 28181 device ids); azimuth clockwise from "
        "true north, tilt down from horizontal.",
        "cameras t LEFT JOIN jurisdictions j ON j.id = t.jurisdiction_id", "t.device_id",
        "string",
        tuple((c, f"t.{c}") for c in (
            "device_id", "name", "owner", "kind", "camera_type", "mount", "address",
            "mount_height_m", "azimuth_deg", "tilt_deg", "any_direction", "lens_model",
            "sensor_width_mm", "sensor_height_mm", "focal_length_mm", "hfov_deg",
            "resolution_w_px", "resolution_h_px", "ptz_presets", "status", "status_since",
            "is_social_resource", "access_level")) + (
            ("jurisdiction", "j.code"), ("source", "t.source"), ("updated_at", "t.updated_at"),
            ("attributes", "t.attributes")),
        "Point", _devices(camera=True),
        {"kind": _eq("t.kind", "string", "road, community, social or high_point"),
         "camera_type": _eq("t.camera_type", "string", "fixed, dome, ptz or panoramic"),
         "status": _STATUS, "owner": _eq("t.owner", "string", "owner (建设单位)"),
         "is_social_resource": _eq("t.is_social_resource", "boolean", "social resource"),
         "access_level": _eq("t.access_level", "integer", "access level"),
         "jurisdiction": _jurisdiction("t.jurisdiction_id")},
        time="t.updated_at", time_name="updated_at", writable=True,
    ),
    Collection(
        "checkpoints", "Checkpoints", "Road checkpoints (卡口).",
        "checkpoints t LEFT JOIN jurisdictions j ON j.id = t.jurisdiction_id", "t.device_id",
        "string",
        tuple((c, f"t.{c}") for c in (
            "device_id", "name", "road_name", "directions", "lanes", "is_entry", "status")) + (
            ("jurisdiction", "j.code"), ("source", "t.source"), ("attributes", "t.attributes")),
        "Point", _devices(),
        {"status": _STATUS, "is_entry": _eq("t.is_entry", "boolean", "city entry checkpoint"),
         "road_name": _eq("t.road_name", "string", "road name"),
         "jurisdiction": _jurisdiction("t.jurisdiction_id")},
        writable=True,
    ),
    Collection(
        "alarm-points", "Alarm points", "Fixed alarm points (一键报警, sensors).",
        "alarm_points t LEFT JOIN jurisdictions j ON j.id = t.jurisdiction_id", "t.code",
        "string",
        tuple((c, f"t.{c}") for c in ("code", "name", "kind", "status")) + (
            ("jurisdiction", "j.code"), ("source", "t.source"), ("attributes", "t.attributes")),
        "Point", _devices(),
        {"kind": _eq("t.kind", "string", "alarm point kind"), "status": _STATUS,
         "jurisdiction": _jurisdiction("t.jurisdiction_id")},
    ),
    Collection(
        "key-areas", "Key areas", "Priority areas (重点区域) and the DORI level they need.",
        "key_areas t LEFT JOIN jurisdictions j ON j.id = t.jurisdiction_id", "t.id", "integer",
        tuple((c, f"t.{c}") for c in ("name", "area_class", "required_dori")) + (
            ("jurisdiction", "j.code"), ("source", "t.source")),
        "MultiPolygon", _devices(),
        {"area_class": _eq("t.area_class", "string", "area class"),
         "required_dori": _eq("t.required_dori", "string", "detect/observe/recognise/identify"),
         "jurisdiction": _jurisdiction("t.jurisdiction_id")},
    ),
    Collection(
        "jurisdictions", "Jurisdictions", "City, districts and police stations (辖区).",
        "jurisdictions t LEFT JOIN jurisdictions p ON p.id = t.parent_id", "t.code", "string",
        (("code", "t.code"), ("name", "t.name"), ("level", "t.level"),
         ("parent", "p.code"), ("admin_code", "t.admin_code")),
        "MultiPolygon", _jurisdictions,
        {"level": _eq("t.level", "string", "city, district or station"),
         "parent": _eq("p.code", "string", "code of the parent unit")},
    ),
    Collection(
        "blind-spots", "Blind spots", "Parts of key areas not covered at their required DORI "
        "level, per coverage run (default: the latest run).",
        "blind_spots t JOIN key_areas k ON k.id = t.key_area_id "
        "JOIN coverage_runs r ON r.id = t.run_id "
        "LEFT JOIN jurisdictions j ON j.id = k.jurisdiction_id", "t.id", "integer",
        (("run", "t.run_id"), ("key_area", "t.key_area_id"), ("key_area_name", "k.name"),
         ("area_class", "k.area_class"), ("dori_level", "t.dori_level"),
         ("area_m2", "t.area_m2"), ("jurisdiction", "j.code"), ("run_at", "r.started_at")),
        "MultiPolygon", lambda scope: scope.devices("k"),
        {"run": _eq("t.run_id", "integer", "coverage run id (default: the latest)"),
         "dori_level": _eq("t.dori_level", "string", "required DORI level"),
         "key_area": _eq("t.key_area_id", "integer", "key area id"),
         "area_class": _eq("k.area_class", "string", "key area class"),
         "jurisdiction": _jurisdiction("k.jurisdiction_id")},
        time="r.started_at", time_name="run_at", action="coverage", per_run=True,
    ),
    Collection(
        "coverage", "Coverage results", "What each camera sees at each DORI level, occlusion "
        "applied, per coverage run (default: the latest run).",
        "coverage_visible t JOIN coverage_runs r ON r.id = t.run_id "
        "LEFT JOIN cameras c ON c.id = t.camera_id "
        "LEFT JOIN jurisdictions j ON j.id = c.jurisdiction_id", "t.id", "integer",
        (("run", "t.run_id"), ("camera", "t.camera_ref"), ("level", "t.level"),
         ("area_m2", "t.area_m2"), ("jurisdiction", "j.code"), ("run_at", "r.started_at")),
        "MultiPolygon", _coverage,
        {"run": _eq("t.run_id", "integer", "coverage run id (default: the latest)"),
         "level": _eq("t.level", "string", "DORI level"),
         "camera": _eq("t.camera_ref", "string", "camera device id"),
         "jurisdiction": _jurisdiction("c.jurisdiction_id")},
        time="r.started_at", time_name="run_at", action="coverage", per_run=True,
    ),
)}  # fmt: skip
"""Every collection by id."""


@dataclass
class Page:
    """One page of features: ``features`` are GeoJSON texts, or (id JSON, properties JSON,
    WKB) with ``wkb``; ``next_after`` is the keyset of the next page (None: the last);
    ``matched`` counts every feature the filters select (None when not counted)."""

    features: list[Any]
    next_after: int | None
    matched: int | None
    run_id: int | None = None


def _from(coll: Collection) -> str:
    """The collection's tables and its properties as the row ``fp`` (``row_to_json(fp)`` is a
    third faster than ``json_build_object`` with the same members)."""
    props = ", ".join(f'{sql} AS "{name}"' for name, sql in coll.properties)
    return f"{coll.from_sql} CROSS JOIN LATERAL (SELECT {props}) fp"


def _select(coll: Collection, flip: bool, wkb: bool) -> str:
    """The feature as GeoJSON text (or id JSON, properties JSON and WKB), assembled from
    text so that nothing is parsed again."""
    if wkb:
        return (f"to_json({coll.feature_id})::text AS fid, row_to_json(fp)::text AS props, "
                "ST_AsBinary(t.geom) AS wkb")  # fmt: skip
    geom = "t.geom" if not flip else "ST_FlipCoordinates(t.geom)"
    return (f"""'{{"type":"Feature","id":' || to_json({coll.feature_id})::text || """
            f"""',"geometry":' || coalesce(ST_AsGeoJSON({geom}, 9), 'null') || """
            """',"properties":' || row_to_json(fp)::text || '}'""")


def _row(r: Any, wkb: bool) -> Any:
    return (r.fid, r.props, bytes(r.wkb)) if wkb else r[1]  # r[0]: the key


def items(
    conn: Connection, coll: Collection, scope: Scope, *,
    bbox: tuple[float, float, float, float] | None = None,
    interval: tuple[dt.datetime | None, dt.datetime | None] | None = None,
    filters: Mapping[str, Any] | None = None, after: int | None = None, limit: int = 100,
    flip: bool = False, wkb: bool = False, count: bool = True,
) -> Page:  # fmt: skip
    """One page of ``coll`` in ``scope``.

    Parameters
    ----------
    bbox
        (min lon, min lat, max lon, max lat), EPSG:4326 degrees: features whose geometry
        intersects the box (GiST index).
    interval
        (start, end), either open (None): features whose time lies in it (inclusive). A
        collection without a time (``coll.time`` None) raises ValueError.
    filters
        queryable name -> value (already of the queryable's type).
    after
        Keyset: the ``next_after`` of the previous page.
    limit
        Features per page, 1 .. :data:`MAX_LIMIT`.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be in 1..{MAX_LIMIT}")
    conds = [coll.scope(scope)]
    params: dict[str, Any] = {**scope.params(), "n": limit + 1}
    filters = dict(filters or {})
    run_id: int | None = None
    if coll.per_run:
        if "run" not in filters:
            run_id = latest_run(conn)
            filters["run"] = -1 if run_id is None else run_id
        else:
            run_id = int(filters["run"])
    for name, value in filters.items():
        q = coll.queryables.get(name)
        if q is None:
            raise ValueError(f"{name!r} is not a queryable of {coll.id}")
        conds.append(q.condition.format(p=f"q_{name}"))
        params[f"q_{name}"] = value
    if bbox is not None:
        conds.append("ST_Intersects(t.geom, ST_MakeEnvelope(:b0, :b1, :b2, :b3, 4326))")
        params.update(b0=bbox[0], b1=bbox[1], b2=bbox[2], b3=bbox[3])
    if interval is not None:
        if coll.time is None:
            raise ValueError(f"{coll.id} has no time property to filter on")
        start, end = interval
        if start is not None:
            conds.append(f"{coll.time} >= :t0")
            params["t0"] = start
        if end is not None:
            conds.append(f"{coll.time} <= :t1")
            params["t1"] = end
    where = " AND ".join(conds)
    # A page is a GiST probe and a sort of a few thousand rows (~10 ms at 100k cameras); the
    # planner's parallel plan for it waits ~30-50 ms for its worker before the first row.
    conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    matched = None
    if count:
        matched = int(conn.execute(
            text(f"SELECT count(*) FROM {coll.from_sql} WHERE {where}"), params  # noqa: S608
        ).scalar_one())  # fmt: skip
    keyset = "" if after is None else " AND t.id > :after"
    params["after"] = after
    rows = conn.execute(
        text(f"SELECT t.id AS k, {_select(coll, flip, wkb)} FROM {_from(coll)} "  # noqa: S608
             f"WHERE {where}{keyset} ORDER BY t.id LIMIT :n"),
        params,
    ).all()  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = int(rows[-1].k) if more else None
    return Page([_row(r, wkb) for r in rows], next_after, matched, run_id)


def item(
    conn: Connection, coll: Collection, scope: Scope, feature_id: str, *,
    flip: bool = False, wkb: bool = False,
) -> Any | None:  # fmt: skip
    """One feature of ``coll`` by its id if ``scope`` may see it (GeoJSON text, or the WKB
    triple); None when it does not exist or is outside the scope."""
    fid: Any = feature_id
    if coll.feature_id_type == "integer":
        if not feature_id.isdigit() or len(feature_id) > 18:
            return None
        fid = int(feature_id)
    row = conn.execute(
        text(f"SELECT t.id AS k, {_select(coll, flip, wkb)} FROM {_from(coll)} "  # noqa: S608
             f"WHERE {coll.feature_id} = :fid AND {coll.scope(scope)}"),
        {"fid": fid, **scope.params()},
    ).first()  # fmt: skip
    return None if row is None else _row(row, wkb)


def device_row(
    conn: Connection, table: str, device_id: str, scope: Scope
) -> tuple[str, float, float] | None:
    """Name, longitude and latitude (EPSG:4326) of camera or checkpoint ``device_id`` if it
    exists inside ``scope``."""
    if table not in ("cameras", "checkpoints"):
        raise ValueError(f"{table} is not a device table")
    where = scope.devices("t", camera=table == "cameras")
    row = conn.execute(
        text(f"SELECT t.name, ST_X(t.geom) x, ST_Y(t.geom) y FROM {table} t "  # noqa: S608
             f"WHERE t.device_id = :d AND {where}"),
        {"d": device_id, **scope.params()},
    ).first()  # fmt: skip
    return None if row is None else (str(row.name), float(row.x), float(row.y))


@dataclass(frozen=True)
class Deleted:
    """What :func:`delete_device` did: ``found`` (in scope), ``deleted``, and whether
    sightings of the device stopped it."""

    found: bool
    deleted: bool
    has_sightings: bool = False


def delete_device(conn: Connection, table: str, device_id: str, scope: Scope) -> Deleted:
    """Delete a camera or checkpoint inside ``scope`` in the caller's transaction.

    A device with sightings is not deleted (the foreign key would delete the sightings with
    it, and they are evidence). Sightings have no index on the device (they are partitioned by
    month and looked up by object): the check stops at the first one, and costs what the
    foreign key's own cascade would cost on delete.
    """
    if table not in ("cameras", "checkpoints"):
        raise ValueError(f"{table} is not a device table")
    where = scope.devices("t", camera=table == "cameras")
    row = conn.execute(
        text(f"SELECT t.id FROM {table} t WHERE t.device_id = :d AND {where} "  # noqa: S608
             "FOR UPDATE"),
        {"d": device_id, **scope.params()},
    ).first()  # fmt: skip
    if row is None:
        return Deleted(False, False)
    column = "camera_id" if table == "cameras" else "checkpoint_id"
    seen = conn.execute(
        text(f"SELECT 1 FROM sightings WHERE {column} = :i LIMIT 1"), {"i": row.id}  # noqa: S608
    ).first() is not None  # fmt: skip
    if seen:
        return Deleted(True, False, True)
    conn.execute(text(f"DELETE FROM {table} WHERE id = :i"), {"i": row.id})  # noqa: S608
    return Deleted(True, True)


def alarm_jurisdiction(conn: Connection, lon: float, lat: float) -> tuple[int, str] | None:
    """The most local unit covering the point (as ``store.load.assign_jurisdictions``)."""
    row = conn.execute(
        text("SELECT j.id, j.code FROM jurisdictions j "
             "WHERE ST_Covers(j.geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
             "ORDER BY CASE j.level WHEN 'station' THEN 0 WHEN 'district' THEN 1 ELSE 2 END "
             "LIMIT 1"),
        {"x": lon, "y": lat},
    ).first()  # fmt: skip
    return None if row is None else (int(row.id), str(row.code))


def insert_alarm(
    conn: Connection, lon: float, lat: float, *, kind: str, priority: int,
    occurred_at: dt.datetime | None, description: str | None, jurisdiction_id: int | None,
    source: str = "api",
) -> int:  # fmt: skip
    """Store an alarm at (lon, lat), EPSG:4326; returns its id."""
    return int(conn.execute(
        text("INSERT INTO alarms (occurred_at, kind, priority, status, description, "
             "jurisdiction_id, source, geom) VALUES (coalesce(:at, now()), :kind, :prio, "
             "'open', :desc, :j, :src, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
        {"at": occurred_at, "kind": kind, "prio": priority, "desc": description,
         "j": jurisdiction_id, "src": source, "x": lon, "y": lat},
    ).scalar_one())  # fmt: skip
