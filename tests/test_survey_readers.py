"""Survey readers: every format, encodings, row numbers as the user sees them, unsafe archives.

All inputs are written here, in tmp_path, with independent tools (csv/openpyxl/pyogrio/zipfile
or by hand), and read back through ``open_survey``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import Workbook

from importers.survey import (
    GEOMETRY_COLUMN,
    RowBatch,
    SourceInfo,
    SurveyReadError,
    archives,
    normalise_number_text,
    open_survey,
)
from settings import PROJECT_ROOT

HEADER_ZH = ["设备编码", "设备名称", "经度", "纬度", "方位角"]
ROWS_ZH = [
    ["34010000001320000012", "东门路口", "117.2712345", "31.8612345", "135"],
    ["0012", "西门（南）", "117.2", "31.9", "3,5"],
]


def read_all(path: Path, **kwargs: object) -> tuple[SourceInfo, list[RowBatch]]:
    info, batches = open_survey(path, **kwargs)  # type: ignore[arg-type]
    return info, list(batches)


def table(batches: list[RowBatch]) -> tuple[list[list[object]], list[int]]:
    """All rows (without geometry) as lists, and their row numbers."""
    rows: list[list[object]] = []
    numbers: list[int] = []
    for b in batches:
        plain = b.rows.drop(columns=[GEOMETRY_COLUMN], errors="ignore")
        assert all(dtype.kind == "O" for dtype in plain.dtypes)
        rows.extend(plain.to_numpy().tolist())
        numbers.extend(int(n) for n in b.row_numbers)
        assert len(b.row_numbers) == len(b.rows)
    return rows, numbers


def write_csv(path: Path, lines: list[list[str]], encoding: str, sep: str = ",") -> Path:
    path.write_bytes("".join(sep.join(cells) + "\r\n" for cells in lines).encode(encoding))
    return path


# --------------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")],
)
def test_csv_encodings_with_chinese_headers(tmp_path: Path, encoding: str, reported: str) -> None:
    path = write_csv(
        tmp_path / "点位.csv",
        [HEADER_ZH, *[[c if "," not in c else f'"{c}"' for c in r] for r in ROWS_ZH]],
        encoding,
    )
    info, batches = read_all(path)
    assert info.format == "csv"
    assert info.encoding == reported
    assert info.columns == HEADER_ZH  # no BOM left on the first name
    assert info.crs is None and info.geometry is False and info.member is None
    rows, numbers = table(batches)
    assert rows == ROWS_ZH  # ids keep leading zeros and all 20 digits; "3,5" is untouched
    assert numbers == [2, 3]


def test_csv_given_encoding_wins(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [HEADER_ZH, *ROWS_ZH[:1]], "gbk")
    info, batches = read_all(path, encoding="GBK")
    assert info.encoding == "gbk"
    assert table(batches)[0] == ROWS_ZH[:1]
    with pytest.raises(SurveyReadError, match="UTF-8"):
        read_all(path, encoding="utf-8")
    with pytest.raises(SurveyReadError, match="unknown text encoding"):
        read_all(path, encoding="no-such-codec")


def test_csv_detection_looks_past_an_ascii_head(tmp_path: Path) -> None:
    """2 MB of ASCII rows, then GBK: the encoding is decided where the non-ASCII text starts."""
    lines = [["id", "name"]] + [[f"{i:06d}", "gate"] for i in range(150_000)]
    lines.append(["999999", "东门"])
    path = write_csv(tmp_path / "a.csv", lines, "gbk")
    info, batches = read_all(path)
    assert info.encoding == "gb18030"
    rows, numbers = table(batches)
    assert rows[-1] == ["999999", "东门"]
    assert numbers[-1] == len(lines)


def test_csv_mixed_encodings_name_the_row(tmp_path: Path) -> None:
    head = [HEADER_ZH] + [
        [f"{i:020d}", f"东门路口{i}", "117.1", "31.2", "90"] for i in range(30_000)
    ]
    body = "".join(",".join(r) + "\n" for r in head).encode("utf-8")
    assert len(body) > 1 << 20  # past the detection sample
    bad_row = len(head) + 1
    body += "00000000000000099999,西门,117.1,31.2,90\n".encode("gbk")
    body += "00000000000000100000,北门,117.1,31.2,90\n".encode()
    path = tmp_path / "mixed.csv"
    path.write_bytes(body)
    info, batches = open_survey(path, batch_rows=10_000)
    assert info.encoding == "utf-8"
    first = next(batches)
    assert list(first.row_numbers[:2]) == [2, 3]
    with pytest.raises(SurveyReadError, match=rf"row {bad_row}: bytes not valid UTF-8.*mixes enc"):
        list(batches)


def test_csv_mixed_encodings_inside_the_sample(tmp_path: Path) -> None:
    lines = [HEADER_ZH, *ROWS_ZH[:1], ROWS_ZH[:1][0]]
    body = "".join(",".join(r) + "\n" for r in lines).encode("utf-8")
    body += "1,南门,1,2,3\n".encode("gbk")
    path = tmp_path / "mixed.csv"
    path.write_bytes(body)
    info, batches = open_survey(path)
    assert info.encoding == "utf-8"
    with pytest.raises(SurveyReadError, match="row 4: bytes not valid UTF-8"):
        list(batches)


def test_csv_utf16_unicode_text(tmp_path: Path) -> None:
    """Excel's "Unicode text" export: UTF-16 LE with BOM, tab-separated."""
    path = tmp_path / "export.txt"
    path.write_bytes("设备编码\t经度\r\n0012\t117,5\r\n".encode("utf-16"))
    info, batches = read_all(path)
    assert info.encoding == "utf-16" and info.columns == ["设备编码", "经度"]
    assert table(batches) == ([["0012", "117,5"]], [2])


@pytest.mark.parametrize("sep", [";", "\t"])
def test_csv_delimiter_sniffing(tmp_path: Path, sep: str) -> None:
    path = write_csv(
        tmp_path / "a.txt", [["id", "lon", "lat"], ["1", "3,5", "117,2"]], "utf-8", sep
    )
    info, batches = read_all(path)
    assert info.columns == ["id", "lon", "lat"]
    assert table(batches)[0] == [["1", "3,5", "117,2"]]


def test_csv_ragged_rows_blank_rows_and_quoted_newlines(tmp_path: Path) -> None:
    text = (
        "id,name,lon\n"  # 1
        "1,a,117\n"  # 2
        "\n"  # 3 blank: skipped, numbers do not shift
        "2,b\n"  # 4 too few cells
        "3,c,117,extra\n"  # 5 too many
        "4,d,117,,\n"  # 6 Excel-style empty padding: fine
        '5,"two\nlines",117\n'  # 7 one spreadsheet row
        ",,\n"  # 8 blank
        "6,,117\n"  # 9 empty cell -> None
    )
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8")
    info, batches = read_all(path, batch_rows=2)
    rows, numbers = table(batches)
    assert numbers == [2, 6, 7, 9]
    assert rows == [
        ["1", "a", "117"],
        ["4", "d", "117"],
        ["5", "two\nlines", "117"],
        ["6", None, "117"],
    ]
    errors = [e for b in batches for e in b.errors]
    assert [e.row for e in errors] == [4, 5]
    assert "2 cells but the header has 3 columns" in errors[0].message
    assert "'extra'" in errors[1].message and "column 4 (D)" in errors[1].message


def test_csv_header_problems(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SurveyReadError, match="empty"):
        open_survey(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n,,\n")
    with pytest.raises(SurveyReadError, match="no header"):
        open_survey(blank)
    dup = tmp_path / "dup.csv"
    dup.write_text("编码,经度,纬度,经度\n1,2,3,4\n")
    with pytest.raises(
        SurveyReadError, match=r"duplicate column names in row 1: '经度' in column 2"
    ):
        open_survey(dup)
    hole = tmp_path / "hole.csv"
    hole.write_text("id,,lat\n1,2,3\n")
    with pytest.raises(SurveyReadError, match=r"column 2 \(B\) has no header name"):
        open_survey(hole)
    only = tmp_path / "only.csv"
    only.write_text(" id , lon ,lat,,\n")  # trailing empty header cells are Excel padding
    info, batches = read_all(only)
    assert info.columns == ["id", "lon", "lat"]
    assert table(batches) == ([], [])


def test_csv_unclosed_quote_is_reported_at_its_row(tmp_path: Path) -> None:
    lines = ["id,name", '1,"东门', *[f"{i},x" for i in range(2, 40)], '40,"quoted"', "41,y"]
    path = tmp_path / "a.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    info, batches = read_all(path)
    errors = [e for b in batches for e in b.errors]
    assert [e.row for e in errors] == [2]
    assert "unclosed quote" in errors[0].message and "lines 2-" in errors[0].message
    rows, numbers = table(batches)
    assert rows[-1] == ["41", "y"] and numbers[-1] == 3  # parsing resumes after the quote


def test_csv_title_row_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        [["XX区视频监控点位表", "", "", "", ""], HEADER_ZH, ROWS_ZH[0]],
        "utf-8-sig",
    )
    info, batches = read_all(path)
    assert info.columns == HEADER_ZH
    assert any("row 1 looks like a title" in w for w in info.warnings)
    assert table(batches) == ([ROWS_ZH[0]], [3])


def test_csv_batches_and_close(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["id"]] + [[str(i)] for i in range(10)], "utf-8")
    info, batches = open_survey(path, batch_rows=4)
    sizes = [len(b.rows) for b in batches]
    assert sizes == [4, 4, 2]
    info, batches = open_survey(path, batch_rows=4)
    with batches:
        assert list(next(batches).row_numbers) == [2, 3, 4, 5]
    with pytest.raises(StopIteration):
        next(batches)


# -------------------------------------------------------------------------------------- XLSX


def make_workbook(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "点位"
    ws.append(HEADER_ZH + ["安装日期", "在线"])  # row 1
    # Excel stores a typed-in 20-digit id as a double: 15 significant digits survive.
    ws.append(
        [float(34010000001320000012), "东门", 117.2712345, 31.86, 135, dt.date(2024, 3, 5), True]
    )
    ws.append([])  # row 3 blank
    ws.append([None, None])  # row 4 blank
    ws.append(["0012", "西门", 117, 31, 90.0, dt.datetime(2024, 3, 5, 14, 30), False])  # row 5
    ws["B7"] = "只有名称"  # row 7: short row (cells end at B)
    ws2 = wb.create_sheet("备注")
    ws2.append(["说明"])
    wb.create_sheet("空表")
    wb.save(path)
    return path


def test_xlsx_cells_rows_and_precision_warning(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "点位.xlsx")
    info, batches = read_all(path)
    assert info.format == "xlsx" and info.member == "点位"
    assert info.columns == HEADER_ZH + ["安装日期", "在线"]
    assert any("'备注'" in w and "--sheet" in w for w in info.warnings)
    assert not any("空表" in w for w in info.warnings)
    rows, numbers = table(batches)
    assert numbers == [2, 5, 7]  # as Excel shows them
    assert rows[1] == ["0012", "西门", "117", "31", "90", "2024-03-05T14:30:00", "false"]
    assert rows[0][1:] == ["东门", "117.2712345", "31.86", "135", "2024-03-05", "true"]
    assert rows[0][0] != "34010000001320000012"  # the digits are gone ...
    warnings = [w for b in batches for w in b.warnings]
    assert len(warnings) == 1  # ... and the user is told where
    assert warnings[0].row == 2
    assert "column 设备编码" in warnings[0].message and "20-digit id" in warnings[0].message
    assert rows[2] == [None, "只有名称", None, None, None, None, None]


def test_xlsx_sheet_choice_and_renamed_workbook(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "a.xlsx")
    info, batches = read_all(path, sheet="备注")
    assert info.member == "备注" and info.columns == ["说明"] and table(batches) == ([], [])
    with pytest.raises(SurveyReadError, match="no sheet 'x'.*'点位', '备注', '空表'"):
        open_survey(path, sheet="x")
    renamed = tmp_path / "a.csv"
    renamed.write_bytes(path.read_bytes())
    info, batches = read_all(renamed)
    assert info.format == "xlsx"
    assert any("content is XLSX" in w for w in info.warnings)


def test_text_saved_as_xls_is_read_as_csv_and_legacy_xls_is_refused(tmp_path: Path) -> None:
    tsv = tmp_path / "export.xls"
    tsv.write_text("id\tname\n1\t东门\n", encoding="utf-8")
    info, batches = read_all(tsv)
    assert info.format == "csv" and table(batches)[0] == [["1", "东门"]]
    ole = tmp_path / "old.xls"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(SurveyReadError, match="save it as .xlsx"):
        open_survey(ole)


# ----------------------------------------------------------------------------- GDAL formats


def bowtie() -> shapely.Polygon:
    return shapely.Polygon([(117.0, 31.0), (117.1, 31.1), (117.1, 31.0), (117.0, 31.1)])


def survey_frame(crs: str = "EPSG:4490") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "设备编码": ["0012", "0013", None],
            "设备名称": ["东门", "西门", "北门"],
            "方位角": [135.0, 90.5, None],
            "高度": [6, 8, 10],
        },
        geometry=[shapely.Point(117.27, 31.86), None, shapely.Point(117.3, 31.9)],
        crs=crs,
    )


def test_geojson_properties_crs_and_invalid_geometry(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"编码": "0012", "方位角": 135, "高度": 6.5, "备注": None},
                "geometry": {"type": "Point", "coordinates": [117.27, 31.86]},
            },
            {
                "type": "Feature",
                "properties": {"编码": "0013", "方位角": 90, "高度": 8, "备注": "东"},
                "geometry": json.loads(shapely.to_geojson(bowtie())),
            },
        ],
    }
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    info, batches = read_all(path)
    assert info.format == "geojson" and info.geometry
    assert info.crs is None  # RFC 7946 file: no crs member, nothing stated
    assert info.columns == ["编码", "方位角", "高度", "备注"]
    rows, numbers = table(batches)
    assert rows == [["0012", "135", "6.5", None], ["0013", "90", "8", "东"]]
    assert numbers == [1, 2]
    geoms = batches[0].rows[GEOMETRY_COLUMN].tolist()
    assert geoms[0].equals(shapely.Point(117.27, 31.86))
    assert not geoms[1].is_valid and geoms[1].equals_exact(bowtie(), 0)  # not repaired

    sliced = [list(b.row_numbers) for b in read_all(path, batch_rows=1)[1]]
    assert sliced == [[1], [2]]

    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert open_survey(path)[0].crs == "EPSG:4490"


def write_gbk_shapefile(folder: Path, name: str = "摄像机") -> Path:
    folder.mkdir(exist_ok=True)
    shp = folder / f"{name}.shp"
    survey_frame().to_file(shp, encoding="GBK")
    assert (folder / f"{name}.cpg").read_text().strip() == "GBK"
    assert (folder / f"{name}.prj").exists()
    return shp


def test_shapefile_cpg_and_prj(tmp_path: Path) -> None:
    shp = write_gbk_shapefile(tmp_path / "shp")
    assert "东门".encode("gbk") in shp.with_suffix(".dbf").read_bytes()
    info, batches = read_all(shp)
    assert info.format == "shapefile" and info.encoding == "gbk"
    assert info.crs == "EPSG:4490"
    assert info.columns == ["设备编码", "设备名称", "方位角", "高度"]
    rows, numbers = table(batches)
    assert rows == [
        ["0012", "东门", "135", "6"],
        ["0013", "西门", "90.5", "8"],
        [None, "北门", None, "10"],
    ]
    assert numbers == [1, 2, 3]
    geoms = [g for b in batches for g in b.rows[GEOMETRY_COLUMN]]
    assert geoms[1] is None and geoms[0].equals(shapely.Point(117.27, 31.86))


def test_shapefile_without_cpg_is_detected_and_parts_lead_to_the_shp(tmp_path: Path) -> None:
    shp = write_gbk_shapefile(tmp_path / "shp")
    shp.with_suffix(".cpg").unlink()
    dbf = shp.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no code page in the DBF header either
    dbf.write_bytes(bytes(raw))
    info, batches = read_all(dbf)  # the user picked the .dbf
    assert info.format == "shapefile" and info.encoding == "gb18030"
    assert table(batches)[0][0][:2] == ["0012", "东门"]
    assert any("reading the shapefile" in w for w in info.warnings)
    info, batches = read_all(shp, batch_rows=2)  # skip/max features batching
    assert [list(b.row_numbers) for b in batches] == [[1, 2], [3]]


def test_shapefile_given_encoding_wins_and_cut_utf8_field_names(tmp_path: Path) -> None:
    shp = tmp_path / "utf8.shp"
    frame = survey_frame().rename(columns={"设备编码": "FIELD10CHR", "设备名称": "名称"})
    frame.to_file(shp, encoding="UTF-8")
    # "设备编码" is 12 bytes in UTF-8; DBF names hold 10, so writers cut it mid-character.
    dbf = shp.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes().replace(b"FIELD10CHR", "设备编码".encode()[:10], 1))
    info, batches = read_all(shp)
    assert info.encoding == "utf-8"
    assert info.columns == ["设备编", "名称", "方位角", "高度"]
    assert any("cut in the middle of a character" in w for w in info.warnings)
    assert table(batches)[0][0][:2] == ["0012", "东门"]

    gbk = write_gbk_shapefile(tmp_path / "gbk")
    gbk.with_suffix(".cpg").write_text("UTF-8")  # a wrong .cpg ...
    info, batches = read_all(gbk, encoding="gbk")  # ... and the user knows better
    assert info.encoding == "gbk" and info.columns[0] == "设备编码"
    assert table(batches)[0][0][:2] == ["0012", "东门"]


def test_shapefile_rows_in_another_encoding_are_row_errors(tmp_path: Path) -> None:
    shp = tmp_path / "a.shp"
    survey_frame().rename(columns={"设备编码": "编码", "设备名称": "名称"}).to_file(
        shp, encoding="UTF-8"
    )
    dbf = shp.with_suffix(".dbf")
    utf8, gbk = "西门".encode(), "西门".encode("gbk")
    raw = dbf.read_bytes()
    assert raw.count(utf8) == 1
    dbf.write_bytes(raw.replace(utf8, gbk + b" " * (len(utf8) - len(gbk))))
    info, batches = read_all(shp)
    assert info.encoding == "utf-8"
    rows, numbers = table(batches)
    assert numbers == [1, 3]
    errors = [e for b in batches for e in b.errors]
    assert [e.row for e in errors] == [2]
    assert "field 名称: bytes not valid UTF-8" in errors[0].message


def test_folder_with_one_shapefile(tmp_path: Path) -> None:
    shp = write_gbk_shapefile(tmp_path / "交付")
    (shp.parent / "说明.txt").write_text("readme", encoding="utf-8")
    info, batches = read_all(shp.parent)
    assert info.path == shp.parent and info.member == "摄像机.shp"
    assert len(table(batches)[0]) == 3
    write_gbk_shapefile(shp.parent, "卡口")
    with pytest.raises(SurveyReadError, match="2 survey files.*'卡口.shp', '摄像机.shp'"):
        open_survey(shp.parent)
    assert open_survey(shp.parent, layer="卡口")[0].member == "卡口.shp"


def zip_folder(
    folder: Path, target: Path, *, prefix: str = "", extra: dict[str, bytes] | None = None
) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, prefix + p.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return target


def test_zipped_shapefile_and_cleanup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    shp = write_gbk_shapefile(tmp_path / "shp")
    archive = zip_folder(
        shp.parent,
        tmp_path / "交付.zip",
        prefix="交付/",
        extra={"__MACOSX/交付/._摄像机.shp": b"junk", "交付/说明.txt": b"readme"},
    )
    info, batches = open_survey(archive)
    assert info.path == archive and info.member == "交付/摄像机.shp"
    assert info.encoding == "gbk" and info.crs == "EPSG:4490"
    assert len(list(scratch.iterdir())) == 1  # extracted, only the shapefile parts
    assert sorted(p.suffix for p in next(scratch.iterdir()).iterdir()) == [
        ".cpg",
        ".dbf",
        ".prj",
        ".shp",
        ".shx",
    ]
    assert len(table(list(batches))[0]) == 3
    assert list(scratch.iterdir()) == []  # exhausted -> removed

    _, batches = open_survey(archive)
    next(batches)
    batches.close()
    assert list(scratch.iterdir()) == []
    _, batches = open_survey(archive)
    del batches  # never iterated: removed when collected
    assert list(scratch.iterdir()) == []


def test_zip_with_two_shapefiles_needs_a_choice(tmp_path: Path) -> None:
    write_gbk_shapefile(tmp_path / "shp", "摄像机")
    write_gbk_shapefile(tmp_path / "shp", "卡口")
    archive = zip_folder(tmp_path / "shp", tmp_path / "a.zip")
    with pytest.raises(SurveyReadError, match="2 survey files; choose one with --layer"):
        open_survey(archive)
    info, batches = read_all(archive, layer="卡口")
    assert info.member == "卡口.shp" and len(table(batches)[0]) == 3


def test_zip_member_names_written_in_gbk_are_repaired(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    gbk_name = "点位".encode("gbk")
    placeholder = b"X" * len(gbk_name)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(placeholder.decode() + ".csv", "编码,名称\n1,东门\n".encode())
    # What old Windows zippers write: GBK name bytes without the UTF-8 flag (bit 11).
    raw = archive.read_bytes()
    assert raw.count(placeholder + b".csv") == 2  # local header + central directory
    archive.write_bytes(raw.replace(placeholder + b".csv", gbk_name + b".csv"))
    info, batches = read_all(archive)
    assert info.member == "点位.csv"
    assert table(batches)[0] == [["1", "东门"]]


def test_gpkg_layers(tmp_path: Path) -> None:
    path = tmp_path / "survey.gpkg"
    survey_frame().to_file(path, layer="摄像机")
    areas = gpd.GeoDataFrame({"名称": ["一片区"]}, geometry=[bowtie()], crs="EPSG:4490")
    areas.to_file(path, layer="重点区域")
    with pytest.raises(
        SurveyReadError, match="2 layers; choose one with --layer: '摄像机', '重点区域'"
    ):
        open_survey(path)
    info, batches = read_all(path, layer="重点区域")
    assert info.format == "gpkg" and info.member == "重点区域" and info.crs == "EPSG:4490"
    assert table(batches) == ([["一片区"]], [1])
    assert not batches[0].rows[GEOMETRY_COLUMN].iloc[0].is_valid
    with pytest.raises(SurveyReadError, match="no layer 'x'"):
        open_survey(path, layer="x")


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
<Document><name>点位</name>
<Placemark><name>东门</name><description>球机</description>
  <ExtendedData>
    <Data name="设备编码"><value>0012</value></Data>
    <Data name="方位角"><value>135</value></Data>
  </ExtendedData>
  <Point><coordinates>117.27,31.86,0</coordinates></Point></Placemark>
<Placemark><name>一片区</name>
  <ExtendedData><Data name="设备编码"><value>0013</value></Data></ExtendedData>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>
    117.0,31.0 117.1,31.1 117.1,31.0 117.0,31.1 117.0,31.0
  </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Document></kml>
"""


def test_kml_and_kmz(tmp_path: Path) -> None:
    path = tmp_path / "a.kml"
    path.write_text(KML, encoding="utf-8")
    info, batches = read_all(path)
    assert info.format == "kml" and info.crs is None
    assert info.columns == ["name", "description", "设备编码", "方位角"]
    rows, numbers = table(batches)
    assert rows == [["东门", "球机", "0012", "135"], ["一片区", None, "0013", None]]
    assert numbers == [1, 2]
    geoms = batches[0].rows[GEOMETRY_COLUMN].tolist()
    assert shapely.get_coordinates(geoms[0]).tolist() == [[117.27, 31.86]]
    assert not geoms[1].is_valid

    kmz = tmp_path / "a.kmz"
    with zipfile.ZipFile(kmz, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("files/icon.png", b"\x89PNG")
        zf.writestr("doc.kml", KML)
    info, batches = read_all(kmz)
    assert info.format == "kml" and info.member == "doc.kml" and info.path == kmz
    assert table(batches)[0] == rows


def test_kml_folders_are_layers(tmp_path: Path) -> None:
    folders = KML.replace(
        "<Placemark><name>东门", "<Folder><name>摄像机</name><Placemark><name>东门"
    )
    folders = folders.replace(
        "</Placemark>\n<Placemark><name>一片区",
        "</Placemark></Folder>\n<Folder><name>区域</name><Placemark><name>一片区",
    )
    folders = folders.replace("</Placemark>\n</Document>", "</Placemark></Folder>\n</Document>")
    path = tmp_path / "a.kml"
    path.write_text(folders, encoding="utf-8")
    with pytest.raises(SurveyReadError, match="'摄像机', '区域'"):
        open_survey(path)
    info, batches = read_all(path, layer="区域")
    assert table(batches)[0] == [["一片区", None, "0013"]]


# ---------------------------------------------------------------------------------- archives


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    for evil in ("../../etc/cron.d/x.csv", "/tmp/x.csv", "a/../../x.csv", "..\\x.csv", "C:/x.csv"):
        archive = tmp_path / "evil.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("ok.csv", "id\n1\n")
            zf.writestr(evil, "id\n1\n")
        with pytest.raises(SurveyReadError, match="leave the extraction folder"):
            open_survey(archive)
    assert not (tmp_path.parent / "x.csv").exists()


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("points.csv", "w") as member:
            zero = bytes(1 << 20)
            for _ in range(100):  # 100 MB of zeros -> ~100 kB
                member.write(zero)
    assert archive.stat().st_size < 1 << 20
    with pytest.raises(SurveyReadError, match="expands .* times.*zip bomb"):
        open_survey(archive)


def test_zip_total_size_and_member_count_limits(tmp_path: Path) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(1001):
            zf.writestr(f"f{i}.csv", "id\n")
    with pytest.raises(SurveyReadError, match="1001 members.*limit is 1000"):
        open_survey(archive)
    small = tmp_path / "small.zip"
    with zipfile.ZipFile(small, "w") as zf:
        zf.writestr("a.csv", "id\n" + "1\n" * 1000)
    with pytest.raises(SurveyReadError, match="expands to 2003 bytes.*zip bomb"):
        archives.safe_members(small, max_total_bytes=1000)


def test_unknown_and_missing_inputs(tmp_path: Path) -> None:
    not_geojson = tmp_path / "a.json"
    not_geojson.write_text('[{"id": 1}]')
    with pytest.raises(SurveyReadError, match="a.json: not a readable GeoJSON file"):
        open_survey(not_geojson)
    odd = tmp_path / "points.dat"
    odd.write_text("id,lon\n1,2\n")
    with pytest.raises(SurveyReadError, match=r"points.dat: unknown.*supported formats: CSV.*KML"):
        open_survey(odd)
    with pytest.raises(SurveyReadError, match="no such file"):
        open_survey(tmp_path / "nope.csv")
    empty_zip = tmp_path / "e.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("readme.md", "hi")
    with pytest.raises(SurveyReadError, match="no survey file inside"):
        open_survey(empty_zip)


# ------------------------------------------------------------------------------ number text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１１７．２７１２", "117.2712"),
        ("－３５．５", "-35.5"),
        ("\u3000 116.5 \u3000", "116.5"),
        ("1,234.5", "1234.5"),
        ("１，２３４，５６７", "1234567"),
        ("3,5", "3,5"),  # decimal comma or a list? the caller reports it
        ("1,234", "1,234"),  # 1234 or 1.234: ambiguous too
        ("12,34.5", "12,34.5"),  # not a thousands grouping
        ("0012", "0012"),
        ("1.5e3", "1.5e3"),
        ("", ""),
    ],
)
def test_normalise_number_text(raw: str, expected: str) -> None:
    assert normalise_number_text(raw) == expected


# ------------------------------------------------------------------------------ big files

_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from importers.survey import open_survey

    path = Path(sys.argv[1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    info, batches = open_survey(path)
    rows = last = 0
    for batch in batches:
        rows += len(batch.rows)
        last = int(batch.row_numbers[-1])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "last": last, "seconds": seconds,
                      "growth_mb": (peak - before) / 1024}))
    """
)


def big_csv(path: Path, target_bytes: int) -> int:
    """Write a CSV of about ``target_bytes`` quickly; returns the number of data rows."""
    line = "34010000001320{:06d},东门路口{:06d},117.2712345,31.8612345,135,6.5,球机\n"
    block = "".join(line.format(i, i) for i in range(10_000)).encode()
    repeats = max(1, target_bytes // len(block))
    with open(path, "wb") as f:
        f.write("设备编码,设备名称,经度,纬度,方位角,高度,类型\n".encode())
        for _ in range(repeats):
            f.write(block)
    return repeats * 10_000


@pytest.mark.parametrize("megabytes", [20, 200])
def test_big_csv_streams_in_flat_memory(tmp_path: Path, megabytes: int) -> None:
    path = tmp_path / "big.csv"
    rows = big_csv(path, megabytes << 20)
    try:
        result = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_ROOT,
        )
    finally:
        path.unlink()
    measured = json.loads(result.stdout)
    assert measured["rows"] == rows and measured["last"] == rows + 1
    # A 50k-row batch is ~30 MB of Python strings; the file size must not show up.
    assert measured["growth_mb"] < 150, measured


def test_frames_are_plain_object_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["a", "b"], ["1", ""]], "utf-8")
    _, batches = read_all(path)
    frame = batches[0].rows
    assert isinstance(frame, pd.DataFrame) and frame.columns.tolist() == ["a", "b"]
    assert frame.iloc[0].tolist() == ["1", None]
    assert batches[0].row_numbers.dtype == np.int64
