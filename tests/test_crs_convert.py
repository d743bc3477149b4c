"""CRS names, conversion through WGS-84 and the undeclared-CRS detector."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pyproj import Geod, Transformer

from gis.chinacrs import gcj02_to_bd09, wgs84_to_gcj02
from gis.crs import CrsError, CrsSpec, detect_lonlat_crs, parse_crs_name, transform_xy

GEOD = Geod(ellps="WGS84")
WUHAN_EXTENT = (113.7, 29.9, 115.1, 31.4)
BEIJING = (116.391, 39.907)


def _dist_m(lon0, lat0, lon1, lat1) -> np.ndarray:
    return np.asarray(GEOD.inv(lon0, lat0, lon1, lat1)[2])


# --- parse_crs_name -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "canonical"), [
    ("wgs84", "EPSG:4326"), ("WGS-84", "EPSG:4326"), ("WGS 84", "EPSG:4326"),
    ("EPSG:4326", "EPSG:4326"), ("4326", "EPSG:4326"), ("epsg 4326", "EPSG:4326"),
    ("urn:ogc:def:crs:EPSG::4326", "EPSG:4326"), ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"),
    ("cgcs2000", "EPSG:4490"), ("CGCS2000", "EPSG:4490"), ("EPSG:4490", "EPSG:4490"),
    ("gcj02", "GCJ-02"), ("GCJ-02", "GCJ-02"), ("gcj_02", "GCJ-02"),
    ("bd09", "BD-09"), ("BD-09", "BD-09"), ("bd09ll", "BD-09"),
    ("EPSG:4547", "EPSG:4547"), ("epsg:32650", "EPSG:32650"), ("3857", "EPSG:3857"),
])
def test_parse_names(name: str, canonical: str) -> None:
    spec = parse_crs_name(name)
    assert spec.name == canonical == str(spec)
    assert parse_crs_name(spec.name) == spec


def test_parse_details() -> None:
    gk = parse_crs_name("EPSG:4547")
    assert (gk.epsg, gk.is_geographic) == (4547, False)
    assert "Gauss-Kruger CM 114E" in gk.title
    assert parse_crs_name("gcj02") == CrsSpec("GCJ-02", None, True, parse_crs_name("GCJ02").title)
    assert parse_crs_name("cgcs2000").is_geographic


@pytest.mark.parametrize(("name", "match"), [
    ("mars", r"unknown CRS name 'mars'; accepted: 'wgs84'.*'gcj02'.*EPSG:4547"),
    ("", "unknown CRS name ''"),
    ("EPSG:99999", r"EPSG:99999 .*not in the EPSG database; accepted"),
    ("EPSG:4978", "not a geographic or projected CRS"),  # geocentric
    ("EPSG:5773", "not a geographic or projected CRS"),  # vertical
    ("bd09mc", "Baidu Mercator.*use 'bd09'"),
])
def test_parse_errors(name: str, match: str) -> None:
    with pytest.raises(CrsError, match=match):
        parse_crs_name(name)
    assert issubclass(CrsError, ValueError)


# --- transform_xy -------------------------------------------------------------------------------

def test_beijing_round_trip_through_gcj_and_bd() -> None:
    lon, lat = BEIJING
    gx, gy = transform_xy(lon, lat, "wgs84", "gcj02")
    bx, by = transform_xy(gx, gy, "gcj02", "bd09")
    wx, wy = transform_xy(bx, by, "bd09", "wgs84")
    assert float(_dist_m(lon, lat, wx, wy)) < 0.001
    assert (float(gx), float(gy)) == wgs84_to_gcj02(lon, lat)
    assert (float(bx), float(by)) == gcj02_to_bd09(float(gx), float(gy))
    # the hops are hundreds of metres each
    assert 400.0 < float(_dist_m(lon, lat, gx, gy)) < 700.0
    assert float(_dist_m(gx, gy, bx, by)) > 700.0
    # straight wgs84 -> bd09 agrees with the two hops
    assert transform_xy(lon, lat, "EPSG:4326", "BD-09") == pytest.approx((bx, by), abs=1e-12)


def test_gk_cm_114_round_trip_vs_pyproj() -> None:
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(112.5, 115.5, 2000), rng.uniform(22.0, 42.0, 2000)
    e, n = transform_xy(lon, lat, "wgs84", "EPSG:4547")
    ref_e, ref_n = Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat)
    assert np.max(np.abs(e - ref_e)) < 1e-6 and np.max(np.abs(n - ref_n)) < 1e-6
    assert np.all((e > 200_000) & (e < 800_000))  # metres, false easting 500 km
    back = transform_xy(e, n, "EPSG:4547", "wgs84")
    assert np.max(_dist_m(lon, lat, *back)) < 1e-3


def test_web_mercator_vs_closed_form() -> None:
    lon, lat = np.array([116.391, -74.0, 7.42]), np.array([39.907, 40.7, 43.73])
    x, y = transform_xy(lon, lat, "4326", "3857")
    r = 6378137.0
    assert np.allclose(x, r * np.radians(lon), atol=1e-6)
    assert np.allclose(y, r * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)), atol=1e-6)
    assert np.allclose(transform_xy(x, y, "EPSG:3857", "wgs84"), (lon, lat), atol=1e-10)


def test_gcj_to_projected_and_cgcs2000() -> None:
    lon, lat = 114.30, 30.60  # Wuhan
    gx, gy = wgs84_to_gcj02(lon, lat)
    e, n = transform_xy(gx, gy, "gcj02", "EPSG:32650")
    ref = Transformer.from_crs(4326, 32650, always_xy=True).transform(lon, lat)
    assert np.hypot(e - ref[0], n - ref[1]) < 0.01
    # CGCS2000 lon/lat is taken as WGS-84
    assert transform_xy(lon, lat, "cgcs2000", "wgs84") == pytest.approx((lon, lat), abs=1e-9)


def test_transform_shapes_nan_and_errors() -> None:
    x, y = transform_xy([116.4, np.nan], [39.9, 39.9], "wgs84", "EPSG:4547")
    assert x.shape == (2,) and np.isnan(x[1]) and np.isnan(y[1])
    x0, _ = transform_xy(116.4, 39.9, "wgs84", "wgs84")
    assert x0.shape == () and float(x0) == 116.4
    # a projection that cannot take the point gives NaN, not inf
    bad = transform_xy(1e12, 1e12, "EPSG:4547", "wgs84")
    assert np.isnan(bad[0]) and np.isnan(bad[1])
    with pytest.raises(CrsError, match="do not broadcast"):
        transform_xy(np.zeros(3), np.zeros(2), "wgs84", "gcj02")
    with pytest.raises(CrsError, match="unknown CRS name 'nad27x'"):
        transform_xy(0.0, 0.0, "nad27x", "wgs84")


def test_transform_does_not_modify_input() -> None:
    x = np.array([116.4, 121.5])
    y = np.array([39.9, 31.2])
    out, _ = transform_xy(x, y, "wgs84", "wgs84")
    out[0] = 0.0
    assert x[0] == 116.4


# --- detect_lonlat_crs --------------------------------------------------------------------------

def _wuhan_points(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.uniform(114.0, 114.6, n), rng.uniform(30.4, 30.8, n)


def test_detect_normal_lonlat_in_china() -> None:
    lon, lat = _wuhan_points()
    d = detect_lonlat_crs(lon, lat)
    assert d.kind == "geographic"
    assert d.candidates == ["EPSG:4326", "EPSG:4490", "GCJ-02", "BD-09"]
    assert "datum unknown" in d.message and "cannot be told apart" in d.message
    d2 = detect_lonlat_crs(lon, lat, extent=WUHAN_EXTENT)
    assert d2.kind == "geographic" and "inside the expected area" in d2.message


def test_detect_lonlat_outside_china_cannot_confirm_order() -> None:
    d = detect_lonlat_crs([7.41, 7.43], [43.72, 43.75])  # Monaco
    assert d.kind == "geographic" and d.candidates == ["EPSG:4326"]
    assert "order cannot be confirmed" in d.message
    d2 = detect_lonlat_crs([43.72, 43.75], [7.41, 7.43], extent=(7.40, 43.72, 7.44, 43.76))
    assert d2.kind == "swapped" and "swapped 100% do" in d2.message


def test_detect_swapped_by_range() -> None:
    lon, lat = _wuhan_points()
    d = detect_lonlat_crs(lat, lon)
    assert d.kind == "swapped"
    assert "latitude/longitude swapped" in d.message and "put longitude in x" in d.message
    assert "GCJ-02" in d.candidates
    d2 = detect_lonlat_crs(lat, lon, extent=WUHAN_EXTENT)
    assert d2.kind == "swapped" and "100% of points fall in the expected area" in d2.message


def test_detect_gk_zone_prefixed() -> None:
    lon, lat = _wuhan_points()
    e, n = Transformer.from_crs(4326, 4526, always_xy=True).transform(lon, lat)
    assert np.all((e > 38_000_000) & (e < 39_000_000))
    d = detect_lonlat_crs(e, n)
    assert d.kind == "projected"
    assert d.candidates == ["EPSG:4526", "EPSG:2362", "EPSG:2414"]  # CGCS2000, Xian80, Beijing54
    assert "zone 38" in d.message and "114°E" in d.message and "EPSG:4526" in d.message
    d2 = detect_lonlat_crs(e, n, extent=WUHAN_EXTENT)
    assert d2.candidates[0] == "EPSG:4526"


def test_detect_gk6_prefixed_vs_web_mercator() -> None:
    # Shanghai in Web Mercator: x ≈ 13.5e6 reads like 6-degree GK zone 13 (far western China).
    x, y = transform_xy([121.4, 121.6], [31.1, 31.3], "wgs84", "3857")
    d = detect_lonlat_crs(x, y)
    assert d.kind == "projected"
    assert d.candidates[0] == "EPSG:4491" and "EPSG:3857" in d.candidates
    assert "Web Mercator" in d.message
    d2 = detect_lonlat_crs(x, y, extent=(121.0, 30.7, 122.0, 31.9))
    assert d2.candidates == ["EPSG:3857"]


def test_detect_utm_like() -> None:
    lon, lat = _wuhan_points()
    e, n = Transformer.from_crs(4326, 32650, always_xy=True).transform(lon, lat)
    d = detect_lonlat_crs(e, n)
    assert d.kind == "projected" and d.candidates == []
    assert "zone cannot be told" in d.message and "EPSG:4547" in d.message
    d2 = detect_lonlat_crs(e, n, extent=WUHAN_EXTENT)
    # UTM 50N and CGCS2000 6-degree GK CM 117E share the central meridian and false easting;
    # their scale factors differ by 0.04 % (~1 km here), so both fit the city
    assert d2.candidates == ["EPSG:32650", "EPSG:4509"]
    gk_e, gk_n = Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat)
    d3 = detect_lonlat_crs(gk_e, gk_n, extent=WUHAN_EXTENT)
    # GK CM 114E and UTM 50N (CM 117E) differ by ~300 km in easting: only the right one fits
    assert d3.candidates == ["EPSG:4547"]


@pytest.mark.parametrize(("x", "y", "match"), [
    ([1e9, 2e9], [3e9, 4e9], "neither degrees nor any projected grid"),
    ([114.3, 500_000.0], [30.6, 3_400_000.0], "mix magnitudes: 1 of 2 look like degrees"),
    ([np.nan, np.nan], [1.0, 2.0], "no usable coordinates.*2 point"),
    ([0.0, 0.0], [0.0, 0.0], r"no usable.*exactly \(0, 0\)"),
    ([], [], "no usable coordinates"),
])
def test_detect_garbage(x, y, match: str) -> None:
    d = detect_lonlat_crs(x, y)
    assert d.kind == "unknown" and d.candidates == []
    assert re.search(match, d.message), d.message


def test_detect_notes_placeholders_and_bad_extent() -> None:
    lon, lat = _wuhan_points(10)
    d = detect_lonlat_crs(np.append(lon, [0.0, np.nan]), np.append(lat, [0.0, 30.0]))
    assert d.kind == "geographic"
    assert "1 point(s) at exactly (0, 0) ignored" in d.message
    assert "1 point(s) with missing coordinates ignored" in d.message
    with pytest.raises(CrsError, match="extent must be"):
        detect_lonlat_crs(lon, lat, extent=(115.0, 30.0, 114.0, 31.0))


def test_detect_geographic_outside_expected_area() -> None:
    lon, lat = _wuhan_points()
    d = detect_lonlat_crs(lon + 5.0, lat, extent=WUHAN_EXTENT)
    assert d.kind == "geographic" and "only 0% fall in the expected area" in d.message
