"""Survey import end to end: real files of every format into a real PostGIS demo city."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from importers.survey.columns import MappingError, load_mapping_file
from importers.survey.importer import CrsRequiredError, ImportFailed, import_survey
from importers.survey.samples import INJECTION
from store.queries import row_counts
from tests.test_cli import run


def _messages(exc: ImportFailed) -> dict[int, str]:
    return {e.row: str(e) for e in exc.report.errors}


def test_a_csv_without_crs_is_refused_with_a_hint(city: Engine, samples: Path) -> None:
    before = row_counts(city)
    with pytest.raises(CrsRequiredError, match=r"cameras_gbk.csv does not say.*--crs"):
        import_survey(city, samples / "cameras_gbk.csv", "cameras")
    assert row_counts(city)["cameras"] == before["cameras"]


def test_every_bad_row_is_named_and_nothing_is_written(city: Engine, samples: Path) -> None:
    before = row_counts(city)
    with pytest.raises(ImportFailed, match=r"8 invalid value\(s\); nothing was written") as info:
        import_survey(city, samples / "cameras_gbk.csv", "cameras", crs="wgs84")
    msgs = _messages(info.value)
    assert sorted(msgs) == list(range(14, 22))
    assert "row 14, field device_id (设备编码)" in msgs[14] and "19 characters" in msgs[14]
    assert "field azimuth_deg (方位角(度)) = '400': must be in [0, 360]" in msgs[15]
    assert "tilt_deg" in msgs[16] and "'95'" in msgs[16]
    assert "outside the city extent" in msgs[17]
    assert "duplicate of row 5" in msgs[18]
    assert "type code 118 (NVR) is not a camera" in msgs[19]
    assert "field name (设备名称): required, but empty" in msgs[20]
    assert "resolution" in msgs[21] and "很清楚" in msgs[21]
    after = row_counts(city)
    assert after["cameras"] == before["cameras"]
    with city.connect() as conn:
        status = conn.execute(
            text("SELECT status, counts FROM survey_imports ORDER BY id DESC LIMIT 1")
        ).one()
    assert status.status == "failed" and status.counts["rejected"] == 8


def test_skip_invalid_writes_the_good_rows_and_reports_the_rest(
    city: Engine, samples: Path, tmp_path: Path
) -> None:
    before = row_counts(city)["cameras"]
    rep = tmp_path / "rejected.csv"
    out = run("import", "cameras", str(samples / "cameras_gbk.csv"), "--crs", "wgs84",
              "--skip-invalid", "--report", str(rep), "--json",
              env={"DATABASE_URL": city.url.render_as_string(False)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["counts"] == {"read": 20, "rejected": 8, "inserted": 12, "updated": 0,
                                 "unchanged": 0, "deleted": 0}  # fmt: skip
    assert row_counts(city)["cameras"] == before + 12
    with rep.open(encoding="utf-8-sig") as fh:
        rejected = list(csv.DictReader(fh))
    assert sorted(int(r["row"]) for r in rejected) == list(range(14, 22))
    with city.connect() as conn:
        rows = {
            r.name: r
            for r in conn.execute(
                text("SELECT name, azimuth_deg, hfov_deg, resolution_w_px, sensor_width_mm, "
                     "attributes, source, jurisdiction_id FROM cameras WHERE device_id IN "
                     "(SELECT device_id FROM cameras WHERE source = 'survey')")
            )
        }  # fmt: skip
    assert rows["测试点位01"].azimuth_deg == 90.0  # full-width digits
    assert rows["测试点位02"].azimuth_deg == 0.0  # 360 means north
    assert INJECTION in rows  # stored as data
    r = rows["测试点位04"]
    assert r.resolution_w_px == 1920 and r.sensor_width_mm == 5.6
    assert r.hfov_deg == pytest.approx(70.0, abs=0.05)  # 2·atan(5.6 / 8)
    assert r.attributes == {"备注": "2024年新建"}  # unknown column kept
    assert r.jurisdiction_id is not None

    again = import_survey(city, samples / "cameras_gbk.csv", "cameras", crs="wgs84",
                          skip_invalid=True)  # fmt: skip
    assert again.counts["unchanged"] == 12 and again.counts["inserted"] == 0


def test_dry_run_writes_nothing_but_the_record(city: Engine, samples: Path) -> None:
    before = row_counts(city)
    report = import_survey(city, samples / "cameras.xlsx", "cameras", crs="wgs84", dry_run=True)
    assert report.counts["inserted"] == 25
    after = row_counts(city)
    assert after["cameras"] == before["cameras"]
    assert after["survey_imports"] == before["survey_imports"] + 1


def test_xlsx_then_insert_mode_refuses_existing_ids(city: Engine, samples: Path) -> None:
    report = import_survey(city, samples / "cameras.xlsx", "cameras", crs="wgs84", mode="insert")
    assert report.counts["inserted"] == 25
    assert report.attributes_kept == ["contractor"]
    with pytest.raises(ImportFailed, match="already in the store") as info:
        import_survey(city, samples / "cameras.xlsx", "cameras", crs="wgs84", mode="insert")
    assert len(info.value.report.errors) == 25


def test_geojson_checkpoints_close_the_missing_entries(city: Engine, samples: Path) -> None:
    report = import_survey(city, samples / "checkpoints.geojson", "checkpoints")
    assert report.source_crs == "EPSG:4326"
    assert report.counts["inserted"] == 2
    with city.connect() as conn:
        rows = conn.execute(
            text("SELECT directions, lanes, is_entry FROM checkpoints WHERE source = 'survey'")
        ).all()
    assert all(r.directions == ["in", "out"] and r.lanes == 2 and r.is_entry for r in rows)


def test_shapefile_zip_needs_fix_geometry_for_its_bowtie(city: Engine, samples: Path) -> None:
    mapping = load_mapping_file(samples / "mapping.toml")
    zipped = samples / "key_areas_shp.zip"
    with pytest.raises(ImportFailed, match=r"row 5, field geometry.*Self-intersection"):
        import_survey(city, zipped, "key_areas", mapping=mapping)
    report = import_survey(city, zipped, "key_areas", mapping=mapping, fix_geometry=True)
    assert report.counts["inserted"] == 5
    assert len(report.repaired) == 1 and "row 5" in report.repaired[0]
    with city.connect() as conn:
        rows = conn.execute(
            text("SELECT name, required_dori, ST_IsValid(geom) AS ok FROM key_areas "
                 "WHERE source = 'survey' ORDER BY name")
        ).all()  # fmt: skip
    assert [r.name for r in rows] == [f"重点区域{i}" for i in range(1, 6)]  # GBK via .cpg
    assert rows[0].required_dori == "observe" and all(r.ok for r in rows)


def test_kml_alarm_points(city: Engine, samples: Path) -> None:
    report = import_survey(city, samples / "alarm_points.kml", "alarm_points")
    assert report.counts["inserted"] == 6
    with city.connect() as conn:
        codes = conn.execute(
            text("SELECT code FROM alarm_points WHERE source='survey' ORDER BY code")
        ).scalars().all()  # fmt: skip
    assert codes == [f"AP-S{i:03d}" for i in range(1, 7)]


def test_mapping_to_an_unknown_field_is_refused(city: Engine, samples: Path) -> None:
    with pytest.raises(MappingError, match="unknown field.*bogus"):
        import_survey(city, samples / "cameras.xlsx", "cameras", crs="wgs84",
                      mapping={"name": "bogus"})  # fmt: skip


def test_stream_credentials_and_hfov_clash_are_rejected(city: Engine, tmp_path: Path) -> None:
    with city.connect() as conn:
        code = conn.execute(text("SELECT code FROM jurisdictions WHERE level='station' "
                                 "ORDER BY code LIMIT 1")).scalar_one()  # fmt: skip
        x, y = conn.execute(
            text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c "
                 "FROM jurisdictions WHERE code=:c) s"),
            {"c": code},
        ).one()  # fmt: skip
    path = tmp_path / "creds.csv"
    path.write_text(
        "device_id,name,lon,lat,stream_url,focal_length_mm,sensor_width_mm,hfov_deg\n"
        f"{code}001320099001,a,{x},{y},rtsp://admin:secret@10.0.0.1/ch1,4,5.6,90\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed) as info:
        import_survey(city, path, "cameras", crs="wgs84")
    text_ = str(info.value)
    assert "stream_ref" in text_ and "credentials" in text_ and "admin:secret" not in text_
    assert "hfov_deg" in text_ and "70.0°" in text_


def test_replace_mode_deletes_what_the_file_does_not_list(city: Engine, tmp_path: Path) -> None:
    out = tmp_path / "ap.csv"
    assert run("export", "alarm-points", "-o", str(out),
               env={"DATABASE_URL": city.url.render_as_string(False)}).returncode == 0  # fmt: skip
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    out.write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")  # header + 10 rows
    total = row_counts(city)["alarm_points"]
    report = import_survey(city, out, "alarm_points", crs="wgs84", mode="replace")
    assert report.counts["unchanged"] == 10
    assert report.counts["deleted"] == total - 10
    assert row_counts(city)["alarm_points"] == 10


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson", "gpkg"])
def test_export_reimports_unchanged(city: Engine, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"cameras.{fmt}"
    res = run("export", "cameras", "-o", str(out), "--json",
              env={"DATABASE_URL": city.url.render_as_string(False)})  # fmt: skip
    assert res.returncode == 0, res.stderr
    n = json.loads(res.stdout)["rows"]
    assert n == row_counts(city)["cameras"]
    report = import_survey(city, out, "cameras", crs="wgs84" if fmt in ("csv", "xlsx") else None)
    assert report.counts == {"read": n, "rejected": 0, "inserted": 0, "updated": 0,
                             "unchanged": n, "deleted": 0}  # fmt: skip
