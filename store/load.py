"""Bulk writes of GeoDataFrames into the store. Callers pass one open transaction (Connection).

Geometries are written as EWKT with SRID 4326; polygons are promoted to MultiPolygon where the
column is MULTIPOLYGON. Frame columns that the table does not have are an error, so nothing a
caller meant to store is dropped silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Table, delete, insert, select, text, update

from store.models import (
    Alarm,
    AlarmPoint,
    Base,
    Camera,
    Checkpoint,
    DatasetLoad,
    Jurisdiction,
    KeyArea,
)

LEVEL_ORDER = ("city", "district", "station")


class LoadError(ValueError):
    """A frame cannot be written as given (unknown column, wrong CRS, missing parent ...)."""


def _python(value: Any) -> Any:
    """numpy/pandas scalars -> plain Python; NaN/NaT/NA -> None."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, np.ndarray):
        return [_python(v) for v in value.tolist()]
    return value


def copy_cell(value: Any) -> Any:
    """A value as COPY takes it: plain Python, NaN/inf -> NULL, dicts/lists -> JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    value = _python(value)
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY rows into ``table`` (any table, temporary ones too) in the caller's transaction.

    A column named ``geom`` takes shapely geometries, written as EWKB with SRID 4326.
    Returns the number of rows written.
    """
    geom_at = list(columns).index("geom") if "geom" in columns else -1
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    if geom_at >= 0:  # encode all geometries in one vectorised call
        rows = list(rows)
        ewkb = ewkb_hex([row[geom_at] for row in rows])
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as cp:
        for row in rows:
            cells = [copy_cell(v) for v in row]
            if geom_at >= 0:
                cells[geom_at] = ewkb[n]
            cp.write_row(cells)
            n += 1
    return n


# Column types copy_columns sends in COPY's binary format (type name -> psycopg type name);
# geometry travels as its EWKB bytes, which is what PostGIS's binary input reads.
_BINARY_TYPES = {
    "int2": "int2", "int4": "int4", "int8": "int8", "float4": "float4", "float8": "float8",
    "text": "text", "varchar": "text", "bpchar": "text", "bool": "bool", "jsonb": "jsonb",
    "timestamptz": "timestamptz", "date": "date", "geometry": "bytea",
}  # fmt: skip


def copy_columns(conn: Connection, table: str, columns: Mapping[str, Any]) -> int:
    """COPY whole columns into ``table`` in the caller's transaction, in COPY's binary format.

    ``columns`` maps column names to equally long sequences (numpy arrays, lists, Series).
    A column named ``geom`` takes shapely geometries (written as EWKB, SRID 4326); floats
    that are NaN or infinite become NULL; ``jsonb`` columns take Python lists/dicts. Much
    faster than :func:`copy_rows` for large results: each column is converted in one
    vectorised step and nothing is text-escaped. Returns the number of rows written.
    """
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    if any(len(v) != n for v in columns.values()):
        raise LoadError(f"{table}: columns of different lengths")
    rows = conn.execute(
        text("SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t "
             "ON t.oid = a.atttypid WHERE a.attrelid = CAST(:t AS regclass) "
             "AND a.attnum > 0 AND NOT a.attisdropped"),
        {"t": table},
    ).all()  # fmt: skip
    types: dict[str, str] = {str(name): str(typ) for name, typ in rows}
    missing = [c for c in names if c not in types]
    if missing:
        raise LoadError(f"{table}: no column(s) {', '.join(missing)}")
    unsupported = [f"{c} ({types[c]})" for c in names if types[c] not in _BINARY_TYPES]
    if unsupported:
        raise LoadError(f"{table}: binary COPY does not handle {', '.join(unsupported)}")
    cells = [_column_values(columns[c], types[c]) for c in names]
    raw = conn.connection.driver_connection
    assert raw is not None
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in names)
    with raw.cursor() as cur, cur.copy(
        f"COPY {table} ({quoted}) FROM STDIN (FORMAT BINARY)"
    ) as cp:  # fmt: skip
        cp.set_types([_BINARY_TYPES[types[c]] for c in names])
        for row in zip(*cells, strict=True):
            cp.write_row(row)
    return n


def _column_values(values: Any, pg_type: str) -> list[Any]:
    """One column as the plain Python values psycopg's binary dumpers take."""
    if pg_type == "geometry":
        arr = np.asarray(values, dtype=object).reshape(-1)
        if not len(arr):
            return []
        wkb = shapely.to_wkb(shapely.set_srid(arr, 4326), include_srid=True)
        return list(wkb)
    if pg_type == "jsonb":
        return [None if v is None else _python(v) for v in values]
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        out: list[Any] = arr.astype(np.float64).tolist()
        for i in np.flatnonzero(~np.isfinite(arr)).tolist():
            out[i] = None
        return out
    if arr.dtype.kind in "iub":
        return arr.tolist()
    return [_python(v) for v in arr.tolist()]


def ewkb_hex(geoms: Sequence[Any]) -> np.ndarray:
    """Hex EWKB (SRID 4326) of shapely geometries, as PostGIS reads it; None stays None."""
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    if not len(arr):
        return np.empty(0, dtype=object)
    return np.asarray(
        shapely.to_wkb(shapely.set_srid(arr, 4326), hex=True, include_srid=True), dtype=object
    )


def _ewkt(geoms: Iterable[Any], multi: bool) -> list[str]:
    arr = np.asarray(list(geoms), dtype=object)
    if multi:
        single = shapely.get_type_id(arr) == shapely.GeometryType.POLYGON
        arr[single] = shapely.multipolygons(arr[single, None])
    wkt = shapely.to_wkt(arr, rounding_precision=-1, trim=True)
    return ["SRID=4326;" + w for w in wkt]


def records(
    table: Table, gdf: gpd.GeoDataFrame, extra: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Rows of ``gdf`` as insert parameter dicts for ``table`` (geometry -> ``geom``)."""
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise LoadError(f"{table.name}: frame CRS must be EPSG:4326, got {gdf.crs}")
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    unknown = sorted(set(cols) - set(table.c.keys()))
    if unknown:
        raise LoadError(f"{table.name}: frame has columns the table lacks: {', '.join(unknown)}")
    geom_type = str(getattr(table.c.geom.type, "geometry_type", "")).upper()
    geoms = _ewkt(gdf.geometry.array, multi=geom_type == "MULTIPOLYGON")
    data = gdf[cols].to_dict(orient="records")
    rows = []
    for row, g in zip(data, geoms, strict=True):
        rec = {k: _python(v) for k, v in row.items()}
        rec["geom"] = g
        if extra:
            rec.update(extra)
        rows.append(rec)
    return rows


def insert_frame(
    conn: Connection,
    model: type[Base],
    gdf: gpd.GeoDataFrame,
    extra: Mapping[str, Any] | None = None,
) -> list[int]:
    """Insert every row of ``gdf`` into ``model``'s table; returns the new ids in row order."""
    table: Table = model.__table__  # type: ignore[assignment]
    rows = records(table, gdf, extra)
    if not rows:
        return []
    result = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return [int(r[0]) for r in result]


def replace_jurisdictions(conn: Connection, gdf: gpd.GeoDataFrame) -> dict[str, int]:
    """Replace all jurisdictions with ``gdf`` (code, name, level, parent_code, admin_code).

    References from devices, areas and alarms are cleared first and must be re-assigned with
    :func:`assign_jurisdictions`. Returns code -> new id.
    """
    for model in (Camera, Checkpoint, KeyArea, AlarmPoint, Alarm):
        conn.execute(update(model).values(jurisdiction_id=None))
    for level in reversed(LEVEL_ORDER):  # children before parents
        conn.execute(delete(Jurisdiction).where(Jurisdiction.level == level))
    ids: dict[str, int] = {}
    for level in LEVEL_ORDER:
        part = gdf[gdf["level"] == level]
        if part.empty:
            continue
        raw = part["parent_code"].tolist() if "parent_code" in part else [None] * len(part)
        parents = [None if _python(p) is None else str(p) for p in raw]
        missing = sorted({p for p in parents if p is not None and p not in ids})
        if missing:
            raise LoadError(f"jurisdictions: unknown parent code(s) {', '.join(missing)}")
        frame = part.drop(columns=["parent_code"], errors="ignore").copy()
        frame["parent_id"] = [ids[p] if p is not None else None for p in parents]
        new = insert_frame(conn, Jurisdiction, frame)
        ids.update(zip(part["code"].tolist(), new, strict=True))
    return ids


def assign_jurisdictions(conn: Connection) -> None:
    """Set ``jurisdiction_id`` of every device, key area and alarm to the most local unit."""
    rank = "CASE j.level WHEN 'station' THEN 0 WHEN 'district' THEN 1 ELSE 2 END"
    for table, where in (
        ("cameras", "t.geom"),
        ("checkpoints", "t.geom"),
        ("alarm_points", "t.geom"),
        ("alarms", "t.geom"),
        ("key_areas", "ST_PointOnSurface(t.geom)"),
    ):
        conn.execute(
            text(
                f"UPDATE {table} t SET jurisdiction_id = ("  # noqa: S608 - fixed identifiers
                f"SELECT j.id FROM jurisdictions j WHERE ST_Covers(j.geom, {where}) "
                f"ORDER BY {rank} LIMIT 1)"
            )
        )


def delete_by_source(conn: Connection, models: Iterable[type[Base]], sources: list[str]) -> None:
    """Delete the rows of the given tables whose ``source`` is one of ``sources``."""
    for model in models:
        table: Table = model.__table__  # type: ignore[assignment]
        conn.execute(delete(table).where(table.c.source.in_(sources)))


def last_load(conn: Connection, name: str) -> DatasetLoad | None:
    """The newest dataset load record of that name."""
    row = conn.execute(
        select(DatasetLoad.__table__)
        .where(DatasetLoad.name == name)
        .order_by(DatasetLoad.id.desc())
        .limit(1)
    ).first()
    return DatasetLoad(**row._mapping) if row is not None else None


def record_load(
    conn: Connection,
    name: str,
    source: str,
    sha256: str,
    parameters: Mapping[str, Any],
    row_counts: Mapping[str, int],
) -> None:
    """Write a dataset load record."""
    conn.execute(
        insert(DatasetLoad).values(
            name=name,
            source=source,
            source_sha256=sha256,
            parameters=dict(parameters),
            row_counts=dict(row_counts),
        )
    )
