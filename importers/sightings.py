"""Sighting files (CSV or Parquet): read, validate every row, store in one transaction.

Columns: ``device_id`` (GB/T 28181 id of a stored camera or checkpoint), ``seen_at`` (ISO 8601
with its zone: ``2026-11-25T08:15:00+08:00`` or ``...Z``; Parquet: a zone-aware timestamp),
``object_ref`` (an opaque id from the source system: a plate string, a case's object tag),
optional ``direction`` (``in``/``out``, a compass point or degrees from true north), ``lane``
(1-32) and ``confidence`` (0-1). Rows are numbered as a spreadsheet shows them (the header is
row 1; Parquet: the first row is row 2 too). Any invalid row (unknown device, a time without
zone or out of range, a duplicate in the file or of a stored sighting, ...) refuses the whole
file with row errors (:class:`importers.survey.validate.ImportRowError`); nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from importers.survey.validate import ImportRowError, RowError
from store import audit
from store import sightings as store_sightings
from store.scope import Principal

REQUIRED = ("device_id", "seen_at", "object_ref")
OPTIONAL = ("direction", "lane", "confidence")
ALIASES = {"设备编号": "device_id", "设备id": "device_id", "时间": "seen_at",
           "过车时间": "seen_at", "目标": "object_ref", "号牌": "object_ref",
           "方向": "direction", "车道": "lane", "置信度": "confidence"}  # fmt: skip
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(minutes=10)
_ZONE = re.compile(r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
MAX_REF = 128


class SightingFileError(ValueError):
    """The file cannot be read as sightings at all (format, missing columns)."""


@dataclass
class SightingImport:
    """What an import did: rows stored, per partition how, and timings."""

    file: str
    rows: int
    partitions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "partitions": self.partitions,
                "seconds": round(self.seconds, 3)}  # fmt: skip


def read_frame(path: Path) -> pd.DataFrame:
    """The file as a frame of the known columns (CSV cells as text)."""
    ext = path.suffix.lower()
    if ext == ".parquet":
        df = pd.read_parquet(path)
    elif ext in (".csv", ".txt", ".tsv"):
        sep = "\t" if ext == ".tsv" else ","
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    else:
        raise SightingFileError(f"{path.name}: sightings are read from .csv, .tsv or .parquet")
    df = df.rename(columns={c: ALIASES.get(str(c).strip().lower(), str(c).strip().lower())
                            for c in df.columns})  # fmt: skip
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise SightingFileError(f"{path.name}: missing column(s) {', '.join(missing)}; a "
                                f"sighting file has {', '.join(REQUIRED + OPTIONAL)}")  # fmt: skip
    return df[[c for c in REQUIRED + OPTIONAL if c in df.columns]]


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("").str.strip()


def validate(
    df: pd.DataFrame, file: str, devices: dict[str, tuple[str, int]], *,
    now: dt.datetime | None = None, first_row: int = 2,
) -> tuple[store_sightings.SightingBatch, list[RowError]]:  # fmt: skip
    """Typed columns and the row errors of ``df`` (``devices``: device id -> (kind, id))."""
    now = now or dt.datetime.now(dt.UTC)
    n = len(df)
    rows = np.arange(n) + first_row
    errors: list[RowError] = []

    def bad(mask: Any, fld: str, values: pd.Series, reason: str) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool))[:1000].tolist():
            v = values.iloc[i]
            errors.append(RowError(file, int(rows[i]), fld, None if pd.isna(v) else str(v),
                                   reason))  # fmt: skip

    dev = _text(df["device_id"])
    bad(dev == "", "device_id", dev, "required")
    kind_id = [devices.get(d) for d in dev.tolist()]
    known = np.array([k is not None for k in kind_id])
    bad((dev != "") & ~known, "device_id", dev, "unknown device: not a stored camera or "
        "checkpoint (import the devices first)")  # fmt: skip
    cam = np.array([k[1] if k and k[0] == "camera" else 0 for k in kind_id], dtype=np.int64)
    chk = np.array([k[1] if k and k[0] == "checkpoint" else 0 for k in kind_id], dtype=np.int64)

    raw_t = df["seen_at"]
    if isinstance(raw_t.dtype, pd.DatetimeTZDtype):
        t = raw_t.dt.tz_convert("UTC")
        bad(t.isna(), "seen_at", raw_t, "required")
    else:
        ts = _text(raw_t)
        bad(ts == "", "seen_at", ts, "required")
        zoned = ts.str.contains(_ZONE)
        bad((ts != "") & ~zoned, "seen_at", ts, "time without zone: write it with its offset, "
            "e.g. 2026-11-25T08:15:00+08:00 or ...Z")  # fmt: skip
        t = pd.to_datetime(ts.where(zoned), utc=True, errors="coerce", format="ISO8601")
        bad(zoned & t.isna(), "seen_at", ts, "not an ISO 8601 time")
    late = now + FUTURE_SLACK
    bad(t.notna() & ((t < EARLIEST) | (t > late)), "seen_at", raw_t.astype("string"),
        f"time out of range: before {EARLIEST:%Y-%m-%d} or in the future (after "
        f"{late:%Y-%m-%dT%H:%MZ})")  # fmt: skip
    us = t.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")).astype(np.int64)

    ref = _text(df["object_ref"])
    bad(ref == "", "object_ref", ref, "required")
    bad(ref.str.len() > MAX_REF, "object_ref", ref, f"longer than {MAX_REF} characters")

    direction = _text(df["direction"]) if "direction" in df else pd.Series([""] * n)
    bad(direction.str.len() > 16, "direction", direction, "longer than 16 characters")
    lane = np.full(n, -1, np.int64)
    if "lane" in df:
        lt = _text(df["lane"])
        ln = pd.to_numeric(lt, errors="coerce")
        ok = ln.notna() & (ln == ln.round()) & (ln >= 1) & (ln <= 32)
        bad((lt != "") & ~ok, "lane", lt, "a lane is a whole number from 1 to 32")
        lane = np.where(ok, ln.fillna(-1), -1).astype(np.int64)
    conf = np.full(n, np.nan)
    if "confidence" in df:
        ct = _text(df["confidence"])
        cn = pd.to_numeric(ct, errors="coerce")
        ok = cn.notna() & (cn >= 0) & (cn <= 1)
        bad((ct != "") & ~ok, "confidence", ct, "a confidence is a number from 0 to 1")
        conf = np.where(ok, cn, np.nan).astype(np.float64)

    key = pd.DataFrame({"d": dev, "t": us, "o": ref})
    dup = key.duplicated(keep="first").to_numpy()
    if dup.any():
        firsts = key.reset_index().groupby(["d", "t", "o"])["index"].transform("min").to_numpy()
        for i in np.flatnonzero(dup)[:1000].tolist():
            errors.append(RowError(file, int(rows[i]), "object_ref", str(ref.iloc[i]),
                                   f"duplicate of row {int(rows[firsts[i]])} (same device, "
                                   "time and object)"))  # fmt: skip
    batch = store_sightings.SightingBatch(
        np.char.encode(ref.to_numpy(dtype=str), "utf-8"), us, cam, chk,
        np.char.encode(direction.to_numpy(dtype=str), "utf-8"), lane, conf)  # fmt: skip
    return batch, errors


def import_sightings(engine: Engine, path: Path, principal: Principal, *,
                     now: dt.datetime | None = None) -> SightingImport:  # fmt: skip
    """Validate and store a sighting file in one transaction; one ``sightings.import`` entry.

    Raises
    ------
    SightingFileError
        The file cannot be read as sightings.
    ImportRowError
        Rows are invalid (all of them listed, up to 1,000 per rule); nothing was written.
    """
    import time

    t0 = time.perf_counter()
    df = read_frame(path)
    with engine.begin() as conn:
        batch, errors = validate(df, path.name, store_sightings.device_index(conn), now=now)
        if not errors:
            for i in store_sightings.stored_duplicates(conn, batch):
                ref = batch.object_ref[i].decode("utf-8")
                errors.append(RowError(path.name, i + 2, "object_ref", ref,
                                       "already stored (same device, time and object)"))
        if errors:
            errors.sort(key=lambda e: (e.row, e.field))
            raise ImportRowError(errors)
        stats = store_sightings.load(conn, batch)
        done = SightingImport(path.name, stats.rows, stats.partitions)
        audit.record(conn, principal, "sightings.import", path.name,
                     details={"rows": stats.rows, "partitions": stats.partitions})  # fmt: skip
    done.seconds = time.perf_counter() - t0
    return done
