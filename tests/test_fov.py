"""gis.fov against hand-computed optics and independent geometry (dense point sampling)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Proj, Transformer

from gis.fov import (
    DEFAULT_MOUNT_HEIGHT_M,
    DEFAULT_TILT_DEG,
    DORI_PPM,
    LEVELS,
    FovError,
    camera_sectors,
    fov_deg,
    ground_band_m,
    lens_report,
    max_slant_range_m,
)

UTM32N = CRS.from_epsg(32632)
# On the central meridian of UTM 32N (9° E) grid north is true north, so expected bearings
# in most tests need no convergence correction.
CM_X, CM_Y = 500_000.0, 4_840_000.0


def _cameras(rows: list[dict[str, Any]], crs: CRS = UTM32N) -> gpd.GeoDataFrame:
    base: dict[str, Any] = {
        "mount_height_m": 6.0, "azimuth_deg": 0.0, "tilt_deg": 10.0, "hfov_deg": 70.0,
        "sensor_width_mm": 5.6, "sensor_height_mm": 3.1, "focal_length_mm": 4.0,
        "resolution_w_px": 2560, "resolution_h_px": 1440, "any_direction": False,
        "camera_type": "fixed", "ptz_presets": [], "x": CM_X, "y": CM_Y,
    }
    full = [{**base, "camera_id": f"c{i}", **r} for i, r in enumerate(rows)]
    frame = gpd.GeoDataFrame(full, geometry=gpd.points_from_xy([r["x"] for r in full],
                                                               [r["y"] for r in full]), crs=crs)
    return frame.drop(columns=["x", "y"])


def _band_by_hand(h: float, tilt: float, vfov: float, slant: float) -> tuple[float, float]:
    """DOMAIN §2 formulas for a target plane below the lens, written out for one case."""
    lo, hi = tilt + vfov / 2.0, tilt - vfov / 2.0
    near = 0.0 if lo >= 90.0 else h / math.tan(math.radians(lo))
    far_geom = math.inf if hi <= 0.0 else h / math.tan(math.radians(hi))
    far = min(far_geom, math.sqrt(slant**2 - h**2)) if slant > h else math.nan
    return (near, far) if near < far else (math.nan, math.nan)


def _in_sector(px: np.ndarray, py: np.ndarray, cx: float, cy: float, az: float, hfov: float,
               near: float, far: float) -> np.ndarray:
    """Analytic membership: distance in [near, far] and bearing within hfov/2 of az."""
    dx, dy = px - cx, py - cy
    r = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy))
    off = np.abs((bearing - az + 180.0) % 360.0 - 180.0)
    return (r >= near) & (r <= far) & (off <= hfov / 2.0)


def _grid(cx: float, cy: float, half: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    v = np.arange(-half, half + step / 2, step)
    gx, gy = np.meshgrid(cx + v, cy + v)
    return gx.ravel(), gy.ravel()


def _boundary_distance(px: np.ndarray, py: np.ndarray, cx: float, cy: float, az: float,
                       hfov: float, near: float, far: float) -> np.ndarray:
    """Distance from each point to the exact (curved) boundary of the annular sector."""
    dx, dy = px - cx, py - cy
    r = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy))
    off = np.radians(np.abs((bearing - az + 180.0) % 360.0 - 180.0))
    half = math.radians(hfov / 2.0)
    # arcs: radial distance when within the angular span
    d_arc = np.where(off <= half, np.minimum(np.abs(r - far), np.abs(r - near)), np.inf)
    # edge rays: distance to the segments [near, far] along bearings az ± hfov/2
    d_edge = np.full(px.shape, np.inf)
    for a in (az - hfov / 2.0, az + hfov / 2.0):
        ux, uy = math.sin(math.radians(a)), math.cos(math.radians(a))
        t = np.clip(dx * ux + dy * uy, near, far)
        d_edge = np.minimum(d_edge, np.hypot(dx - t * ux, dy - t * uy))
    return np.minimum(d_arc, d_edge)


# --------------------------------------------------------------------------- lens optics


def test_fov_deg_by_hand() -> None:
    hfov, vfov = fov_deg(5.6, 3.15, 4.0)
    assert hfov == pytest.approx(2.0 * math.degrees(math.atan(0.7)))
    assert vfov == pytest.approx(2.0 * math.degrees(math.atan(3.15 / 8.0)))
    assert round(hfov, 1) == 70.0
    h_arr, v_arr = fov_deg(np.array([5.6, 7.2]), np.array([3.1, 5.4]), 8.0)
    assert h_arr == pytest.approx([2 * math.degrees(math.atan(0.35)),
                                   2 * math.degrees(math.atan(0.45))])
    assert v_arr.shape == (2,)


def test_max_slant_range_equals_nf_over_w_ppm() -> None:
    w, f, n = 5.6, 4.0, 2560
    hfov = 2.0 * math.degrees(math.atan(w / (2 * f)))
    ppm = np.array(list(DORI_PPM.values()))
    assert max_slant_range_m(n, hfov, ppm) == pytest.approx(n * f / (w * ppm))


def test_worked_case_from_domain() -> None:
    report = lens_report(5.6, 4.0, 2560, sensor_height_mm=3.15, mount_height_m=6.0,
                         tilt_deg=10.0, target_height_m=1.6)
    json.dumps(report, allow_nan=False)  # JSON-safe: no NaN / inf anywhere
    assert round(report["hfov_deg"], 1) == 70.0
    levels = report["levels"]
    assert list(levels) == list(LEVELS)
    expected = {"detect": 73.1, "observe": 29.3, "recognise": 14.6, "identify": 7.3}
    for name, d in expected.items():
        assert round(levels[name]["max_slant_m"], 1) == d
        assert levels[name]["ppm"] == DORI_PPM[name]
    # H - t = 4.4 m; VFOV = 2 atan(3.15 / 8) = 42.98°; the face plane starts at 7.2 m.
    near = 4.4 / math.tan(math.radians(10.0 + math.degrees(math.atan(3.15 / 8.0))))
    assert round(near, 1) == 7.2
    for name in ("detect", "observe", "recognise"):
        assert levels[name]["possible"] is True
        assert levels[name]["ground_near_m"] == pytest.approx(near, abs=1e-3)
        d = 2560 * 4.0 / (5.6 * DORI_PPM[name])
        assert levels[name]["ground_far_m"] == pytest.approx(math.sqrt(d**2 - 4.4**2), abs=1e-3)
    identify = levels["identify"]
    assert identify["possible"] is False
    assert identify["ground_near_m"] is None and identify["ground_far_m"] is None
    # 7.3 m slant reaches only 5.8 m on the ground, short of the 7.2 m where the frame starts.
    assert identify["ground_range_m"] == pytest.approx(math.sqrt((10240 / 1400) ** 2 - 4.4**2),
                                                       abs=1e-3)


def test_lens_report_without_height_or_tilt() -> None:
    report = lens_report(5.6, 4.0, 2560)
    json.dumps(report, allow_nan=False)
    assert report["vfov_deg"] is None
    assert all(v["possible"] is None and v["ground_near_m"] is None
               for v in report["levels"].values())
    with pytest.raises(FovError, match="sensor_height_mm"):
        lens_report(5.6, 4.0, 2560, mount_height_m=6.0, tilt_deg=10.0)
    with pytest.raises(FovError, match="focal_length_mm must be a positive"):
        lens_report(5.6, 0.0, 2560)


# --------------------------------------------------------------------------- tilt band


def test_tilt_band_by_hand() -> None:
    # H = 10, t = 0, tau = 30°, VFOV = 20°: the frame meets the ground from 10/tan 40°
    # to 10/tan 20°; without a pixel-density limit that is the band.
    near, far = ground_band_m(10.0, 30.0, 20.0, 0.0, math.inf)
    assert near == pytest.approx(10.0 / math.tan(math.radians(40.0)))  # 11.92 m
    assert far == pytest.approx(10.0 / math.tan(math.radians(20.0)))  # 27.47 m
    # A 20 m slant limit reaches sqrt(400 - 100) = 17.32 m on the ground, inside the frame.
    near, far = ground_band_m(10.0, 30.0, 20.0, 0.0, 20.0)
    assert (near, far) == pytest.approx((11.918, math.sqrt(300.0)), abs=1e-3)
    # 15 m slant -> 11.18 m ground < 11.92 m near edge: impossible.
    assert all(math.isnan(v) for v in ground_band_m(10.0, 30.0, 20.0, 0.0, 15.0))


def test_tilt_band_edge_cases() -> None:
    # Frame reaches the horizon (tau <= VFOV/2): only the slant limit bounds it.
    near, far = ground_band_m(5.0, 5.0, 20.0, 0.0, 50.0)
    assert near == pytest.approx(5.0 / math.tan(math.radians(15.0)))
    assert far == pytest.approx(math.sqrt(2500.0 - 25.0))
    # Looking straight down: the frame contains the nadir, near = 0.
    near, far = ground_band_m(5.0, 90.0, 40.0, 0.0, math.inf)
    assert near == 0.0
    assert far == pytest.approx(5.0 / math.tan(math.radians(70.0)))
    # Whole frame above the horizon: never sees the ground.
    assert math.isnan(ground_band_m(5.0, -30.0, 20.0, 0.0, 100.0)[0])
    # Looking up a little still sees the ground through the lower half of the frame.
    near, far = ground_band_m(5.0, -5.0, 20.0, 0.0, 100.0)
    assert near == pytest.approx(5.0 / math.tan(math.radians(5.0)))
    # Slant limit no longer than the height: nothing on the plane is resolved.
    assert math.isnan(ground_band_m(5.0, 45.0, 60.0, 0.0, 5.0)[1])
    # Target plane above the lens (camera at 1.2 m, faces at 1.6 m), looking level: mirror.
    near, far = ground_band_m(1.2, 0.0, 50.0, 1.6, 10.0)
    assert near == pytest.approx(0.4 / math.tan(math.radians(25.0)))
    assert far == pytest.approx(math.sqrt(100.0 - 0.16))
    # ... and looking down 40° with a 50° frame it cannot see above itself.
    assert math.isnan(ground_band_m(1.2, 40.0, 50.0, 1.6, 10.0)[0])
    # Plane at lens height: seen edge-on from 0 to D when the horizontal is in frame.
    assert ground_band_m(1.6, 0.0, 30.0, 1.6, 12.0) == pytest.approx((0.0, 12.0))
    assert math.isnan(ground_band_m(1.6, 40.0, 30.0, 1.6, 12.0)[0])


def test_tilt_band_vectorised_and_validated() -> None:
    near, far = ground_band_m(np.array([10.0, 10.0]), 30.0, 20.0, 0.0, np.array([20.0, 15.0]))
    assert near[0] == pytest.approx(11.918, abs=1e-3) and np.isnan(near[1]) and np.isnan(far[1])
    with pytest.raises(FovError, match="tilt_deg must be in"):
        ground_band_m(5.0, 120.0, 20.0, 0.0, 10.0)
    with pytest.raises(FovError, match="vfov_deg"):
        ground_band_m(5.0, 10.0, 0.0, 0.0, 10.0)
    with pytest.raises(FovError, match="do not broadcast"):
        ground_band_m(np.ones(3), 10.0, np.ones(2), 0.0, 10.0)
    with pytest.raises(FovError, match="hfov_deg must be in"):
        max_slant_range_m(1920, 180.0, 25.0)


# --------------------------------------------------------------------------- sectors


def _vfov_from_sensor(h: float = 3.1, f: float = 4.0) -> float:
    return 2.0 * math.degrees(math.atan(h / (2.0 * f)))


def test_sector_rows_match_hand_band() -> None:
    cams = _cameras([{"azimuth_deg": 45.0, "mount_height_m": 6.0, "tilt_deg": 10.0}])
    sectors, messages = camera_sectors(cams)
    assert messages == []
    assert sectors.crs == cams.crs
    assert list(sectors.columns) == ["camera_id", "level", "near_m", "far_m", "azimuth_deg",
                                     "hfov_deg", "coverage_kind", "geometry"]
    vfov = _vfov_from_sensor()
    for row in sectors.itertuples():
        slant = 2560 * 4.0 / (5.6 * DORI_PPM[row.level])
        near, far = _band_by_hand(6.0, 10.0, vfov, slant)
        assert (row.near_m, row.far_m) == pytest.approx((near, far))
        assert row.azimuth_deg == pytest.approx(45.0, abs=1e-6)
    expected_levels = [lv for lv in LEVELS
                       if not math.isnan(_band_by_hand(6.0, 10.0, vfov,
                                                       10240 / (5.6 * DORI_PPM[lv]))[0])]
    assert list(sectors["level"]) == expected_levels


def test_identify_impossible_is_omitted() -> None:
    # The DOMAIN worked camera at 6 m, 10° down, faces at 1.6 m: identify cannot happen.
    cams = _cameras([{"sensor_height_mm": 3.15, "resolution_h_px": 1440}])
    sectors, _ = camera_sectors(cams, target_height_m=1.6)
    assert list(sectors["level"]) == ["detect", "observe", "recognise"]
    assert sectors["near_m"].iloc[0] == pytest.approx(7.18, abs=0.01)


def test_levels_are_nested() -> None:
    cams = _cameras([
        {"azimuth_deg": 30.0, "mount_height_m": 4.0, "tilt_deg": 20.0},
        {"azimuth_deg": 200.0, "mount_height_m": 3.0, "tilt_deg": 60.0, "hfov_deg": 100.0,
         "sensor_width_mm": 5.6, "focal_length_mm": 5.6 / (2 * math.tan(math.radians(50)))},
        {"camera_type": "ptz", "tilt_deg": 12.0, "ptz_presets": [
            {"name": "a", "azimuth_deg": 0.0, "tilt_deg": 5.0},
            {"name": "b", "azimuth_deg": 120.0, "tilt_deg": 30.0}]},
        {"any_direction": True, "camera_type": "dome", "tilt_deg": 25.0},
    ])
    sectors, _ = camera_sectors(cams)
    for cam_id, rows in sectors.groupby("camera_id"):
        geoms = dict(zip(rows["level"], rows.geometry, strict=True))
        present = [lv for lv in LEVELS if lv in geoms]
        assert len(present) >= 3, cam_id
        assert present == list(LEVELS[: len(present)])  # only the tightest ones drop out
        for loose, tight in zip(present, present[1:], strict=False):
            outside = shapely.difference(geoms[tight], geoms[loose]).area
            assert outside < 1e-6, (cam_id, tight, loose, outside)
            assert geoms[tight].area <= geoms[loose].area


def test_meridian_convergence_rotates_to_grid_north() -> None:
    lon, lat = 11.9, 43.7  # 2.9° east of the UTM 32N central meridian
    x, y = Transformer.from_crs(4326, UTM32N, always_xy=True).transform(lon, lat)
    convergence = Proj(UTM32N).get_factors(lon, lat).meridian_convergence
    assert convergence == pytest.approx(2.0, abs=0.05)
    # A narrow (2°) camera aimed at true north, mount and tilt chosen so 50 m is in frame.
    cams = _cameras([{"x": x, "y": y, "azimuth_deg": 0.0, "hfov_deg": 2.0, "mount_height_m": 2.0,
                      "tilt_deg": 2.0, "sensor_width_mm": np.nan, "focal_length_mm": np.nan,
                      "sensor_height_mm": np.nan, "resolution_w_px": 1920,
                      "resolution_h_px": 1080}])
    sectors, _ = camera_sectors(cams, levels=("detect",))
    row = sectors.iloc[0]
    assert row.azimuth_deg == pytest.approx((-convergence) % 360.0, abs=0.01)  # ≈ 358.0
    assert row.near_m < 50.0 < row.far_m
    # The point 50 m true-north of the camera (geodesic), projected, is inside the sector...
    lon_n, lat_n, _ = Geod(ellps="WGS84").fwd(lon, lat, 0.0, 50.0)
    xn, yn = Transformer.from_crs(4326, UTM32N, always_xy=True).transform(lon_n, lat_n)
    assert row.geometry.contains(shapely.Point(xn, yn))
    # ... while the point 50 m grid-north is 2° off and outside the ±1° sector.
    assert not row.geometry.contains(shapely.Point(x, y + 50.0))


@pytest.mark.parametrize(("hfov", "near_zero"), [(70.0, False), (70.0, True), (250.0, False),
                                                 (250.0, True), (359.0, True)])
def test_sector_area_and_shape_by_sampling(hfov: float, near_zero: bool) -> None:
    # tilt 90° (straight down) puts the nadir in frame (near 0); 20° leaves a gap below.
    tilt = 90.0 if near_zero else 20.0
    focal = 5.6 / (2.0 * math.tan(math.radians(min(hfov, 120.0) / 2.0)))
    cams = _cameras([{"azimuth_deg": 100.0, "hfov_deg": hfov, "tilt_deg": tilt,
                      "mount_height_m": 3.0, "focal_length_mm": focal, "sensor_height_mm": 5.6,
                      "resolution_w_px": 4000}])
    step = 2.0
    sectors, _ = camera_sectors(cams, levels=("detect",), arc_step_deg=step)
    row = sectors.iloc[0]
    geom = row.geometry
    assert shapely.is_valid(geom) and geom.geom_type == "Polygon"
    assert bool(row.near_m == 0.0) is near_zero
    near, far = row.near_m, row.far_m
    analytic = math.pi * (far**2 - near**2) * hfov / 360.0
    delta = math.radians(hfov / math.ceil(hfov / step))
    chord = math.sin(delta) / delta  # inscribed-arc area factor
    # far arc inscribed (area low), near arc chords cut into the hole (area high)
    lo = (math.pi * (far**2 * chord - near**2) * hfov / 360.0)
    hi = (math.pi * (far**2 - near**2 * chord) * hfov / 360.0)
    assert lo - 1e-6 <= geom.area <= hi + 1e-6
    assert geom.area == pytest.approx(analytic, rel=1e-3)
    # Dense sampling: polygon membership equals the analytic sector except within the arc
    # sagitta (far·(1 − cos(δ/2))) of the curved boundary.
    px, py = _grid(CM_X, CM_Y, far * 1.05, far / 300.0)
    inside_poly = shapely.contains_xy(geom, px, py)
    inside_true = _in_sector(px, py, CM_X, CM_Y, 100.0, hfov, near, far)
    assert inside_true.sum() > 10_000
    differ = inside_poly != inside_true
    sagitta = far * (1.0 - math.cos(delta / 2.0))
    dist = _boundary_distance(px[differ], py[differ], CM_X, CM_Y, 100.0, hfov, near, far)
    assert np.all(dist <= sagitta + 1e-6)
    assert differ.mean() < 1e-3


def test_ptz_union_covers_each_preset() -> None:
    presets = [{"name": "north", "azimuth_deg": 0.0, "tilt_deg": 10.0},
               {"name": "east", "azimuth_deg": 90.0, "tilt_deg": 20.0},
               {"name": "south-west", "azimuth_deg": 225.0}]  # no tilt: the camera's 15°
    lens = {"sensor_width_mm": 5.6, "sensor_height_mm": 3.1, "focal_length_mm": 4.8,
            "hfov_deg": 2 * math.degrees(math.atan(5.6 / 9.6)), "resolution_w_px": 1920,
            "resolution_h_px": 1080}
    cams = _cameras([{"camera_type": "ptz", "any_direction": True, "azimuth_deg": np.nan,
                      "mount_height_m": 7.0, "tilt_deg": 15.0, "ptz_presets": presets,
                      **lens}])
    sectors, messages = camera_sectors(cams)
    assert messages == []
    assert set(sectors["coverage_kind"]) == {"presets"}
    vfov = _vfov_from_sensor(3.1, 4.8)
    hfov = lens["hfov_deg"]
    for row in sectors.itertuples():
        union = row.geometry
        assert shapely.is_valid(union)
        slant = 1920 * 4.8 / (5.6 * DORI_PPM[row.level])
        px, py = _grid(CM_X, CM_Y, 90.0, 0.5)
        expect = np.zeros(px.shape, dtype=bool)
        for p in presets:
            near, far = _band_by_hand(7.0, float(p.get("tilt_deg", 15.0)), vfov, slant)
            if math.isnan(near):
                continue
            inside = _in_sector(px, py, CM_X, CM_Y, p["azimuth_deg"], hfov, near, far)
            # every preset's own sector (minus the arc sagitta) is in the union
            sag = far * (1 - math.cos(math.radians(1.0)))
            deep = inside & (_boundary_distance(px, py, CM_X, CM_Y, p["azimuth_deg"], hfov,
                                                near, far) > sag + 1e-6)
            assert shapely.contains_xy(union, px[deep], py[deep]).all(), (row.level, p)
            expect |= inside
        got = shapely.contains_xy(union, px, py)
        assert np.mean(got != expect) < 2e-3  # and nothing else
    # The camera's own near/far span the presets' bands.
    detect = sectors[sectors["level"] == "detect"].iloc[0]
    assert detect.near_m == pytest.approx(_band_by_hand(7.0, 20.0, vfov, 1e9)[0])


def test_presets_or_ring_for_any_direction_ptz() -> None:
    presets = [{"name": "p", "azimuth_deg": 0.0, "tilt_deg": 15.0}]
    cams = _cameras([{"camera_type": "ptz", "any_direction": True, "ptz_presets": presets}])
    by_presets, _ = camera_sectors(cams, levels=("detect",))
    as_ring, _ = camera_sectors(cams, levels=("detect",), ptz_coverage="any_direction")
    assert by_presets["coverage_kind"].tolist() == ["presets"]
    assert as_ring["coverage_kind"].tolist() == ["ring"]
    assert as_ring.geometry.iloc[0].area > 4 * by_presets.geometry.iloc[0].area


def test_ring_for_any_direction_and_panoramic() -> None:
    cams = _cameras([
        {"any_direction": True, "camera_type": "dome", "azimuth_deg": np.nan,
         "mount_height_m": 8.0, "tilt_deg": 20.0},
        # demo-shaped 4-sensor panoramic head: hfov_deg is the total, optics are per sensor
        {"camera_type": "panoramic", "hfov_deg": 360.0, "focal_length_mm": 2.8,
         "resolution_w_px": 1920, "resolution_h_px": 1080, "azimuth_deg": np.nan,
         "mount_height_m": 10.0, "tilt_deg": 15.0},
    ])
    sectors, messages = camera_sectors(cams, levels=("detect",))
    assert messages == []
    assert sectors["coverage_kind"].tolist() == ["ring", "ring"]
    dome, pano = sectors.iloc[0], sectors.iloc[1]
    near, far = _band_by_hand(8.0, 20.0, _vfov_from_sensor(), 2560 * 4.0 / (5.6 * 25.0))
    assert (dome.near_m, dome.far_m) == pytest.approx((near, far))
    # per-sensor pinhole: D = N·f/(w·ppm) = 1920·2.8/(5.6·25) = 38.4 m; 10 m mount
    near, far = _band_by_hand(10.0, 15.0, _vfov_from_sensor(3.1, 2.8), 38.4)
    assert (pano.near_m, pano.far_m) == pytest.approx((near, far))
    for row in (dome, pano):
        g = row.geometry
        assert shapely.is_valid(g) and len(g.interiors) == 1
        assert g.area == pytest.approx(math.pi * (row.far_m**2 - row.near_m**2), rel=2e-3)
        bearings = np.radians(np.arange(0.0, 360.0, 7.5))
        mid = (row.near_m + row.far_m) / 2.0
        assert shapely.contains_xy(g, CM_X + mid * np.sin(bearings),
                                   CM_Y + mid * np.cos(bearings)).all()
        assert not g.contains(shapely.Point(CM_X + row.near_m / 2.0, CM_Y))  # the hole


def test_unknown_azimuth_skip_or_ring_is_reported() -> None:
    cams = _cameras([{"azimuth_deg": np.nan}, {"azimuth_deg": np.nan}, {"azimuth_deg": 90.0}])
    skipped, messages = camera_sectors(cams, levels=("detect",))
    assert skipped["camera_id"].tolist() == ["c2"]
    assert len(messages) == 1
    assert messages[0].startswith("2 cameras with unknown azimuth_deg")
    assert "skipped" in messages[0] and "c0, c1" in messages[0]
    rings, messages = camera_sectors(cams, levels=("detect",), unknown_azimuth="ring")
    assert rings["coverage_kind"].tolist() == ["ring", "ring", "sector"]
    assert len(messages) == 1 and "full ring" in messages[0] and "c0, c1" in messages[0]


def test_missing_values_take_reported_defaults() -> None:
    cams = _cameras([{"tilt_deg": np.nan, "mount_height_m": np.nan, "hfov_deg": np.nan,
                      "sensor_width_mm": np.nan, "sensor_height_mm": np.nan,
                      "focal_length_mm": np.nan, "resolution_w_px": np.nan,
                      "resolution_h_px": np.nan},
                     {"focal_length_mm": -4.0}])
    sectors, messages = camera_sectors(cams, levels=("detect",))
    text = "\n".join(messages)
    assert f"1 camera without tilt_deg: assumed {DEFAULT_TILT_DEG}° down (camera_id c0)" in text
    assert f"without mount_height_m: assumed {DEFAULT_MOUNT_HEIGHT_M} m" in text
    assert "without sensor_width_mm" in text and "5.6 mm" in text
    assert "without focal_length_mm" in text and "4.0 mm" in text
    assert "without resolution_w_px: assumed 1920 px" in text
    assert "16:9" in text
    assert "focal_length_mm not a positive length in mm: treated as unknown (camera_id c1)" in text
    # c0 is drawn with 5.6 mm / 4 mm / 1920 px / 16:9 / 5 m / 15°, computed here by hand.
    th = 5.6 / 8.0
    vfov = 2.0 * math.degrees(math.atan(th * 1080 / 1920))
    near, far = _band_by_hand(5.0, 15.0, vfov, 1920 / (2 * 25.0 * th))
    row = sectors[sectors["camera_id"] == "c0"].iloc[0]
    assert (row.near_m, row.far_m) == pytest.approx((near, far))
    assert row.hfov_deg == pytest.approx(2 * math.degrees(math.atan(th)))
    # c1 keeps its hfov_deg (70°) and derives the range from it.
    row = sectors[sectors["camera_id"] == "c1"].iloc[0]
    assert row.hfov_deg == 70.0


def test_input_errors() -> None:
    cams = _cameras([{}])
    with pytest.raises(FovError, match="not a projected CRS in metres"):
        camera_sectors(cams.to_crs(4326))
    with pytest.raises(FovError, match="unknown DORI level"):
        camera_sectors(cams, levels=("inspect",))
    with pytest.raises(FovError, match="at least one"):
        camera_sectors(cams, levels=())
    with pytest.raises(FovError, match="camera_id"):
        camera_sectors(cams.drop(columns=["camera_id"]))
    lines = cams.set_geometry([shapely.LineString([(0, 0), (1, 1)])], crs=UTM32N)
    with pytest.raises(FovError, match="must be points"):
        camera_sectors(lines)
    bad = _cameras([{"camera_type": "ptz", "ptz_presets": "north"}])
    with pytest.raises(FovError, match="c0: ptz_presets must be a list"):
        camera_sectors(bad)


def test_empty_input() -> None:
    sectors, messages = camera_sectors(_cameras([{}]).iloc[:0])
    assert len(sectors) == 0 and messages == []
    assert "geometry" in sectors.columns and sectors.crs == UTM32N


def test_100k_cameras_build_speed() -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    cams = gpd.GeoDataFrame(
        {"camera_id": np.arange(n), "mount_height_m": rng.uniform(3.0, 8.0, n),
         "azimuth_deg": rng.uniform(0.0, 360.0, n), "tilt_deg": rng.uniform(5.0, 30.0, n),
         "hfov_deg": 70.0, "sensor_width_mm": 5.6, "sensor_height_mm": 3.1,
         "focal_length_mm": 4.0, "resolution_w_px": 2560, "resolution_h_px": 1440,
         "any_direction": False, "camera_type": "fixed"},
        geometry=shapely.points(rng.uniform(730e3, 750e3, n), rng.uniform(4.83e6, 4.85e6, n)),
        crs=UTM32N)
    camera_sectors(cams.iloc[:10])  # warm up pyproj's transformer and CRS caches
    w0, c0 = time.perf_counter(), time.process_time()
    detect, _ = camera_sectors(cams, levels=("detect",))
    w1, c1 = time.perf_counter(), time.process_time()
    every, _ = camera_sectors(cams)
    w2, c2 = time.perf_counter(), time.process_time()
    print(f"\n100k cameras: detect only {w1 - w0:.2f} s wall / {c1 - c0:.2f} s CPU "
          f"({len(detect)} sectors); 4 levels {w2 - w1:.2f} s wall / {c2 - c1:.2f} s CPU "
          f"({len(every)} sectors)")
    assert len(detect) == n
    assert shapely.is_valid(detect.geometry.to_numpy()[:1000]).all()
