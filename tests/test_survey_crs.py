"""Coordinate systems through the whole import/export path, in a Chinese city (Beijing).

Reference values are published ones (the open-source coordtransform project's documentation),
not numbers from our own module: WGS-84 (116.404, 39.915) is GCJ-02 GCJ below, and GCJ-02
(116.404, 39.915) is BD-09 BD below.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyproj import Transformer
from sqlalchemy import Engine, create_engine, text

from gis.chinacrs import wgs84_to_gcj02
from importers.survey.importer import ImportFailed, import_survey
from store import migrate
from tests.test_cli import run

WGS = (116.404, 39.915)
GCJ = (116.41024449916938, 39.91640428150164)  # = wgs84 -> gcj02 of WGS
BD_OF = (116.404, 39.915)  # a GCJ-02 point ...
BD = (116.41036949371029, 39.92133699351021)  # ... and its BD-09
CM = 0.01  # metres


def _box(w: float, s: float, e: float, n: float) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


JURISDICTIONS = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "geometry": _box(116.30, 39.85, 116.50, 39.98),
         "properties": {"编码": "110100", "名称": "北京市(测试)", "级别": "市",
                        "行政区划代码": "110100"}},
        {"type": "Feature", "geometry": _box(116.39, 39.85, 116.50, 39.98),
         "properties": {"编码": "110101", "名称": "东城区", "级别": "区", "上级编码": "110100",
                        "行政区划代码": "110101"}},
        {"type": "Feature", "geometry": _box(116.30, 39.85, 116.39, 39.98),
         "properties": {"编码": "110102", "名称": "西城区", "级别": "区", "上级编码": "110100",
                        "行政区划代码": "110102"}},
    ],
}  # fmt: skip


@pytest.fixture
def beijing(fresh_db: str, tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(fresh_db)
    migrate.upgrade(engine)
    path = tmp_path / "jurisdictions.geojson"
    path.write_text(json.dumps(JURISDICTIONS, ensure_ascii=False), encoding="utf-8")
    report = import_survey(engine, path, "jurisdictions")
    assert report.counts["inserted"] == 3
    yield engine
    engine.dispose()


def _csv(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    lines = ["设备编码,设备名称,经度,纬度"]
    lines += [f"{d},cam {i},{x!r},{y!r}" for i, (d, x, y) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _offset_m(engine: Engine, device_id: str, lon: float, lat: float) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                text("SELECT ST_Distance(geom::geography, ST_MakePoint(:x, :y)::geography) "
                     "FROM cameras WHERE device_id = :d"),
                {"x": lon, "y": lat, "d": device_id},
            ).scalar_one()
        )  # fmt: skip


def test_jurisdictions_import_builds_the_hierarchy(beijing: Engine) -> None:
    with beijing.connect() as conn:
        rows = conn.execute(
            text("SELECT j.code, j.level, p.code AS parent FROM jurisdictions j "
                 "LEFT JOIN jurisdictions p ON p.id = j.parent_id ORDER BY j.code")
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("110100", "city", None), ("110101", "district", "110100"),
        ("110102", "district", "110100"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("crs", "xy"), [("gcj02", GCJ), ("wgs84", WGS), ("cgcs2000", WGS), ("EPSG:4490", WGS)]
)
def test_each_crs_lands_on_the_true_position(
    beijing: Engine, tmp_path: Path, crs: str, xy: tuple[float, float]
) -> None:
    device = "11010100001320000001"
    import_survey(beijing, _csv(tmp_path / "c.csv", [(device, *xy)]), "cameras", crs=crs)
    assert _offset_m(beijing, device, *WGS) < CM


def test_bd09_lands_where_its_gcj02_image_is_the_published_one(
    beijing: Engine, tmp_path: Path
) -> None:
    device = "11010100001320000007"
    import_survey(beijing, _csv(tmp_path / "bd.csv", [(device, *BD)]), "cameras", crs="bd09")
    with beijing.connect() as conn:
        x, y = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE device_id = :d"), {"d": device}
        ).one()
    # the forward WGS->GCJ formula is checked against its published pair in test_chinacrs
    assert wgs84_to_gcj02(x, y) == pytest.approx(BD_OF, abs=1e-7)


def test_gauss_kruger_projected_metres(beijing: Engine, tmp_path: Path) -> None:
    # EPSG:4546: CGCS2000 3-degree Gauss-Kruger CM 117E; pyproj gives the true easting/northing
    e, n = Transformer.from_crs(4326, 4546, always_xy=True).transform(*WGS)
    device = "11010100001320000002"
    path = tmp_path / "gk.csv"
    path.write_text(f"device_id,name,x,y\n{device},gk,{e!r},{n!r}\n", encoding="utf-8")
    import_survey(beijing, path, "cameras", crs="EPSG:4546")
    assert _offset_m(beijing, device, *WGS) < CM


def test_projected_numbers_without_crs_are_refused(beijing: Engine, tmp_path: Path) -> None:
    e, n = Transformer.from_crs(4326, 4546, always_xy=True).transform(*WGS)
    path = tmp_path / "gk.csv"
    path.write_text(f"device_id,name,x,y\n11010100001320000003,gk,{e!r},{n!r}\n")
    with pytest.raises(ValueError, match=r"does not say which coordinate system.*--crs"):
        import_survey(beijing, path, "cameras")


def test_swapped_lat_lon_is_named(beijing: Engine, tmp_path: Path) -> None:
    path = _csv(tmp_path / "swap.csv", [("11010100001320000004", WGS[1], WGS[0])])
    with pytest.raises(ImportFailed, match=r"row 2, field geometry.*outside the city extent"):
        import_survey(beijing, path, "cameras", crs="wgs84")
    with pytest.raises(ValueError, match=r"(?i)swapped"):
        import_survey(beijing, path, "cameras")


def test_division_prefix_must_match_the_district(beijing: Engine, tmp_path: Path) -> None:
    # 110102 is 西城区, but the point lies in 东城区 (110101)
    path = _csv(tmp_path / "p.csv", [("11010200001320000005", *WGS)])
    with pytest.raises(ImportFailed, match=r"division prefix 110102 does not match the district "
                       r"东城区 \(110101\)"):  # fmt: skip
        import_survey(beijing, path, "cameras", crs="wgs84")


@pytest.mark.parametrize(
    ("crs", "stored", "xy", "fmt"),
    [("gcj02", WGS, GCJ, "csv"), ("bd09", BD_OF, BD, "geojson")],
)
def test_export_in_a_web_map_crs_and_back(
    beijing: Engine,
    tmp_path: Path,
    crs: str,
    stored: tuple[float, float],
    xy: tuple[float, float],
    fmt: str,
) -> None:
    device = "11010100001320000006"
    # store the point whose image in `crs` is the published one
    src = "wgs84" if crs == "gcj02" else "gcj02"
    import_survey(beijing, _csv(tmp_path / "c.csv", [(device, *stored)]), "cameras", crs=src)
    out = tmp_path / f"export.{fmt}"
    env = {"DATABASE_URL": beijing.url.render_as_string(False)}
    res = run("export", "cameras", "-o", str(out), "--crs", crs, env=env)
    assert res.returncode == 0, res.stderr
    if fmt == "csv":
        line = out.read_text(encoding="utf-8-sig").splitlines()[1].split(",")
        assert (float(line[0]), float(line[1])) == pytest.approx(xy, abs=1e-7)
    else:
        coords = json.loads(out.read_text())["features"][0]["geometry"]["coordinates"]
        assert tuple(coords) == pytest.approx(xy, abs=1e-7)
    again = import_survey(beijing, out, "cameras", crs=crs)
    assert again.counts["unchanged"] == 1 and again.counts["updated"] == 0


def test_crs_convert_command(tmp_path: Path) -> None:
    out = run("crs", "convert", "--from", "wgs84", "--to", "gcj02", str(WGS[0]), str(WGS[1]))
    assert out.returncode == 0, out.stderr
    x, y = (float(v) for v in out.stdout.split())
    assert (x, y) == pytest.approx(GCJ, abs=1e-9)
    js = run("crs", "convert", "--from", "bd09", "--to", "gcj02", "--json", str(BD[0]), str(BD[1]))
    assert json.loads(js.stdout)[0] == pytest.approx(list(BD_OF), abs=1e-8)
    pts = tmp_path / "pts.csv"
    pts.write_text(f"经度,纬度\n{GCJ[0]},{GCJ[1]}\n{GCJ[0]},{GCJ[1]}\n", encoding="utf-8")
    fromfile = run("crs", "convert", "--from", "gcj02", "--to", "EPSG:4326", "--json",
                   "--file", str(pts))  # fmt: skip
    got = json.loads(fromfile.stdout)
    assert len(got) == 2 and got[1] == pytest.approx(list(WGS), abs=1e-8)
    bad = run("crs", "convert", "--from", "mars", "--to", "wgs84", "1", "2")
    assert bad.returncode == 1 and "mars" in bad.stderr
