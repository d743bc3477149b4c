"""Sighting files: valid files land in day partitions (new ones attached with their indexes,
late rows of stored days appended), hourly device counts follow, one audit entry per import;
bad files are refused with row errors naming file, row, field and reason, nothing written."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, text

from importers.sightings import SightingFileError, import_sightings
from importers.survey.validate import ImportRowError
from settings import Settings
from store import migrate
from store import sightings as ss
from store.cluster import LocalCluster
from store.scope import EVERYTHING, cli_principal

HEADER = "device_id,seen_at,object_ref,direction,lane,confidence\n"


def own_city(pg_cluster: LocalCluster, prefix: str, coverage: bool = False) -> Iterator[Engine]:
    """A demo city in a database of its own (these tests write sightings; the shared demo
    city's devices must stay deletable for other tests)."""
    from importers.city import load_demo

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(pg_cluster.url(name))
    migrate.upgrade(engine)
    s = Settings()
    load_demo(engine, s.demo_osm_file, s.demo_seed)
    if coverage:
        from analysis.coverage_run import run_coverage

        run_coverage(engine, workers=2)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def town(pg_cluster: LocalCluster) -> Iterator[Engine]:
    yield from own_city(pg_cluster, "sightings_import")


@pytest.fixture(scope="module")
def devices(town: Engine) -> dict[str, list[str]]:
    with town.connect() as conn:
        return {
            "checkpoint": list(conn.execute(text(
                "SELECT device_id FROM checkpoints ORDER BY id LIMIT 5")).scalars()),
            "camera": list(conn.execute(text(
                "SELECT device_id FROM cameras ORDER BY id LIMIT 5")).scalars()),
        }  # fmt: skip


def _state(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM sightings")).scalar_one(),
            conn.execute(text("SELECT coalesce(sum(n), 0) FROM sighting_counts")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE "
                              "'sightings_d%' AND relkind = 'r'")).scalar_one(),
        )  # fmt: skip


def _audits(engine: Engine, action: str) -> list[tuple[str, str, dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT target, outcome, details FROM audit_log WHERE action = :a ORDER BY seq"),
            {"a": action}).all()  # fmt: skip
    return [(r.target, r.outcome, json.loads(r.details)) for r in rows]


def test_a_valid_file_lands_in_new_day_partitions_with_their_indexes(
    town: Engine, devices: dict[str, list[str]], tmp_path: Path
) -> None:
    k, c = devices["checkpoint"], devices["camera"]
    f = tmp_path / "ok.csv"
    f.write_text(HEADER
                 + f"{k[0]},2025-03-01T07:59:30+08:00,粤B12345,N,1,0.9\n"  # = Feb 28 23:59:30Z
                 + f"{k[1]},2025-03-01T08:05:00+08:00,粤B12345,,,\n"
                 + f"{c[0]},2025-03-10T10:00:00Z,TAG-7,90,2,1\n", encoding="utf-8")  # fmt: skip
    before = _state(town)
    done = import_sightings(town, f, cli_principal())
    assert done.rows == 3
    assert done.partitions == {"sightings_d20250228": "new", "sightings_d20250301": "new",
                               "sightings_d20250310": "new"}
    with town.connect() as conn:
        rows = conn.execute(text(
            "SELECT tableoid::regclass::text, object_ref, seen_at, direction, lane, confidence "
            "FROM sightings WHERE seen_at < '2025-04-01' ORDER BY seen_at")).all()  # fmt: skip
        idx = conn.execute(text(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'sightings_d20250301'::regclass"
        )).scalar_one()  # fmt: skip
        parent_idx = conn.execute(text(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE c.relname LIKE 'sightings_d20250301%' AND c.relkind = 'i'"),
        ).scalar_one()  # fmt: skip
    t_first = dt.datetime(2025, 2, 28, 23, 59, 30, tzinfo=dt.UTC)
    assert rows[0] == ("sightings_d20250228", "粤B12345", t_first, "N", 1, 0.9)
    assert rows[1][0] == "sightings_d20250301" and rows[1][3:] == (None, None, None)
    assert rows[2][1:] == ("TAG-7", dt.datetime(2025, 3, 10, 10, tzinfo=dt.UTC), "90", 2, 1.0)
    assert idx == 2 and parent_idx == 2  # built once, then adopted by ATTACH (not rebuilt)
    after = _state(town)
    assert after[0] - before[0] == 3 and after[1] - before[1] == 3
    assert after[2] - before[2] == 3
    entry = _audits(town, "sightings.import")[-1]
    assert entry[0] == "ok.csv" and entry[1] == "ok" and entry[2]["rows"] == 3


def test_a_stored_day_is_appended_and_counted_per_hour(
    town: Engine, devices: dict[str, list[str]], tmp_path: Path
) -> None:
    k = devices["checkpoint"]
    f = tmp_path / "day.csv"
    lines = [f"{k[2]},2025-03-10T09:{m:02d}:00Z,OBJ-{m % 3},,," for m in range(0, 60, 5)]
    f.write_text(HEADER + "\n".join(lines) + "\n")
    done = import_sightings(town, f, cli_principal())
    assert done.partitions == {"sightings_d20250310": "append"}  # late rows of a stored day
    start = dt.datetime(2025, 3, 10, 9, tzinfo=dt.UTC)
    with town.connect() as conn:
        hourly = ss.device_counts(conn, EVERYTHING, start, start + dt.timedelta(hours=1))
        raw = ss.device_counts(conn, EVERYTHING, start + dt.timedelta(seconds=1),
                               start + dt.timedelta(minutes=59, seconds=59))  # fmt: skip
    assert hourly == [{"device_id": k[2], "device_kind": "checkpoint", "n": 12}]
    assert raw == [{"device_id": k[2], "device_kind": "checkpoint", "n": 11}]  # not 09:00


def test_bad_rows_are_reported_by_row_and_nothing_is_written(
    town: Engine, devices: dict[str, list[str]], tmp_path: Path
) -> None:
    k, c = devices["checkpoint"], devices["camera"]
    f = tmp_path / "bad.csv"
    f.write_text(HEADER
                 + f"{k[0]},2025-05-01T08:00:00+08:00,FINE,N,1,0.9\n"       # row 2 fine
                 + "99999999999999999999,2025-05-01T08:05:00Z,X,,,\n"       # 3 unknown device
                 + f"{c[0]},2025-05-01 23:59:00,X,,,\n"                     # 4 no zone
                 + f"{c[0]},2036-10-31T23:59:00Z,X,,0,1.5\n"                # 5 future, lane, conf
                 + f"{c[1]},2025-05-02T00:00:00Z,,,,\n"                     # 6 no object
                 + f"{c[1]},1999-12-31T23:59:00Z,Y,,,\n"                    # 7 too early
                 + f"{c[2]},2025-05-02T00:00:00Z,Z,,,\n"                    # 8 fine
                 + f"{c[2]},2025-05-02T08:00:00+08:00,Z,,,\n"               # 9 duplicate of 8
                 + f"{c[2]},yesterday+08:00,Z,,,\n",                       # 10 not a time
                 encoding="utf-8")  # fmt: skip
    before = _state(town)
    with pytest.raises(ImportRowError) as exc:
        import_sightings(town, f, cli_principal())
    got = {(e.row, e.field) for e in exc.value.errors}
    assert got == {(3, "device_id"), (4, "seen_at"), (5, "seen_at"), (5, "lane"),
                   (5, "confidence"), (6, "object_ref"), (7, "seen_at"), (9, "object_ref"),
                   (10, "seen_at")}  # fmt: skip
    text_ = str(exc.value)
    assert "nothing was written" in text_
    assert "bad.csv: row 3, field device_id = '99999999999999999999': unknown device" in text_
    assert "row 4, field seen_at = '2025-05-01 23:59:00': time without zone" in text_
    assert "row 9, field object_ref = 'Z': duplicate of row 8" in text_
    assert "time out of range" in text_ and "not an ISO 8601 time" in text_
    assert _state(town) == before  # no rows, no counts, no partition


def test_a_sighting_already_stored_is_a_row_error(
    town: Engine, devices: dict[str, list[str]], tmp_path: Path
) -> None:
    k = devices["checkpoint"]
    f = tmp_path / "again.csv"
    f.write_text(HEADER + f"{k[3]},2025-06-01T00:00:00Z,AGAIN,,,\n"
                 + f"{k[3]},2025-06-01T00:01:00Z,AGAIN,,,\n")  # fmt: skip
    import_sightings(town, f, cli_principal())
    g = tmp_path / "again2.csv"
    g.write_text(HEADER + f"{k[3]},2025-06-01T00:02:00Z,AGAIN,,,\n"
                 + f"{k[3]},2025-06-01T08:01:00+08:00,AGAIN,,,\n")  # fmt: skip
    before = _state(town)
    with pytest.raises(ImportRowError, match=r"row 3, field object_ref = 'AGAIN': already stored"):
        import_sightings(town, g, cli_principal())
    assert _state(town) == before


def test_parquet_needs_zone_aware_times(
    town: Engine, devices: dict[str, list[str]], tmp_path: Path
) -> None:
    k = devices["checkpoint"]
    times = pd.to_datetime(["2025-07-01T08:00:00+08:00", "2025-07-01T08:10:00+08:00"])
    df = pd.DataFrame({"device_id": [k[0], k[1]], "seen_at": times, "object_ref": ["P1", "P1"],
                       "confidence": [0.5, np.nan]})  # fmt: skip
    f = tmp_path / "s.parquet"
    df.to_parquet(f)
    assert import_sightings(town, f, cli_principal()).rows == 2
    with town.connect() as conn:
        got = conn.execute(text("SELECT seen_at, confidence FROM sightings "
                                "WHERE object_ref = 'P1' ORDER BY 1")).all()  # fmt: skip
    assert got == [(dt.datetime(2025, 7, 1, 0, 0, tzinfo=dt.UTC), 0.5),
                   (dt.datetime(2025, 7, 1, 0, 10, tzinfo=dt.UTC), None)]  # fmt: skip
    naive = df.assign(seen_at=times.tz_localize(None), object_ref=["P2", "P2"])
    g = tmp_path / "naive.parquet"
    naive.to_parquet(g)
    with pytest.raises(ImportRowError, match="row 2, field seen_at.*time without zone"):
        import_sightings(town, g, cli_principal())


def test_a_file_without_the_columns_is_refused(tmp_path: Path, town: Engine) -> None:
    f = tmp_path / "x.csv"
    f.write_text("device,time\n1,2\n")
    with pytest.raises(SightingFileError, match="missing column.*device_id, seen_at, object_ref"):
        import_sightings(town, f, cli_principal())
    with pytest.raises(SightingFileError, match=r"\.csv, \.tsv or \.parquet"):
        import_sightings(town, tmp_path / "x.xlsx", cli_principal())


def test_binary_copy_round_trips_every_column(town: Engine) -> None:
    """The numpy-built binary COPY against values read back (NULLs, UTF-8, microseconds)."""
    with town.connect() as conn:
        cam, chk = (conn.execute(text(f"SELECT min(id) FROM {t}")).scalar_one()
                    for t in ("cameras", "checkpoints"))  # fmt: skip
        conn.execute(text("CREATE TEMP TABLE rt (LIKE sightings)"))
        us = np.array([1_700_000_000_123_456, 946_684_800_000_000, 0], dtype=np.int64)
        batch = ss.SightingBatch(
            np.array(["京A·12345".encode(), b"", b"x" * 40]),  # an empty ref is stored as ''
            us, np.array([cam, 0, cam]), np.array([0, chk, 0]),
            np.array([b"NE", b"", "东北".encode()]), np.array([3, -1, 32]),
            np.array([0.25, np.nan, 1.0]))  # fmt: skip
        ss.copy_batch(conn, "rt", batch)
        rows = conn.execute(text("SELECT object_ref, (extract(epoch FROM seen_at) * 1e6)::bigint,"
                                 " camera_id, checkpoint_id, direction, lane, confidence "
                                 "FROM rt")).all()  # fmt: skip
        conn.rollback()
    # rows come out grouped by layout (which columns are NULL, text lengths): compare as sets
    assert sorted(rows) == [("", 946_684_800_000_000, None, chk, None, None, None),
                            ("x" * 40, 0, cam, None, "东北", 32, 1.0),
                            ("京A·12345", 1_700_000_000_123_456, cam, None, "NE", 3, 0.25)]
    assert len(rows) == 3



def test_a_month_of_day_partitions_is_compacted_into_one(
    town: Engine, devices: dict[str, list[str]], tmp_path: Path
) -> None:
    k = devices["checkpoint"]
    f = tmp_path / "aug.csv"
    f.write_text(HEADER + "".join(f"{k[d % 3]},2025-08-{d:02d}T12:00:00Z,AUG-{d % 4},,,\n"
                                  for d in range(1, 31)))  # fmt: skip
    assert len(import_sightings(town, f, cli_principal()).partitions) == 30
    t0, t1 = dt.datetime(2025, 8, 1, tzinfo=dt.UTC), dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    with town.connect() as conn:
        before = ss.object_sightings(conn, EVERYTHING, "AUG-1", t0, t1)
    with town.begin() as conn:
        done = ss.compact_month(conn, 2025, 8)
    assert done["partition"] == "sightings_m202508" and len(done["days"]) == 30
    assert done["rows"] == 30
    with town.connect() as conn:
        parts = conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'sightings'::regclass AND c.relname LIKE '%2025_8%' "
            "OR c.relname LIKE 'sightings_d202508%'")).scalars().all()  # fmt: skip
        idx = conn.execute(text("SELECT count(*) FROM pg_index "
                                "WHERE indrelid = 'sightings_m202508'::regclass")).scalar_one()
        after = ss.object_sightings(conn, EVERYTHING, "AUG-1", t0, t1)
    assert parts == ["sightings_m202508"] and idx == 2
    assert after == before and len(after) == 8
    late = tmp_path / "late.csv"
    late.write_text(HEADER + f"{k[4]},2025-08-15T13:00:00Z,AUG-1,,,\n")
    assert import_sightings(town, late, cli_principal()).partitions == {
        "sightings_m202508": "append"}  # fmt: skip
    with pytest.raises(ss.SightingLoadError, match="compacted already"), town.begin() as conn:
        ss.compact_month(conn, 2025, 8)


def test_binary_copy_of_many_layouts_matches_the_values(town: Engine) -> None:
    """2,000 random rows: text lengths, UTF-8, NULLs in every nullable column, both device
    kinds; what PostgreSQL reads back equals the values sent (as a set: grouped by layout)."""
    rng = np.random.default_rng(5)
    n = 2000
    with town.connect() as conn:
        cam, chk = (conn.execute(text(f"SELECT min(id) FROM {t}")).scalar_one()
                    for t in ("cameras", "checkpoints"))  # fmt: skip
        alphabet = ["A", "7", "粤", "·", "x"]
        refs = ["".join(rng.choice(alphabet, rng.integers(1, 12))) for _ in range(n)]
        dirs = [rng.choice(["", "N", "NE", "in", "东北", "123"]) for _ in range(n)]
        is_cam = rng.random(n) < 0.5
        lane = np.where(rng.random(n) < 0.3, -1, rng.integers(1, 33, n))
        conf = np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 101, n) / 100)
        us = rng.integers(0, 2_000_000_000_000_000, n)
        batch = ss.SightingBatch(
            np.array([r.encode() for r in refs]), us, np.where(is_cam, cam, 0),
            np.where(is_cam, 0, chk), np.array([d.encode() for d in dirs]), lane, conf)  # fmt: skip
        conn.execute(text("CREATE TEMP TABLE rt2 (LIKE sightings)"))
        ss.copy_batch(conn, "rt2", batch)
        got = conn.execute(text(
            "SELECT object_ref, (extract(epoch FROM seen_at) * 1e6)::bigint, camera_id, "
            "checkpoint_id, direction, lane, confidence FROM rt2")).all()  # fmt: skip
        conn.rollback()
    want = [(r, int(t), cam if c else None, None if c else chk, d or None,
             None if ln < 0 else int(ln), None if np.isnan(f) else float(f))
            for r, t, c, d, ln, f in zip(refs, us, is_cam, dirs, lane, conf,
                                         strict=True)]  # fmt: skip
    assert sorted(map(tuple, got), key=repr) == sorted(want, key=repr)
