"""GCJ-02 / BD-09 conversions against published values and an independent scalar evaluation."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
from pyproj import Geod

from gis.chinacrs import (
    CHINA_BOX_DEG,
    ChinaCrsError,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


# --- an independent scalar evaluation of the published formulas (plain math, one point) -------

# (amplitude, frequency in half-turns per degree) of the sine terms, applied to x (= lon - 105)
# or y (= lat - 35); every sine group is scaled by 2/3 in the published formula.
_NORTH_SINES = [("x", 20.0, 6.0), ("x", 20.0, 2.0), ("y", 20.0, 1.0), ("y", 40.0, 1 / 3),
                ("y", 160.0, 1 / 12), ("y", 320.0, 1 / 30)]
_EAST_SINES = [("x", 20.0, 6.0), ("x", 20.0, 2.0), ("x", 20.0, 1.0), ("x", 40.0, 1 / 3),
               ("x", 150.0, 1 / 12), ("x", 300.0, 1 / 30)]


def _ref_wgs_to_gcj(lon: float, lat: float) -> tuple[float, float]:
    west, south, east, north = 72.004, 0.8293, 137.8347, 55.8271
    if not (west <= lon <= east and south <= lat <= north):
        return lon, lat
    v = {"x": lon - 105.0, "y": lat - 35.0}
    x, y = v["x"], v["y"]
    north_m = -100.0 + 2 * x + 3 * y + 0.2 * y**2 + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    east_m = 300.0 + x + 2 * y + 0.1 * x**2 + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    for terms, acc in ((_NORTH_SINES, "n"), (_EAST_SINES, "e")):
        s = sum(amp * math.sin(freq * math.pi * v[var]) for var, amp, freq in terms) * 2 / 3
        if acc == "n":
            north_m += s
        else:
            east_m += s
    a, e2 = 6378245.0, 0.00669342162296594323
    sin_lat = math.sin(lat * math.pi / 180)
    rho = a * (1 - e2) / (1 - e2 * sin_lat**2) ** 1.5  # meridian radius of curvature
    nu = a / math.sqrt(1 - e2 * sin_lat**2)  # prime vertical radius of curvature
    return (lon + east_m / (nu * math.cos(lat * math.pi / 180)) * 180 / math.pi,
            lat + north_m / rho * 180 / math.pi)


def _ref_gcj_to_bd(lon: float, lat: float) -> tuple[float, float]:
    k = 3000 * math.pi / 180
    w = complex(lon, lat)
    b = cmath.rect(abs(w) + 2e-5 * math.sin(lat * k), cmath.phase(w) + 3e-6 * math.cos(lon * k))
    return b.real + 0.0065, b.imag + 0.006


# --- helpers ----------------------------------------------------------------------------------

def _dist_m(lon0, lat0, lon1, lat1) -> np.ndarray:
    return np.asarray(GEOD.inv(lon0, lat0, lon1, lat1)[2])


def _china_points(n: int, seed: int, margin_deg: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    west, south, east, north = CHINA_BOX_DEG
    rng = np.random.default_rng(seed)
    return (rng.uniform(west + margin_deg, east - margin_deg, n),
            rng.uniform(south + margin_deg, north - margin_deg, n))


# --- published reference values -----------------------------------------------------------------

def test_published_pairs_from_coordtransform_readme() -> None:
    # The README of the open-source "coordtransform" library (wandergis) lists these for the
    # input (116.404, 39.915). Its forward formulas are the published ones: exact agreement.
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12)
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12)
    # Its inverses are one-step approximations good to ~1e-6°; ours are exact, so they agree only
    # to that level, and ours maps back onto the input where the approximations do not.
    assert gcj02_to_wgs84(116.404, 39.915) == pytest.approx(
        (116.39775550083061, 39.91359571849836), abs=1e-6)
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-6)
    assert wgs84_to_gcj02(*gcj02_to_wgs84(116.404, 39.915)) == pytest.approx(
        (116.404, 39.915), abs=1e-10)
    assert gcj02_to_bd09(*bd09_to_gcj02(116.404, 39.915)) == pytest.approx(
        (116.404, 39.915), abs=1e-10)


def test_forward_matches_independent_scalar_evaluation() -> None:
    west, south, east, north = CHINA_BOX_DEG
    rng = np.random.default_rng(7)
    # Beyond the box on every side too, so that the box test is compared as well.
    lon = rng.uniform(west - 3, east + 3, 3000)
    lat = rng.uniform(south - 3, north + 3, 3000)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = gcj02_to_bd09(lon, lat)
    ref_g = np.array([_ref_wgs_to_gcj(x, y) for x, y in zip(lon, lat, strict=True)])
    ref_b = np.array([_ref_gcj_to_bd(x, y) for x, y in zip(lon, lat, strict=True)])
    assert np.max(np.abs(g_lon - ref_g[:, 0])) < 1e-11
    assert np.max(np.abs(g_lat - ref_g[:, 1])) < 1e-11
    assert np.max(np.abs(b_lon - ref_b[:, 0])) < 1e-11
    assert np.max(np.abs(b_lat - ref_b[:, 1])) < 1e-11
    assert np.any(g_lon == lon) and np.any(g_lon != lon)  # both sides of the box were sampled


# --- inverses -----------------------------------------------------------------------------------

def test_gcj_inverse_round_trips_below_1cm_on_10000_points() -> None:
    lon, lat = _china_points(10_000, seed=1)
    # inverse(forward(p)) == p
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.max(_dist_m(lon, lat, *back)) < 0.01
    # forward(inverse(p)) == p, p read as GCJ-02
    again = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert np.max(_dist_m(lon, lat, *again)) < 0.01
    assert np.max(np.abs(again[0] - lon)) < 2e-9 and np.max(np.abs(again[1] - lat)) < 2e-9


def test_bd_inverse_round_trips_below_1cm_on_10000_points() -> None:
    lon, lat = _china_points(10_000, seed=2)
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert np.max(_dist_m(lon, lat, *back)) < 0.01
    again = gcj02_to_bd09(*bd09_to_gcj02(lon, lat))
    assert np.max(_dist_m(lon, lat, *again)) < 0.01
    back_w = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.max(_dist_m(lon, lat, *back_w)) < 0.01
    again_w = wgs84_to_bd09(*bd09_to_wgs84(lon, lat))
    assert np.max(_dist_m(lon, lat, *again_w)) < 0.01


def test_composites_are_the_two_steps() -> None:
    lon, lat = _china_points(500, seed=3)
    assert np.array_equal(wgs84_to_bd09(lon, lat), gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
    assert np.array_equal(bd09_to_wgs84(lon, lat), gcj02_to_wgs84(*bd09_to_gcj02(lon, lat)))


# --- offset magnitudes ---------------------------------------------------------------------------

def test_offset_magnitude_over_the_box() -> None:
    lon, lat = _china_points(10_000, seed=4, margin_deg=0.0)
    d = _dist_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    # The formula is never zero inside the box; its smallest values (~50 m) are near 97°E 37°N
    # (Qaidam basin), its largest (~735 m) at the box's north-east corner.
    assert d.min() > 1.0
    assert d.max() < 750.0


@pytest.mark.parametrize(("lon", "lat"), [
    (116.391, 39.907), (121.47, 31.23), (113.26, 23.13), (114.06, 22.54), (114.30, 30.60),
    (104.07, 30.67), (108.94, 34.34), (87.62, 43.83), (91.11, 29.65), (126.64, 45.76),
    (102.83, 25.04), (101.78, 36.62), (110.35, 20.02),
])
def test_city_offsets_are_hundreds_of_metres(lon: float, lat: float) -> None:
    d = float(_dist_m(lon, lat, *wgs84_to_gcj02(lon, lat)))
    assert 150.0 < d < 700.0


@pytest.mark.parametrize(("lon", "lat"), [(7.42, 43.73), (-74.0, 40.7), (151.21, -33.87),
                                          (139.69, 35.69), (0.0, 0.0), (180.0, 90.0)])
def test_no_gcj_offset_outside_the_box(lon: float, lat: float) -> None:
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_bd09_shift_applies_outside_china_too() -> None:
    lon, lat = 7.42, 43.73  # Monaco
    b = wgs84_to_bd09(lon, lat)
    assert b == gcj02_to_bd09(lon, lat)
    assert 300.0 < float(_dist_m(lon, lat, *b)) < 1500.0
    assert bd09_to_wgs84(*b) == pytest.approx((lon, lat), abs=1e-10)


def test_just_outside_the_box_is_unchanged() -> None:
    assert gcj02_to_wgs84(71.99, 30.0) == (71.99, 30.0)
    assert wgs84_to_gcj02(100.0, 55.83) == (100.0, 55.83)


# --- in_china -----------------------------------------------------------------------------------

def test_in_china_box() -> None:
    west, south, east, north = CHINA_BOX_DEG
    assert in_china(116.4, 39.9) is True
    assert in_china(west, south) is True and in_china(east, north) is True
    assert in_china(126.98, 37.57) is True  # Seoul: the box is not a border
    assert in_china(139.69, 35.69) is False  # Tokyo
    assert in_china(float("nan"), 30.0) is False
    mask = in_china(np.array([116.4, 7.42, np.nan]), np.array([39.9, 43.73, 30.0]))
    assert mask.tolist() == [True, False, False]


# --- input handling -----------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02,
                                wgs84_to_bd09, bd09_to_wgs84])
def test_shapes_scalars_and_nan(fn) -> None:
    x, y = fn(116.4, 39.9)
    assert type(x) is float and type(y) is float
    lon = np.array([[116.4, np.nan], [121.5, np.inf]])
    lat = np.array([[39.9, 31.2], [np.nan, 31.2]])
    out_lon, out_lat = fn(lon, lat)
    assert out_lon.shape == (2, 2) and out_lat.dtype == np.float64
    assert np.isnan(out_lon[0, 1]) and np.isnan(out_lat[0, 1])
    assert np.isnan(out_lon[1, 0]) and np.isnan(out_lat[1, 1])
    assert (out_lon[0, 0], out_lat[0, 0]) == pytest.approx(fn(116.4, 39.9), abs=1e-12)
    # lists, and broadcasting a scalar latitude
    lons, lats = fn([116.4, 116.5], 39.9)
    assert lons.shape == (2,) and lats[0] == pytest.approx(fn(116.4, 39.9)[1], abs=1e-12)
    with pytest.raises(ChinaCrsError, match=r"shape \(3,\).*\(2,\).*do not broadcast"):
        fn(np.zeros(3), np.zeros(2))


def test_inputs_are_not_modified() -> None:
    lon, lat = _china_points(100, seed=5)
    lon0, lat0 = lon.copy(), lat.copy()
    gcj02_to_wgs84(lon, lat)
    bd09_to_wgs84(lon, lat)
    assert np.array_equal(lon, lon0) and np.array_equal(lat, lat0)


def test_empty_arrays() -> None:
    x, y = gcj02_to_wgs84(np.array([]), np.array([]))
    assert x.shape == (0,) and y.shape == (0,)
