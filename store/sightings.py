"""Sightings: the bulk load path (binary COPY into day partitions) and the scoped queries.

Load: a day not stored yet (UTC) is COPYed into a bare table, indexed once (the unique btree and
BRIN) and attached as that day's partition; ATTACH checks the foreign keys in one query and
takes only a SHARE UPDATE EXCLUSIVE lock on ``sightings``, so readers are not blocked. Rows of
a day already stored (late arrivals) go through a temporary staging table into the partition
(its index is kept row by row: fine for stragglers; a whole day that way ran at ~20k rows/s
against a 10M-row month partition, hence partitions by day). ``sighting_counts`` (per device
and UTC hour) is updated in the same transaction. Queries take a :class:`store.scope.Scope`:
a principal sees only sightings of devices in its jurisdiction (and cameras within its
clearance).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from store.scope import Scope

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00Z in microseconds since 1970
_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER = b"\xff\xff"
_CHUNK_ROWS = 500_000
COLUMNS = ("object_ref", "seen_at", "camera_id", "checkpoint_id", "direction", "lane",
           "confidence")  # fmt: skip
_UNIQUE = "(object_ref, seen_at, camera_id, checkpoint_id) NULLS NOT DISTINCT"


class SightingLoadError(ValueError):
    """A batch that cannot be stored (duplicates, unknown devices ...); nothing was written."""


@dataclass
class SightingBatch:
    """Sightings as columns (equal lengths).

    ``object_ref``: UTF-8 bytes (numpy ``S`` dtype); ``seen_at_us``: int64 microseconds since
    1970-01-01 UTC; ``camera_id`` / ``checkpoint_id``: int64 store ids, 0 where the other
    device column is set; ``direction``: ``S`` bytes, empty = NULL; ``lane``: int64, -1 =
    NULL; ``confidence``: float64 in [0, 1], NaN = NULL.
    """

    object_ref: NDArray[np.bytes_]
    seen_at_us: NDArray[np.int64]
    camera_id: NDArray[np.int64]
    checkpoint_id: NDArray[np.int64]
    direction: NDArray[np.bytes_] | None = None
    lane: NDArray[np.int64] | None = None
    confidence: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.seen_at_us)

    def take(self, idx: NDArray[np.intp]) -> SightingBatch:
        def t(a: Any) -> Any:
            return None if a is None else a[idx]

        return SightingBatch(self.object_ref[idx], self.seen_at_us[idx], self.camera_id[idx],
                             self.checkpoint_id[idx], t(self.direction), t(self.lane),
                             t(self.confidence))  # fmt: skip


@dataclass
class LoadStats:
    """What :func:`load` did: rows per partition and how (``new`` or ``append``)."""

    rows: int = 0
    partitions: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)


# -- binary COPY, built with numpy ----------------------------------------------------------
def _put(buf: NDArray[np.uint8], pos: NDArray[np.int64], be: NDArray[Any]) -> None:
    """Write big-endian fixed-width values ``be`` at byte offsets ``pos`` of ``buf``."""
    if not len(pos):
        return
    width = be.dtype.itemsize
    raw = np.ascontiguousarray(be).view(np.uint8).reshape(len(pos), width)
    buf[pos[:, None] + np.arange(width)] = raw


def pgcopy_rows(batch: SightingBatch, start: int, stop: int) -> bytes:
    """Rows ``start:stop`` of ``batch`` in PostgreSQL's binary COPY row format (no header).

    Rows with the same layout (object_ref and direction byte lengths, which columns are
    NULL) are written together as one packed numpy record array — field assignment at memory
    speed, no per-row Python. So the rows come out grouped by layout, each group in its
    original (time) order: a handful of time-ordered runs, which BRIN handles well.
    """
    n = stop - start
    sl = slice(start, stop)
    ref = batch.object_ref[sl]
    ref_len = np.char.str_len(ref).astype(np.int64)
    cam = batch.camera_id[sl]
    chk = batch.checkpoint_id[sl]
    dirs = batch.direction[sl] if batch.direction is not None else None
    dir_len = (np.char.str_len(dirs).astype(np.int64) if dirs is not None
               else np.zeros(n, np.int64))  # fmt: skip
    lane = batch.lane[sl] if batch.lane is not None else np.full(n, -1, np.int64)
    conf = batch.confidence[sl] if batch.confidence is not None else np.full(n, np.nan)
    ts = batch.seen_at_us[sl] - _PG_EPOCH_US
    has_cam, has_lane, has_conf = cam > 0, lane >= 0, np.isfinite(conf)
    layout = (ref_len * 4096 + dir_len * 8 + has_cam * 4 + has_lane * 2 + has_conf)
    keys, group = np.unique(layout, return_inverse=True)
    group = group.reshape(-1)
    parts = []
    for g, key in enumerate(keys.tolist()):
        rows = np.flatnonzero(group == g)
        rl, dl = key // 4096, (key % 4096) // 8
        c_, l_, f_ = bool(key & 4), bool(key & 2), bool(key & 1)
        fields: list[tuple[str, str]] = [("n", ">i2"), ("l_ref", ">i4")]
        if rl:
            fields.append(("ref", f"S{rl}"))
        fields += [("l_ts", ">i4"), ("ts", ">i8"), ("l_cam", ">i4")]
        if c_:
            fields.append(("cam", ">i4"))
        fields.append(("l_chk", ">i4"))
        if not c_:
            fields.append(("chk", ">i4"))
        fields.append(("l_dir", ">i4"))
        if dl:
            fields.append(("dir", f"S{dl}"))
        fields.append(("l_lane", ">i4"))
        if l_:
            fields.append(("lane", ">i4"))
        fields.append(("l_conf", ">i4"))
        if f_:
            fields.append(("conf", ">f8"))
        rec = np.empty(len(rows), dtype=np.dtype(fields))
        rec["n"] = len(COLUMNS)
        rec["l_ref"] = rl
        if rl:
            rec["ref"] = ref[rows]
        rec["l_ts"] = 8
        rec["ts"] = ts[rows]
        rec["l_cam"] = 4 if c_ else -1
        rec["l_chk"] = -1 if c_ else 4
        if c_:
            rec["cam"] = cam[rows]
        else:
            rec["chk"] = chk[rows]
        rec["l_dir"] = dl if dl else -1
        if dl:
            assert dirs is not None
            rec["dir"] = dirs[rows]
        rec["l_lane"] = 4 if l_ else -1
        if l_:
            rec["lane"] = lane[rows]
        rec["l_conf"] = 8 if f_ else -1
        if f_:
            rec["conf"] = conf[rows]
        parts.append(rec.tobytes())
    return b"".join(parts)


def copy_batch(conn: Connection, table: str, batch: SightingBatch, *,
               freeze: bool = False) -> int:  # fmt: skip
    """COPY ``batch`` into ``table`` (columns :data:`COLUMNS`) in binary; returns the rows.

    ``freeze``: write the rows frozen (only for a table created in this transaction): the
    index build, ANALYZE and later readers need not set hint bits page by page.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    opts = "FORMAT BINARY, FREEZE" if freeze else "FORMAT BINARY"
    with raw.cursor() as cur, cur.copy(
        f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN ({opts})"
    ) as cp:  # fmt: skip
        cp.write(_HEADER)
        for start in range(0, len(batch), _CHUNK_ROWS):
            cp.write(pgcopy_rows(batch, start, min(start + _CHUNK_ROWS, len(batch))))
        cp.write(_TRAILER)
    return len(batch)


# -- partitions -----------------------------------------------------------------------------
def day_bounds(day: np.datetime64) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a UTC day (``datetime64[D]``) as aware datetimes."""
    start = day.astype("datetime64[us]").astype(dt.datetime).replace(tzinfo=dt.UTC)
    end = (day + 1).astype("datetime64[us]").astype(dt.datetime).replace(tzinfo=dt.UTC)
    return start, end


def partition_name(day: np.datetime64) -> str:
    y, m, d = str(day).split("-")
    return f"sightings_d{int(y):04d}{int(m):02d}{int(d):02d}"


def month_name(day: np.datetime64) -> str:
    y, m, _ = str(day).split("-")
    return f"sightings_m{int(y):04d}{int(m):02d}"


def compact_month(conn: Connection, year: int, month: int) -> dict[str, Any]:
    """Merge a month's day partitions into one month partition, in the caller's transaction.

    A lookup of one object over a month then probes one index instead of ~30 (planning and
    executor start-up grow with the partitions touched). The month table is filled and
    indexed while the day partitions only refuse writes (SHARE lock); readers are blocked
    only for the final swap (DETACH needs ACCESS EXCLUSIVE on ``sightings`` in PostgreSQL
    15). Returns the day partitions merged and the rows.
    """
    lo = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    hi = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    name = f"sightings_m{year:04d}{month:02d}"
    if _exists(conn, name):
        raise SightingLoadError(f"{name} exists: {lo:%Y-%m} is compacted already")
    days = [str(r) for r in conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'sightings'::regclass AND c.relname LIKE :p ORDER BY 1"),
        {"p": f"sightings_d{year:04d}{month:02d}%"}).scalars()]  # fmt: skip
    if not days:
        return {"partition": None, "days": [], "rows": 0}
    conn.execute(text(f"LOCK TABLE {', '.join(days)} IN SHARE MODE"))
    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    conn.execute(text(f"CREATE TABLE {name} (LIKE sightings INCLUDING DEFAULTS "
                      "INCLUDING CONSTRAINTS)"))  # fmt: skip
    conn.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK (seen_at >= "
                      f"'{lo.isoformat()}' AND seen_at < '{hi.isoformat()}')"))  # fmt: skip
    rows = 0
    for d in days:  # each day is in time order already: the month stays in time order
        rows += conn.execute(text(f"INSERT INTO {name} SELECT * FROM {d} ORDER BY seen_at")
                             ).rowcount  # fmt: skip
    conn.execute(text(f"CREATE UNIQUE INDEX {name}_ors ON {name} {_UNIQUE}"))
    conn.execute(text(f"CREATE INDEX {name}_brin ON {name} USING brin (seen_at) "
                      "WITH (autosummarize = on)"))  # fmt: skip
    conn.execute(text(f"ANALYZE {name}"))
    for d in days:
        conn.execute(text(f"ALTER TABLE sightings DETACH PARTITION {d}"))
        conn.execute(text(f"DROP TABLE {d}"))
    conn.execute(text(f"ALTER TABLE sightings ATTACH PARTITION {name} FOR VALUES FROM "
                      f"('{lo.isoformat()}') TO ('{hi.isoformat()}')"))  # fmt: skip
    conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))
    return {"partition": name, "days": days, "rows": rows}


def _exists(conn: Connection, name: str) -> bool:
    return bool(conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one())


def load(conn: Connection, batch: SightingBatch, *, analyze: bool = True) -> LoadStats:
    """Store ``batch`` in the caller's transaction (all or nothing).

    Raises
    ------
    SightingLoadError
        When a sighting is already stored or appears twice in the batch (the key is named).
    """
    import time

    stats = LoadStats(rows=len(batch))
    if not len(batch):
        return stats
    day_of = batch.seen_at_us.astype("datetime64[us]").astype("datetime64[D]")
    order = np.argsort(batch.seen_at_us, kind="stable")  # by time (BRIN order), so by day
    days, first = np.unique(day_of[order], return_index=True)
    bounds = [*first.tolist(), len(order)]
    for k, day in enumerate(days):
        part = batch.take(order[bounds[k]:bounds[k + 1]])
        name = partition_name(day)
        month = month_name(day)
        t0 = time.perf_counter()
        try:
            if _exists(conn, month):  # a compacted month (late rows)
                name = month
                _append(conn, name, part)
                stats.partitions[name] = "append"
            elif _exists(conn, name):
                _append(conn, name, part)
                stats.partitions[name] = "append"
            else:
                _new_partition(conn, name, day, part)
                stats.partitions[name] = "new"
        except IntegrityError as exc:
            detail = str(exc.orig).splitlines()
            raise SightingLoadError(
                "duplicate sighting (object_ref, seen_at, camera_id, checkpoint_id): "
                + " ".join(d for d in detail if "Key" in d or "duplicate" in d)
            ) from exc
        stats.timings_s[name] = time.perf_counter() - t0
        if analyze:
            conn.execute(text(f"ANALYZE {name}"))
    if analyze:
        conn.execute(text("ANALYZE sighting_counts"))  # or the planner scans it whole
    return stats


def _new_partition(conn: Connection, name: str, day: np.datetime64,
                   part: SightingBatch) -> None:  # fmt: skip
    lo, hi = day_bounds(day)
    # the index builds of a busy day sort in memory instead of spilling to disk
    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    conn.execute(text(f"CREATE TABLE {name} (LIKE sightings INCLUDING DEFAULTS "
                      "INCLUDING CONSTRAINTS)"))  # fmt: skip
    # lets ATTACH skip its scan for rows of other days
    bounds = f"('{lo.isoformat()}') TO ('{hi.isoformat()}')"  # ours, not user text (DDL)
    conn.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK (seen_at >= "
                      f"'{lo.isoformat()}' AND seen_at < '{hi.isoformat()}')"))  # fmt: skip
    copy_batch(conn, name, part, freeze=True)
    # rows of this day that arrived before the partition existed (the default partition)
    conn.execute(text("CREATE TEMP TABLE sightings_moved ON COMMIT DROP AS WITH m AS (DELETE "
                      "FROM sightings_default WHERE seen_at >= :lo AND seen_at < :hi RETURNING *) "
                      "SELECT * FROM m"), {"lo": lo, "hi": hi})  # fmt: skip
    conn.execute(text(f"INSERT INTO {name} SELECT * FROM sightings_moved"))
    # the day's counts afresh: the batch's counted in numpy and COPYed (a day has up to
    # 24 x devices rows: an upsert per row would cost more than the partition's index)
    conn.execute(text("DELETE FROM sighting_counts WHERE hour >= :lo AND hour < :hi"),
                 {"lo": lo, "hi": hi})  # fmt: skip
    _copy_counts(conn, part)
    _count(conn, "sightings_moved")
    conn.execute(text("DROP TABLE sightings_moved"))
    conn.execute(text(f"CREATE UNIQUE INDEX {name}_ors ON {name} {_UNIQUE}"))
    conn.execute(text(f"CREATE INDEX {name}_brin ON {name} USING brin (seen_at) "
                      "WITH (autosummarize = on)"))  # fmt: skip
    conn.execute(text(f"ALTER TABLE sightings ATTACH PARTITION {name} FOR VALUES FROM {bounds}"))
    conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))


def _append(conn: Connection, name: str, part: SightingBatch) -> None:
    stage = "sightings_stage"
    conn.execute(text(f"CREATE TEMP TABLE {stage} (LIKE sightings INCLUDING DEFAULTS) "
                      "ON COMMIT DROP"))  # fmt: skip
    copy_batch(conn, stage, part)
    conn.execute(text(f"INSERT INTO {name} SELECT * FROM {stage} ORDER BY seen_at"))
    _count(conn, stage)
    conn.execute(text(f"DROP TABLE {stage}"))
    # autosummarize queues this for autovacuum; do it now so time windows stay fast
    conn.execute(text(f"SELECT brin_summarize_new_values('{name}_brin')"))


def pgcopy_fixed(columns: list[tuple[NDArray[Any], str]]) -> bytes:
    """Rows of fixed-width columns in binary COPY row format (no header): each column is
    (values, big-endian numpy type such as ``">i4"``); negative ``>i4`` ids are NULL."""
    n = len(columns[0][0])
    widths = [np.dtype(t).itemsize for _, t in columns]
    null = [(v < 0) if t == ">i4" else np.zeros(n, bool) for v, t in columns]
    sizes = [4 + np.where(z, 0, w) for z, w in zip(null, widths, strict=True)]
    row_size = 2 + np.sum(sizes, axis=0)
    offs = np.zeros(n, np.int64)
    np.cumsum(row_size[:-1], out=offs[1:])
    buf = np.zeros(int(row_size.sum()), np.uint8)
    _put(buf, offs, np.full(n, len(columns), ">i2"))
    pos = offs + 2
    for (v, t), z, w, size in zip(columns, null, widths, sizes, strict=True):
        _put(buf, pos, np.where(z, -1, w).astype(">i4"))
        _put(buf, (pos + 4)[~z], v[~z].astype(t))
        pos = pos + size
    return buf.tobytes()


def _copy_counts(conn: Connection, part: SightingBatch) -> None:
    """COPY the batch's sightings per device and UTC hour into ``sighting_counts`` (the
    hours must hold no counts yet)."""
    hour = part.seen_at_us // 3_600_000_000  # < 2**20 until the year 2089
    dev = np.where(part.camera_id > 0, part.camera_id * 2, part.checkpoint_id * 2 + 1)
    uniq, n = np.unique((hour << 33) | dev, return_counts=True)  # one int64 key: fast sort
    h, d = uniq >> 33, uniq & ((1 << 33) - 1)
    cam = np.where(d % 2 == 0, d // 2, -1)
    chk = np.where(d % 2 == 1, d // 2, -1)
    cols = [((h * 3_600_000_000 - _PG_EPOCH_US), ">i8"), (cam, ">i4"), (chk, ">i4"),
            (n.astype(np.int64), ">i8")]
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(
        "COPY sighting_counts (hour, camera_id, checkpoint_id, n) FROM STDIN (FORMAT BINARY)"
    ) as cp:  # fmt: skip
        cp.write(_HEADER)
        for start in range(0, len(uniq), _CHUNK_ROWS):
            cp.write(pgcopy_fixed([(v[start:start + _CHUNK_ROWS], t) for v, t in cols]))
        cp.write(_TRAILER)


def _count(conn: Connection, table: str) -> None:
    conn.execute(text(
        "INSERT INTO sighting_counts AS sc (hour, camera_id, checkpoint_id, n) "
        "SELECT date_trunc('hour', seen_at, 'UTC'), camera_id, checkpoint_id, count(*) "
        f"FROM {table} GROUP BY 1, 2, 3 "
        "ON CONFLICT (hour, camera_id, checkpoint_id) DO UPDATE SET n = sc.n + excluded.n"
    ))  # fmt: skip


def stored_duplicates(conn: Connection, batch: SightingBatch, limit: int = 1000) -> list[int]:
    """Positions in ``batch`` of sightings already stored (same object, time and device)."""
    if not len(batch):
        return []
    rows = conn.execute(
        text("SELECT b.i - 1 FROM unnest(CAST(:o AS text[]), CAST(:t AS bigint[]), "
             "CAST(:c AS int[]), CAST(:k AS int[])) WITH ORDINALITY AS b(o, t, c, k, i) "
             "WHERE EXISTS (SELECT 1 FROM sightings s WHERE s.object_ref = b.o "
             "AND s.seen_at = to_timestamp(b.t / 1e6) "
             "AND s.camera_id IS NOT DISTINCT FROM nullif(b.c, 0) "
             "AND s.checkpoint_id IS NOT DISTINCT FROM nullif(b.k, 0)) ORDER BY 1 LIMIT :n"),
        {"o": [r.decode("utf-8") for r in batch.object_ref.tolist()],
         "t": batch.seen_at_us.tolist(), "c": batch.camera_id.tolist(),
         "k": batch.checkpoint_id.tolist(), "n": limit},
    ).scalars()  # fmt: skip
    return [int(r) for r in rows]


# -- devices --------------------------------------------------------------------------------
def device_index(conn: Connection) -> dict[str, tuple[str, int]]:
    """GB/T 28181 device id -> ("camera" | "checkpoint", store id) of every stored device."""
    out: dict[str, tuple[str, int]] = {}
    for kind, table in (("checkpoint", "checkpoints"), ("camera", "cameras")):
        for d, i in conn.execute(text(f"SELECT device_id, id FROM {table}")):  # noqa: S608
            out[str(d)] = (kind, int(i))
    return out


# -- queries --------------------------------------------------------------------------------
_SELECT = (
    "SELECT s.seen_at, s.object_ref, coalesce(c.device_id, k.device_id) AS device_id, "
    "CASE WHEN s.camera_id IS NULL THEN 'checkpoint' ELSE 'camera' END AS device_kind, "
    "coalesce(c.name, k.name) AS device_name, s.direction, s.lane, s.confidence, "
    "ST_X(coalesce(c.geom, k.geom)) AS lon, ST_Y(coalesce(c.geom, k.geom)) AS lat "
    "FROM sightings s LEFT JOIN cameras c ON c.id = s.camera_id "
    "LEFT JOIN checkpoints k ON k.id = s.checkpoint_id "
)


def _scoped(scope: Scope) -> str:
    return (f"((c.id IS NOT NULL AND {scope.devices('c', camera=True)}) "
            f"OR (k.id IS NOT NULL AND {scope.devices('k')}))")  # fmt: skip


def object_sightings(
    conn: Connection, scope: Scope, object_ref: str, start: dt.datetime, end: dt.datetime,
    *, limit: int = 1000, after: dt.datetime | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Sightings of ``object_ref`` in [start, end) by devices in ``scope``, oldest first.

    Paged: at most ``limit`` rows after time ``after`` (exclusive; the page's last time is
    the next ``after``); a page never splits the sightings of one instant, so it may be a
    few rows longer than ``limit``.
    """
    where = "s.object_ref = :o AND s.seen_at >= :t0 AND s.seen_at < :t1"
    params = {"o": object_ref, "t0": start, "t1": end, "n": limit, **scope.params()}
    if after is not None:
        where += " AND s.seen_at > :after"
        params["after"] = after
    sql = f"{_SELECT} WHERE {where} AND {_scoped(scope)} ORDER BY s.seen_at, 3 LIMIT :n"
    rows = [dict(r._mapping) for r in conn.execute(text(sql), params)]  # noqa: S608
    if len(rows) == limit:
        last = rows[-1]["seen_at"]
        same = [dict(r._mapping) for r in conn.execute(
            text(f"{_SELECT} WHERE s.object_ref = :o AND s.seen_at = :at AND {_scoped(scope)} "
                 "ORDER BY 3"), {"o": object_ref, "at": last, **scope.params()})]  # noqa: S608  # fmt: skip
        rows = [r for r in rows if r["seen_at"] != last] + same
    return rows


def device_counts(
    conn: Connection, scope: Scope, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """Sightings per device in [start, end) for devices in ``scope``, busiest first.

    Whole UTC hours are read from ``sighting_counts``; other windows count the rows (BRIN).
    """
    def whole_hour(t: dt.datetime) -> bool:
        return t.minute == 0 and t.second == 0 and t.microsecond == 0 and (
            t.utcoffset() or dt.timedelta()).total_seconds() % 3600 == 0  # fmt: skip

    if whole_hour(start) and whole_hour(end):
        inner = ("SELECT camera_id, checkpoint_id, sum(n)::bigint AS n FROM sighting_counts "
                 "WHERE hour >= :t0 AND hour < :t1 GROUP BY 1, 2")  # fmt: skip
    else:
        inner = ("SELECT camera_id, checkpoint_id, count(*) AS n FROM sightings "
                 "WHERE seen_at >= :t0 AND seen_at < :t1 GROUP BY 1, 2")  # fmt: skip
    sql = (f"SELECT coalesce(c.device_id, k.device_id) AS device_id, "
           "CASE WHEN s.camera_id IS NULL THEN 'checkpoint' ELSE 'camera' END AS device_kind, "
           f"s.n FROM ({inner}) s LEFT JOIN cameras c ON c.id = s.camera_id "
           f"LEFT JOIN checkpoints k ON k.id = s.checkpoint_id WHERE {_scoped(scope)} "
           "ORDER BY s.n DESC, 1")  # noqa: S608  # fmt: skip
    params = {"t0": start, "t1": end, **scope.params()}
    return [dict(r._mapping) for r in conn.execute(text(sql), params)]


# -- what reconstruction needs from the store -----------------------------------------------
@dataclass
class NetworkFrames:
    """Roads, devices, the cameras' detect-level visible areas and the watched roads.

    ``roads``: road_id, name, road_class, oneway, maxspeed_kmh, geometry; ``devices``:
    device_id, device_kind, name, geometry; ``visible``: device_id, geometry (detect level of
    ``run_id``); ``covered_road_ids``: roads the run sees (detect) over at least
    ``covered_pct`` of their length. All EPSG:4326. ``run_id`` None: no coverage run yet.
    """

    roads: Any
    devices: Any
    visible: Any
    covered_road_ids: set[int]
    run_id: int | None


def network_frames(conn: Connection, scope: Scope, *, covered_pct: float = 99.0) -> NetworkFrames:
    """The frames for routing sightings, devices limited to ``scope`` (roads are not secret:
    the whole city's roads route)."""
    import geopandas as gpd

    from store.coverage import latest_run

    roads = gpd.read_postgis(
        text("SELECT id AS road_id, name, road_class, oneway, maxspeed_kmh, geom AS geometry "
             "FROM roads ORDER BY id"), conn, geom_col="geometry", crs=4326)  # fmt: skip
    params = scope.params()
    devices = gpd.read_postgis(
        text("SELECT device_id, 'camera' AS device_kind, name, geom AS geometry FROM cameras c "
             f"WHERE {scope.devices('c', camera=True)} UNION ALL "
             "SELECT device_id, 'checkpoint', name, geom FROM checkpoints k "
             f"WHERE {scope.devices('k')} ORDER BY 1"),  # noqa: S608
        conn, geom_col="geometry", crs=4326, params=params)  # fmt: skip
    run_id = latest_run(conn)
    visible = gpd.read_postgis(
        text("SELECT camera_ref AS device_id, geom AS geometry FROM coverage_visible "
             "WHERE run_id = :r AND level = 'detect' AND NOT ST_IsEmpty(geom) ORDER BY id"),
        conn, geom_col="geometry", crs=4326, params={"r": run_id or -1})  # fmt: skip
    covered = {int(r) for r in conn.execute(
        text("SELECT road_id FROM road_coverage WHERE run_id = :r AND level = 'detect' "
             "AND covered_pct >= :p"), {"r": run_id or -1, "p": covered_pct},
    ).scalars()}  # fmt: skip
    return NetworkFrames(roads, devices, visible, covered, run_id)


def network_key(conn: Connection) -> tuple[Any, ...]:
    """What the routing network depends on: roads, devices, the latest run, the database."""
    return tuple(conn.execute(text(
        "SELECT (SELECT count(*) FROM roads), (SELECT max(id) FROM roads), "
        "(SELECT count(*) FROM cameras), (SELECT count(*) FROM checkpoints), "
        "(SELECT max(id) FROM coverage_runs WHERE status = 'done'), current_database()"
    )).one())  # fmt: skip


def road_geojson(conn: Connection, road_ids: list[int]) -> dict[int, Any]:
    """GeoJSON geometries (EPSG:4326) of roads by id."""
    import json

    rows = conn.execute(text("SELECT id, ST_AsGeoJSON(geom, 7) FROM roads WHERE id = ANY(:i)"),
                        {"i": road_ids}).all()  # fmt: skip
    return {int(i): json.loads(g) for i, g in rows}
