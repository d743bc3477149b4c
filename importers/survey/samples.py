"""Messy survey files for the demo city, as survey teams really send them (data/samples/).

Written by `sightline demo samples DIR`; deterministic. Each file is documented in
data/samples/README.md with the faults it carries on purpose.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from openpyxl import Workbook

from gis.gb28181 import make_device_id
from importers.demo import DemoInventory

INJECTION = "Robert'); DROP TABLE cameras;--"
FORMULA = '=HYPERLINK("http://example.invalid","click")'


def _stations(inv: DemoInventory) -> gpd.GeoDataFrame:
    return inv.jurisdictions[inv.jurisdictions["level"] == "station"].reset_index(drop=True)


def _new_points(inv: DemoInventory, n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """``n`` points near demo cameras (new positions) and the station code of each."""
    rng = np.random.default_rng(seed)
    cams = inv.cameras[inv.cameras["source"] == "demo"].reset_index(drop=True)
    pick = rng.choice(len(cams), size=n, replace=False)
    base = cams.geometry.to_numpy()[pick]
    dx = rng.uniform(-0.00008, 0.00008, n)
    dy = rng.uniform(-0.00008, 0.00008, n)
    pts = shapely.points(shapely.get_x(base) + dx, shapely.get_y(base) + dy)
    stations = _stations(inv)
    tree = shapely.STRtree(stations.geometry.to_numpy())
    codes = []
    for p in pts:
        hit = tree.query(p, predicate="within")
        codes.append(str(stations["code"].iloc[int(hit[0])]) if len(hit) else "99010101")
    return pts, codes


def cameras_gbk_csv(inv: DemoInventory, path: Path) -> None:
    """GBK CSV with Chinese headers, 12 good rows and 8 faulty ones (see the README)."""
    pts, codes = _new_points(inv, 20, 1)
    header = ["设备编码", "设备名称", "经度", "纬度", "方位角(度)", "俯仰角", "安装高度(m)",
              "焦距(mm)", "分辨率", "靶面", "建设单位", "是否社会资源", "摄像机类型",
              "备注"]  # fmt: skip
    rows = []
    for i, (p, code) in enumerate(zip(pts, codes, strict=True)):
        rows.append([
            make_device_id(code, "00", "132", 0, 800001 + i), f"测试点位{i + 1:02d}",
            f"{p.x:.7f}", f"{p.y:.7f}", str((i * 37) % 360), "12", "6", "4", "200万",
            '1/2.8"', "市公安局", "否", "枪机", "2024年新建",
        ])  # fmt: skip
    # Faults, one per row (rows 14..21 in the file as Excel shows it):
    rows[12][0] = rows[12][0][:-1]  # 19 digits
    rows[13][4] = "400"  # azimuth out of range
    rows[14][5] = "95"  # tilt out of range
    rows[15][2], rows[15][3] = rows[15][3], rows[15][2]  # lon/lat swapped
    rows[16][0], rows[16][2], rows[16][3] = rows[3][0], rows[3][2], rows[3][3]  # row 5 again
    rows[17][0] = rows[17][0][:10] + "118" + rows[17][0][13:]  # an NVR, not a camera
    rows[18][1] = ""  # no name
    rows[19][8] = "很清楚"  # not a resolution
    # Valid but messy: full-width digits, a 360° azimuth, an injection string as a name.
    rows[0][4] = "９０"
    rows[1][4] = "360"
    rows[2][1] = INJECTION
    with path.open("w", newline="", encoding="gbk") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def cameras_xlsx(inv: DemoInventory, path: Path) -> None:
    """A clean workbook with English headers (the README's example import)."""
    pts, codes = _new_points(inv, 25, 2)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "cameras"
    ws.append(["device_id", "name", "lon", "lat", "azimuth_deg", "tilt_deg", "mount_height_m",
               "focal_length_mm", "sensor_width_mm", "resolution", "owner", "camera_type",
               "status", "contractor"])  # fmt: skip
    for i, (p, code) in enumerate(zip(pts, codes, strict=True)):
        ws.append([make_device_id(code, "00", "132", 0, 810001 + i), f"Survey cam {i + 1}",
                   round(p.x, 7), round(p.y, 7), (i * 29) % 360, 15, 5.5, 6, 5.6, "2560x1440",
                   "City police", "fixed", "online", "Contractor A"])  # fmt: skip
    for row in ws.iter_rows(min_row=2, max_col=1):
        row[0].number_format = "@"  # ids as text, as a careful surveyor sets it
    wb.save(path)


def checkpoints_geojson(inv: DemoInventory, path: Path) -> None:
    """GeoJSON (WGS-84 by RFC 7946) of checkpoints at the two entries the demo lacks."""
    feats = []
    missing = inv.missing_entry_checkpoints
    for i, row in enumerate(missing.itertuples(index=False)):
        feats.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row.geometry.x, row.geometry.y]},
            "properties": {"卡口编码": str(row.device_id), "卡口名称": f"新建卡口{i + 1}",
                           "道路名称": row.road_name, "方向": "进城,出城", "车道数": "2",
                           "是否入城卡口": "是"},
        })  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False, indent=1), encoding="utf-8")  # fmt: skip


def key_areas_shapefile_zip(inv: DemoInventory, path: Path) -> None:
    """Zipped shapefile (GBK .cpg, .prj) of key areas; one ring is a bow-tie (invalid)."""
    areas = inv.key_areas.head(5).reset_index(drop=True)
    names = [f"重点区域{i + 1}" for i in range(len(areas))]
    geoms = list(areas.geometry)
    c = geoms[-1].centroid
    d = 0.0005
    geoms[-1] = shapely.Polygon([(c.x - d, c.y - d), (c.x + d, c.y + d), (c.x + d, c.y - d),
                                 (c.x - d, c.y + d)])  # fmt: skip
    gdf = gpd.GeoDataFrame({"名称": names, "类别": ["学校", "医院", "交通枢纽", "商业", "公园"],
                            "等级": ["观察", "观察", "识别", "探测", "探测"]},
                           geometry=geoms, crs=4326)  # fmt: skip
    tmp = path.with_suffix(".d")
    tmp.mkdir(exist_ok=True)
    shp = tmp / "key_areas.shp"
    gdf.to_file(shp, engine="pyogrio", encoding="GBK")
    (tmp / "key_areas.cpg").write_text("GBK")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(tmp.iterdir()):
            zf.write(f, f.name)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


def alarm_points_kml(inv: DemoInventory, path: Path) -> None:
    """KML placemarks of alarm points with ExtendedData fields."""
    pts, _ = _new_points(inv, 6, 3)
    buf = io.StringIO()
    buf.write('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
              "<Document><name>alarm points</name>\n")  # fmt: skip
    for i, p in enumerate(pts):
        buf.write(
            f"<Placemark><name>一键报警{i + 1}</name><ExtendedData>"
            f'<Data name="code"><value>AP-S{i + 1:03d}</value></Data>'
            f'<Data name="kind"><value>sos_column</value></Data></ExtendedData>'
            f"<Point><coordinates>{p.x:.7f},{p.y:.7f},0</coordinates></Point></Placemark>\n"
        )
    buf.write("</Document></kml>\n")
    path.write_text(buf.getvalue(), encoding="utf-8")


def mapping_toml(path: Path) -> None:
    """A mapping file for headers no alias covers."""
    path.write_text(
        '# header in the file = Sightline field ("" ignores the column)\n'
        '"设备名称" = "name"\n"等级" = "required_dori"\n"监控方向" = "azimuth_deg"\n',
        encoding="utf-8",
    )


def write_samples(inv: DemoInventory, directory: Path) -> list[Path]:
    """Write every sample file into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {
        "cameras_gbk.csv": cameras_gbk_csv,
        "cameras.xlsx": cameras_xlsx,
        "checkpoints.geojson": checkpoints_geojson,
        "key_areas_shp.zip": key_areas_shapefile_zip,
        "alarm_points.kml": alarm_points_kml,
    }
    paths = []
    for name, fn in out.items():
        fn(inv, directory / name)
        paths.append(directory / name)
    mapping_toml(directory / "mapping.toml")
    paths.append(directory / "mapping.toml")
    return paths
