"""Survey imports by a principal limited to one jurisdiction: only its rows, one audit entry."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from importers.city import load_demo
from importers.survey.importer import ImportFailed, import_survey
from settings import Settings
from store import migrate
from store.scope import Principal, scope_of


def _district_points(conn: Connection) -> dict[str, tuple[str, float, float]]:
    """Two districts: code -> (code, lon, lat) of a point well inside each (from PostGIS)."""
    rows = conn.execute(text(
        "SELECT code, ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT code, "
        "ST_PointOnSurface(geom) AS p FROM jurisdictions WHERE level = 'district' "
        "ORDER BY code LIMIT 2) d")).all()  # fmt: skip
    return {k: (r.code, float(r.lon), float(r.lat)) for k, r in zip("ab", rows, strict=True)}


def _principal(conn: Connection, code: str, clearance: int = 0) -> Principal:
    jid = conn.execute(text("SELECT id FROM jurisdictions WHERE code = :c"), {"c": code}).scalar()
    return Principal("user:planner-a", "planner-a", "planner", scope_of(conn, jid, clearance))


def _csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _cam(device_id: str, lon: float, lat: float, **extra: object) -> dict[str, object]:
    return {"device_id": device_id, "name": f"cam {device_id[-3:]}", "lon": lon, "lat": lat,
            "azimuth_deg": 90, "mount_height_m": 5, "hfov_deg": 60, **extra}  # fmt: skip


def _audit_rows(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT actor, outcome, details FROM audit_log WHERE action = 'import' "
            "ORDER BY seq"))]  # fmt: skip


def test_rows_of_another_district_are_row_errors_and_nothing_is_written(
    city: Engine, tmp_path: Path
) -> None:
    with city.connect() as conn:
        pts = _district_points(conn)
        planner = _principal(conn, pts["a"][0])
        b_camera = conn.execute(text(
            "SELECT c.device_id FROM cameras c JOIN jurisdictions s ON s.id = c.jurisdiction_id "
            "JOIN jurisdictions d ON d.id = s.parent_id WHERE d.code = :b LIMIT 1"),
            {"b": pts["b"][0]}).scalar_one()  # fmt: skip
        count = conn.execute(text("SELECT count(*) FROM cameras")).scalar_one()
    before = len(_audit_rows(city))
    f = _csv(tmp_path / "mixed.csv", [
        _cam(pts["a"][0] + "00001320000901", pts["a"][1], pts["a"][2]),
        _cam(pts["b"][0] + "00001320000902", pts["b"][1], pts["b"][2]),  # district B: refused
        _cam(b_camera, pts["b"][1], pts["b"][2]),  # B's camera renamed by A: refused
    ])  # fmt: skip
    with pytest.raises(ImportFailed) as info:
        import_survey(city, f, "cameras", crs="wgs84", principal=planner)
    errors = [(e.row, e.field, e.reason) for e in info.value.report.errors]
    assert any(r == 3 and f == "jurisdiction" and "outside your jurisdiction" in why
               for r, f, why in errors)  # fmt: skip
    assert any(r == 4 and f == "device_id" and "not yours to change" in why
               for r, f, why in errors)  # fmt: skip
    assert [e for e in errors if e[0] == 2] == []
    with city.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cameras")).scalar_one() == count
    entries = _audit_rows(city)[before:]
    assert len(entries) == 1 and entries[0][0] == "user:planner-a"
    assert entries[0][1] == "refused" and '"status":"failed"' in entries[0][2]


@pytest.fixture
def own_city(fresh_db: str) -> Iterator[Engine]:
    """A demo city of this test's own: a replace deletes most of a district's cameras."""
    engine = create_engine(fresh_db)
    migrate.upgrade(engine)
    settings = Settings()
    load_demo(engine, settings.demo_osm_file, settings.demo_seed)
    yield engine
    engine.dispose()


def test_replace_by_a_district_deletes_only_inside_it(own_city: Engine, tmp_path: Path) -> None:
    city = own_city
    with city.connect() as conn:
        pts = _district_points(conn)
        planner = _principal(conn, pts["a"][0], clearance=1)
        outside = conn.execute(text(
            "SELECT count(*) FROM cameras WHERE jurisdiction_id IS NULL OR NOT "
            "(jurisdiction_id = ANY(:j))"), planner.scope.params() | {
                "j": sorted(planner.scope.jurisdiction_ids or ())}).scalar_one()  # fmt: skip
    f = _csv(tmp_path / "only_a.csv", [
        _cam(pts["a"][0] + "00001320000911", pts["a"][1], pts["a"][2], access_level=1),
    ])  # fmt: skip
    report = import_survey(city, f, "cameras", crs="wgs84", mode="replace", principal=planner)
    assert report.counts["inserted"] == 1 and report.counts["deleted"] > 0
    with city.connect() as conn:
        jids = sorted(planner.scope.jurisdiction_ids or ())
        inside = conn.execute(text("SELECT device_id FROM cameras WHERE jurisdiction_id = "
                                   "ANY(:j)"), {"j": jids}).scalars().all()  # fmt: skip
        still_outside = conn.execute(text(
            "SELECT count(*) FROM cameras WHERE jurisdiction_id IS NULL OR NOT "
            "(jurisdiction_id = ANY(:j))"), {"j": jids}).scalar_one()  # fmt: skip
    assert inside == [pts["a"][0] + "00001320000911"] and still_outside == outside
    # above the clearance: refused by row
    g = _csv(tmp_path / "secret.csv", [
        _cam(pts["a"][0] + "00001320000912", pts["a"][1], pts["a"][2], access_level=3),
    ])  # fmt: skip
    with pytest.raises(ImportFailed) as info:
        import_survey(city, g, "cameras", crs="wgs84", principal=planner)
    assert [e.field for e in info.value.report.errors] == ["access_level"]


def test_a_district_may_not_import_jurisdictions_and_that_is_audited(
    city: Engine, tmp_path: Path
) -> None:
    with city.connect() as conn:
        pts = _district_points(conn)
        planner = _principal(conn, pts["a"][0])
    before = len(_audit_rows(city))
    f = _csv(tmp_path / "units.csv", [{"code": "X1", "name": "x", "level": "district"}])
    with pytest.raises(ValueError, match="only a city-level user"):
        import_survey(city, f, "jurisdictions", crs="wgs84", principal=planner)
    entries = _audit_rows(city)[before:]
    assert len(entries) == 1 and entries[0][1] == "refused"

