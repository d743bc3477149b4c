"""`sightline import osm`: any OSM extract into the store, in one transaction, ids kept stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from importers.osm import read_osm
from settings import Settings
from store.queries import row_counts
from tests.test_cli import run

MONACO = Settings().demo_osm_file

TINY = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="43.7300" lon="7.4200"/>
  <node id="2" lat="43.7300" lon="7.4210"/>
  <node id="3" lat="43.7310" lon="7.4210"/>
  <node id="4" lat="43.7310" lon="7.4200"/>
  <node id="5" lat="43.7290" lon="7.4190"/>
  <node id="6" lat="43.7320" lon="7.4230"/>
  <node id="7" lat="43.7295" lon="7.4205">
    <tag k="man_made" v="surveillance"/><tag k="surveillance:type" v="camera"/>
    <tag k="camera:type" v="fixed"/><tag k="camera:direction" v="E"/><tag k="height" v="6 m"/>
  </node>
  <node id="8" lat="43.7315" lon="7.4215">
    <tag k="man_made" v="surveillance"/><tag k="camera:type" v="dome"/>
  </node>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="building" v="yes"/><tag k="building:levels" v="4"/></way>
  <way id="11"><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="primary"/><tag k="name" v="Boulevard Test"/><tag k="maxspeed" v="50"/>
  </way>
</osm>
"""


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        return row_counts(engine)
    finally:
        engine.dispose()


def _devices(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT attributes->>'osm_id', device_id FROM cameras WHERE source='osm'")
            ).all()
        return dict(rows)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_import_monaco_then_reimport_keeps_device_ids(fresh_db: str) -> None:
    env = {"DATABASE_URL": fresh_db}
    out = run("import", "osm", str(MONACO), "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    extract = read_osm(MONACO)
    counts = _counts(fresh_db)
    assert counts["buildings"] == len(extract.buildings) == 1283
    assert counts["roads"] == len(extract.roads) == report["rows"]["roads"]
    assert counts["cameras"] == 14  # every mapped camera, also those just outside the city
    assert counts["jurisdictions"] == 7  # the city and its 6 districts
    first = _devices(fresh_db)
    assert len(set(first.values())) == 14

    again = run("import", "osm", str(MONACO), "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert _devices(fresh_db) == first
    assert _counts(fresh_db)["cameras"] == 14


def test_attributes_of_a_hand_made_extract(fresh_db: str, tmp_path: Path) -> None:
    path = tmp_path / "tiny.osm"
    path.write_text(TINY)
    out = run(
        "import", "osm", str(path), "--centre-code", "11010500", env={"DATABASE_URL": fresh_db}
    )
    assert out.returncode == 0, out.stderr
    engine = create_engine(fresh_db)
    try:
        with engine.connect() as conn:
            b = conn.execute(text("SELECT height_m, height_source FROM buildings")).one()
            assert (b.height_m, b.height_source) == (12.0, "levels")
            r = conn.execute(text("SELECT name, road_class, maxspeed_kmh FROM roads")).one()
            assert tuple(r) == ("Boulevard Test", "primary", 50.0)
            cams = conn.execute(
                text(
                    "SELECT device_id, azimuth_deg, mount_height_m, any_direction, camera_type, "
                    "ST_X(geom) AS x, ST_Y(geom) AS y FROM cameras ORDER BY device_id"
                )
            ).all()
    finally:
        engine.dispose()
    assert [c.device_id for c in cams] == ["11010500001320000001", "11010500001320000002"]
    fixed = next(c for c in cams if c.camera_type == "fixed")
    assert (fixed.azimuth_deg, fixed.mount_height_m, fixed.any_direction) == (90.0, 6.0, False)
    assert (fixed.x, fixed.y) == pytest.approx((7.4205, 43.7295))
    dome = next(c for c in cams if c.camera_type == "dome")
    assert dome.azimuth_deg is None and dome.any_direction is True


def test_broken_file_changes_nothing(demo_engine: Engine, tmp_path: Path) -> None:
    before = row_counts(demo_engine)
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 10)
    out = run(
        "import",
        "osm",
        str(bad),
        env={"DATABASE_URL": str(demo_engine.url.render_as_string(False))},
    )
    assert out.returncode == 1
    assert "broken.osm.pbf" in out.stderr
    assert row_counts(demo_engine) == before


def test_bad_centre_code_is_refused(fresh_db: str) -> None:
    out = run("import", "osm", str(MONACO), "--centre-code", "12AB", env={"DATABASE_URL": fresh_db})
    assert out.returncode == 1
    assert "centre" in out.stderr.lower()
