"""Issue 7: the yearly-assessment table (考核) beside the map in the REAL console, and its CSV
export — per jurisdiction of the viewer's scope, each download one audited ``export`` entry.

Monaco demo city in PostGIS with a coverage run, headless Chromium. Expected figures are
computed here: covered % of each jurisdiction = shapely, in UTM 32N, on the run's stored
coverage unions and the stored jurisdiction polygons; the exported rows are compared with the
stored table read in SQL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from analysis.coverage_run import run_coverage
from store import coverage
from tests import console_tools as ct
from tests.console_auth import User, district_codes, login_session, make_user

pytestmark = pytest.mark.browser


@dataclass
class Env:
    engine: Engine
    run_id: int
    admin: ct.Browser
    district: ct.Browser
    users: dict[str, User]
    district_code: str


@pytest.fixture(scope="module")
def env(city_url: str) -> Iterator[Env]:
    engine = create_engine(city_url)
    with engine.connect() as conn:
        run_id = coverage.latest_run(conn)
    if run_id is None:
        run_id = run_coverage(engine, workers=2).run_id
    assert run_id is not None
    code = district_codes(engine)[0]
    users = {"admin": make_user(engine, "admin", clearance=10),
             "district": make_user(engine, "planner", code),
             "viewer": make_user(engine, "viewer")}  # fmt: skip
    try:
        with ct.console(engine, [users["admin"], users["district"]]) as (a, d):
            yield Env(engine, run_id, a, d, users, code)
    finally:
        engine.dispose()


def _expected_pct(engine: Engine, run_id: int, codes: set[str] | None) -> dict[str, dict[str,
                                                                                      float]]:
    """Covered % per jurisdiction code and level: shapely in UTM 32N on the stored unions."""
    levels = gpd.read_postgis(text("SELECT level, geom FROM coverage_levels WHERE run_id = :r"),
                              engine, params={"r": run_id}, geom_col="geom").to_crs(
                                  ct.METRIC_CRS)  # fmt: skip
    jur = gpd.read_postgis(text("SELECT code, geom FROM jurisdictions"), engine,
                           geom_col="geom").to_crs(ct.METRIC_CRS)  # fmt: skip
    out: dict[str, dict[str, float]] = {}
    for j in jur.itertuples():
        if codes is not None and j.code not in codes:
            continue
        out[j.code] = {lv.level: 100.0 * shapely.intersection(lv.geom, j.geom).area / j.geom.area
                       for lv in levels.itertuples()}  # fmt: skip
    return out


def _subtree_codes(engine: Engine, code: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "WITH RECURSIVE t AS (SELECT id, code FROM jurisdictions WHERE code = :c UNION ALL "
            "SELECT j.id, j.code FROM jurisdictions j JOIN t ON j.parent_id = t.id) "
            "SELECT code FROM t"), {"c": code}).scalars())  # fmt: skip


def _table(page: ct.Page) -> dict[str, dict[str, float]]:
    ct.open_tool(page, "assessment")
    page.wait_for_selector("#assessment-table tr[data-code]", timeout=15_000)
    out: dict[str, dict[str, float]] = {}
    for tr in page.query_selector_all("#assessment-table tr[data-code]"):
        out[tr.get_attribute("data-code") or ""] = {
            td.get_attribute("data-level") or "": float(td.get_attribute("data-pct") or "nan")
            for td in tr.query_selector_all("td[data-level]")}  # fmt: skip
    return out


def _head(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_log")).scalar_one())


def _exports(engine: Engine, after: int) -> list[tuple[str, str, dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, target, details FROM audit_log WHERE seq > :s "
                                 "AND action = 'export' ORDER BY seq"), {"s": after}).all()
    return [(r.actor, r.target, json.loads(r.details)) for r in rows]


def _download(page: ct.Page, path: Path) -> list[dict[str, str]]:
    with page.expect_download(timeout=15_000) as dl:
        page.click("#assessment-export")
    dl.value.save_as(path)
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def _stored(engine: Engine, run_id: int, codes: set[str] | None) -> list[tuple[str, str, float]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT area_key, level, covered_pct FROM coverage_stats WHERE "
                                 "run_id = :r AND scope = 'jurisdiction'"), {"r": run_id}).all()
    return sorted((r.area_key, r.level, float(r.covered_pct)) for r in rows
                  if codes is None or r.area_key in codes)  # fmt: skip


def test_city_table_matches_an_independent_computation_and_exports(
    env: Env, artefacts_dir: Path
) -> None:
    page = env.admin.page
    shown = _table(page)
    expected = _expected_pct(env.engine, env.run_id, None)
    assert set(shown) == set(expected)
    for code, levels in expected.items():
        for level, pct in levels.items():
            assert shown[code][level] == pytest.approx(pct, abs=0.05), (code, level)
    page.screenshot(path=str(artefacts_dir / "console-assessment-city.png"))

    head = _head(env.engine)
    rows = _download(page, artefacts_dir / "console-assessment-city.csv")
    got = sorted((r["area_key"], r["level"], float(r["covered_pct"])) for r in rows)
    stored = _stored(env.engine, env.run_id, None)
    assert [g[:2] for g in got] == [s[:2] for s in stored]
    assert [g[2] for g in got] == pytest.approx([s[2] for s in stored], abs=1e-9)
    assert {r["run_id"] for r in rows} == {str(env.run_id)}
    (entry,) = _exports(env.engine, head)
    assert entry[0] == f"user:{env.users['admin'].name}"
    assert entry[1] == f"assessment:run:{env.run_id}" and entry[2]["rows"] == len(rows)


def test_a_district_sees_and_exports_only_its_jurisdictions(
    env: Env, artefacts_dir: Path
) -> None:
    page = env.district.page
    mine = _subtree_codes(env.engine, env.district_code)
    shown = _table(page)
    assert set(shown) == mine
    expected = _expected_pct(env.engine, env.run_id, mine)
    for code, levels in expected.items():
        for level, pct in levels.items():
            assert shown[code][level] == pytest.approx(pct, abs=0.05), (code, level)
    page.screenshot(path=str(artefacts_dir / "console-assessment-district.png"))
    head = _head(env.engine)
    rows = _download(page, artefacts_dir / "console-assessment-district.csv")
    assert {r["area_key"] for r in rows} == mine
    stored = _stored(env.engine, env.run_id, mine)
    got = sorted((r["area_key"], r["level"], float(r["covered_pct"])) for r in rows)
    assert [g[:2] for g in got] == [s[:2] for s in stored]
    assert [g[2] for g in got] == pytest.approx([s[2] for s in stored], abs=1e-9)
    (entry,) = _exports(env.engine, head)
    assert entry[0] == f"user:{env.users['district'].name}"


def test_a_viewer_has_no_table_and_may_not_export(env: Env) -> None:
    with login_session(env.admin.base, env.users["viewer"]) as s:
        head = _head(env.engine)
        assert '"assessment-section"' not in s.get(f"{env.admin.base}/_dash-layout",
                                                   timeout=30).text  # fmt: skip
        r = s.get(f"{env.admin.base}/export/assessment.csv", timeout=30)
        assert r.status_code == 403
        assert _exports(env.engine, head) == []
