"""SQL of survey imports: a staging table filled by COPY, cross-row checks, and the merge.

All of it runs inside the caller's transaction; the staging table is dropped at commit or
rollback. Keys: cameras and checkpoints by ``device_id``, alarm points and jurisdictions by
``code``, key areas by ``name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Connection, Integer, Table, text

from store.load import copy_cell, copy_rows
from store.models import AlarmPoint, Base, Camera, Checkpoint, Jurisdiction, KeyArea, SurveyImport
from store.scope import Scope

STAGE = "sl_survey_stage"
ROW = "__row__"
# Positions closer than this (degrees, ~1 cm) count as unchanged on re-import.
SAME_PLACE_DEG = 1e-7


@dataclass(frozen=True)
class KindTable:
    """Where a survey kind is stored and how its rows are matched."""

    model: type[Base]
    key: str

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[return-value]


KIND_TABLES: dict[str, KindTable] = {
    "cameras": KindTable(Camera, "device_id"),
    "checkpoints": KindTable(Checkpoint, "device_id"),
    "alarm_points": KindTable(AlarmPoint, "code"),
    "key_areas": KindTable(KeyArea, "name"),
    "jurisdictions": KindTable(Jurisdiction, "code"),
}
_EXTRA_STAGE_COLUMNS = {"parent_code": "text"}


@dataclass
class MergeCounts:
    """What a merge did, in rows."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_stage(conn: Connection, kind: str, columns: Sequence[str]) -> list[str]:
    """Create the temporary staging table for ``kind`` with ``columns`` (+ row number, geom).

    Column types are copied from the target table; returns the staged column names.
    """
    table = KIND_TABLES[kind].table
    cols = [c for c in columns if c in table.c and c not in ("id", "geom")]
    extra = [c for c in columns if c in _EXTRA_STAGE_COLUMNS]
    select = ", ".join(_q(c) for c in [*cols, "geom"])
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    conn.execute(
        text(
            f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {select} "
            f"FROM {_q(table.name)} WITH NO DATA"
        )
    )
    conn.execute(text(f"ALTER TABLE {STAGE} ADD COLUMN {_q(ROW)} integer"))
    for c in extra:
        conn.execute(text(f"ALTER TABLE {STAGE} ADD COLUMN {_q(c)} {_EXTRA_STAGE_COLUMNS[c]}"))
    return [*cols, *extra]


def copy_stage(conn: Connection, kind: str, gdf: gpd.GeoDataFrame, columns: Sequence[str]) -> int:
    """COPY the rows of ``gdf`` (EPSG:4326) into the staging table; returns rows copied."""
    if gdf.empty:
        return 0
    table = KIND_TABLES[kind].table
    integer = [c in table.c and isinstance(table.c[c].type, Integer) for c in columns] + [True]
    names = [*columns, ROW, "geom"]
    geoms = gdf.geometry.to_numpy()
    if str(getattr(table.c.geom.type, "geometry_type", "")).upper() == "MULTIPOLYGON":
        single = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
        geoms = geoms.copy()
        geoms[single] = shapely.multipolygons(geoms[single, None])
    data = gdf[[*columns, ROW]].to_numpy(dtype=object)

    def rows() -> Iterator[list[Any]]:
        for values, geom in zip(data, geoms, strict=True):
            cells = [copy_cell(v) for v in values]
            for i, is_int in enumerate(integer):
                if is_int and cells[i] is not None:
                    cells[i] = int(cells[i])
            yield [*cells, geom]

    return copy_rows(conn, STAGE, names, rows())


def duplicate_rows(conn: Connection, kind: str) -> list[tuple[int, str, int]]:
    """(row, key, first row) of every staged row whose key an earlier row already has."""
    key = _q(KIND_TABLES[kind].key)
    rows = conn.execute(
        text(
            f"SELECT {_q(ROW)}, {key}, first_row FROM ("
            f"  SELECT {_q(ROW)}, {key}, min({_q(ROW)}) OVER (PARTITION BY {key}) AS first_row"
            f"  FROM {STAGE} WHERE {key} IS NOT NULL) d "
            f"WHERE {_q(ROW)} <> first_row ORDER BY {_q(ROW)}"
        )
    )
    return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def existing_rows(conn: Connection, kind: str) -> list[tuple[int, str]]:
    """(row, key) of staged rows whose key is already in the store."""
    kt = KIND_TABLES[kind]
    key = _q(kt.key)
    rows = conn.execute(
        text(
            f"SELECT s.{_q(ROW)}, s.{key} FROM {STAGE} s "
            f"JOIN {_q(kt.table.name)} t ON t.{key} = s.{key} ORDER BY s.{_q(ROW)}"
        )
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def out_of_scope_rows(
    conn: Connection, kind: str, scope: Scope
) -> list[tuple[int, str, str | None, str]]:
    """(row, field, value, reason) of staged rows the importer's ``scope`` may not write:
    a location outside its jurisdictions, a key already stored in another jurisdiction, or
    a camera access level above its clearance."""
    kt = KIND_TABLES[kind]
    t, key, row = _q(kt.table.name), _q(kt.key), _q(ROW)
    staged = {str(r[0]) for r in conn.execute(
        text("SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
             "AND attnum > 0"), {"t": STAGE})}  # fmt: skip
    unit = scope.root_code or "?"
    outside = "{c} IS NULL OR NOT ({c} = ANY(:scope_jids))"
    checks: list[tuple[str, str, str]] = []  # (SQL giving row and value, field, reason)
    if scope.jurisdiction_ids is not None:
        if "jurisdiction_id" in staged:
            checks.append((
                f"SELECT s.{row}, s.{key} FROM {STAGE} s "
                f"WHERE {outside.format(c='s.jurisdiction_id')}",
                "jurisdiction", f"outside your jurisdiction {unit}: you may import only inside it",
            ))  # fmt: skip
        checks.append((
            f"SELECT s.{row}, s.{key} FROM {STAGE} s JOIN {t} x ON x.{key} = s.{key} "
            f"WHERE {outside.format(c='x.jurisdiction_id')}",
            kt.key, f"already stored in a jurisdiction outside {unit}: not yours to change",
        ))  # fmt: skip
    if "access_level" in staged:
        checks.append((
            f"SELECT s.{row}, s.access_level FROM {STAGE} s "
            f"WHERE s.access_level > :scope_clearance",
            "access_level", f"above your clearance for camera access levels ({scope.clearance})",
        ))  # fmt: skip
    out: list[tuple[int, str, str | None, str]] = []
    for sql, field, reason in checks:
        for r in conn.execute(text(sql + f" ORDER BY s.{row}"), scope.params()):
            out.append((int(r[0]), field, None if r[1] is None else str(r[1]), reason))
    return out


def drop_stage_rows(conn: Connection, rows: Iterable[int]) -> None:
    """Remove rejected rows from the staging table (for --skip-invalid)."""
    ids = sorted(set(rows))
    if ids:
        conn.execute(text(f"DELETE FROM {STAGE} WHERE {_q(ROW)} = ANY(:rows)"), {"rows": ids})


def staged_count(conn: Connection) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {STAGE}")).scalar_one())


def merge(
    conn: Connection, kind: str, columns: Sequence[str], mode: str, scope: Scope | None = None
) -> MergeCounts:
    """Merge the staged rows into the kind's table.

    ``insert`` and ``upsert`` add new keys and (upsert) update the columns present in the
    file where something changed; ``replace`` also deletes stored rows whose key is not in
    the file (only rows inside ``scope`` when given). Attributes are merged (file values win);
    the position counts as changed when it moved by more than ~1 cm.
    """
    kt = KIND_TABLES[kind]
    t, key = _q(kt.table.name), _q(kt.key)
    cols = [c for c in columns if c in kt.table.c and c != kt.key]
    counts = MergeCounts()
    total = staged_count(conn)
    if mode in ("upsert", "replace"):
        sets = [f"{_q(c)} = s.{_q(c)}" for c in cols if c != "attributes"]
        changed = [f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in cols if c != "attributes"]
        if "attributes" in cols:
            sets.append("attributes = t.attributes || s.attributes")
            changed.append("NOT t.attributes @> s.attributes")
        sets.append("geom = s.geom")
        changed.append(f"ST_HausdorffDistance(t.geom, s.geom) > {SAME_PLACE_DEG}")
        if "updated_at" in kt.table.c:
            sets.append("updated_at = now()")
        result = conn.execute(
            text(
                f"UPDATE {t} AS t SET {', '.join(sets)} FROM {STAGE} s "
                f"WHERE t.{key} = s.{key} AND ({' OR '.join(changed)})"
            )
        )
        counts.updated = result.rowcount
    if kind == "jurisdictions":
        counts.inserted = _insert_jurisdictions(conn, cols)
    else:
        names = [kt.key, *cols, "geom"]
        listed = ", ".join(_q(c) for c in names)
        result = conn.execute(
            text(
                f"INSERT INTO {t} ({listed}, source) SELECT {listed}, 'survey' FROM {STAGE} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {t} x WHERE x.{key} = s.{key}) "
                f"ORDER BY s.{_q(ROW)}"
            )
        )
        counts.inserted = result.rowcount
    if mode == "replace":
        in_scope, params = "TRUE", {}
        if scope is not None and scope.jurisdiction_ids is not None:
            in_scope, params = scope.devices("t"), scope.params()
        result = conn.execute(
            text(
                f"DELETE FROM {t} t WHERE NOT EXISTS "
                f"(SELECT 1 FROM {STAGE} s WHERE s.{key} = t.{key}) AND {in_scope}"
            ),
            params,
        )
        counts.deleted = result.rowcount
    counts.unchanged = total - counts.inserted - counts.updated
    return counts


def _insert_jurisdictions(conn: Connection, cols: Sequence[str]) -> int:
    """Insert new jurisdictions level by level so each finds its parent (also new ones)."""
    own = [c for c in cols if c not in ("parent_code",)]
    listed = ", ".join(_q(c) for c in ["code", *own, "geom"])
    inserted = 0
    for level in ("city", "district", "station"):
        result = conn.execute(
            text(
                f"INSERT INTO jurisdictions ({listed}, parent_id) "
                f"SELECT {', '.join('s.' + _q(c) for c in ['code', *own, 'geom'])}, "
                "(SELECT p.id FROM jurisdictions p WHERE p.code = s.parent_code) "
                f"FROM {STAGE} s WHERE s.level = :level AND NOT EXISTS "
                "(SELECT 1 FROM jurisdictions x WHERE x.code = s.code)"
            ),
            {"level": level},
        )
        inserted += result.rowcount
    if "parent_code" in cols:
        conn.execute(
            text(
                f"UPDATE jurisdictions j SET parent_id = p.id FROM {STAGE} s "
                "JOIN jurisdictions p ON p.code = s.parent_code "
                "WHERE j.code = s.code AND j.parent_id IS DISTINCT FROM p.id"
            )
        )
    return inserted


def city_extent(conn: Connection, margin_m: float) -> shapely.Geometry | None:
    """The city jurisdictions grown by ``margin_m`` metres (EPSG:4326), or None if none."""
    wkb = conn.execute(
        text(
            "SELECT ST_AsBinary(ST_Buffer(ST_Union(geom)::geography, :m)::geometry) "
            "FROM jurisdictions WHERE level = 'city'"
        ),
        {"m": margin_m},
    ).scalar()
    return None if wkb is None else shapely.from_wkb(bytes(wkb))


def jurisdictions_frame(conn: Connection) -> gpd.GeoDataFrame:
    """id, code, name, level, admin_code, geometry of every jurisdiction (EPSG:4326)."""
    return gpd.read_postgis(
        text("SELECT id, code, name, level, admin_code, geom FROM jurisdictions ORDER BY id"),
        conn,
        geom_col="geom",
        crs=4326,
    )


def record_import(conn: Connection, **values: Any) -> int:
    """Write a survey_imports row; returns its id."""
    table: Table = SurveyImport.__table__  # type: ignore[assignment]
    result = conn.execute(table.insert().values(**values).returning(table.c.id))
    return int(result.scalar_one())


_EXPORT_SQL: dict[str, str] = {
    "cameras": """
        SELECT t.device_id, t.name, j.code AS jurisdiction, t.owner, t.is_social_resource,
               t.access_level, t.kind, t.camera_type, t.mount, t.address, t.mount_height_m,
               t.azimuth_deg, t.tilt_deg, t.any_direction, t.ptz_presets, t.lens_model,
               t.sensor_width_mm, t.sensor_height_mm, t.focal_length_mm, t.hfov_deg,
               CASE WHEN t.resolution_w_px IS NOT NULL
                    THEN t.resolution_w_px || 'x' || t.resolution_h_px END AS resolution,
               t.stream_ref, t.status, t.attributes, t.geom
        FROM cameras t LEFT JOIN jurisdictions j ON j.id = t.jurisdiction_id""",
    "checkpoints": """
        SELECT t.device_id, t.name, j.code AS jurisdiction, t.road_name,
               array_to_string(ARRAY(SELECT jsonb_array_elements_text(t.directions)), ',')
                   AS directions,
               t.lanes, t.is_entry, t.status, t.attributes, t.geom
        FROM checkpoints t LEFT JOIN jurisdictions j ON j.id = t.jurisdiction_id""",
    "alarm_points": """
        SELECT t.code, t.name, j.code AS jurisdiction, t.kind, t.status, t.attributes, t.geom
        FROM alarm_points t LEFT JOIN jurisdictions j ON j.id = t.jurisdiction_id""",
    "key_areas": """
        SELECT t.name, t.area_class, t.required_dori, t.geom FROM key_areas t""",
    "jurisdictions": """
        SELECT t.code, t.name, t.level, p.code AS parent_code, t.admin_code, t.geom
        FROM jurisdictions t LEFT JOIN jurisdictions p ON p.id = t.parent_id""",
    "blind_spots": """
        SELECT t.id, t.run_id, k.name AS key_area, k.area_class, t.dori_level, t.area_m2, t.geom
        FROM blind_spots t JOIN key_areas k ON k.id = t.key_area_id""",
}
EXPORT_KINDS = tuple(_EXPORT_SQL)


def export_rows(conn: Connection, kind: str, jurisdiction_ids: Sequence[int] | None = None
                ) -> gpd.GeoDataFrame:  # fmt: skip
    """Rows of ``kind`` with survey field names (EPSG:4326), in key order.

    ``jurisdiction_ids`` limits devices to those jurisdictions (scoping hook for the
    security layer); ``None`` exports everything.
    """
    if kind not in _EXPORT_SQL:
        raise ValueError(f"cannot export {kind!r}; one of {', '.join(EXPORT_KINDS)}")
    sql = _EXPORT_SQL[kind]
    params: dict[str, Any] = {}
    if jurisdiction_ids is not None and kind in ("cameras", "checkpoints", "alarm_points"):
        sql += " WHERE t.jurisdiction_id = ANY(:jids)"
        params["jids"] = list(jurisdiction_ids)
    sql += " ORDER BY 1"
    return gpd.read_postgis(text(sql), conn, geom_col="geom", params=params, crs=4326)
