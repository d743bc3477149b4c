"""Polynomial reprojection to lon/lat, checked against PROJ on points it was not fitted on."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gis.reproject import fit_to_lonlat, to_lonlat


def _metres_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dlon = (a[:, 0] - b[:, 0]) * np.cos(np.radians(b[:, 1]))
    return np.hypot(dlon, a[:, 1] - b[:, 1]) * 111_320.0


@pytest.mark.parametrize(("crs", "origin", "size_m"), [
    ("EPSG:32632", (373_000.0, 4_829_000.0), 20_000.0),   # Monaco's UTM zone, 20 km city
    ("EPSG:4547", (380_000.0, 2_500_000.0), 120_000.0),   # CGCS2000 GK CM 114E, Shenzhen-ish
])  # fmt: skip
def test_fit_matches_proj_within_a_millimetre(crs: str, origin: tuple[float, float],
                                              size_m: float) -> None:  # fmt: skip
    rng = np.random.default_rng(7)
    xy = np.column_stack([origin[0] + rng.uniform(0, size_m, 20_000),
                          origin[1] + rng.uniform(0, size_m, 20_000)])  # fmt: skip
    polys = shapely.buffer(shapely.points(xy), 15.0, quad_segs=2)
    got, claimed = to_lonlat(polys, crs)
    exact = Transformer.from_crs(crs, 4326, always_xy=True)
    c = shapely.get_coordinates(polys)
    want = np.column_stack(exact.transform(c[:, 0], c[:, 1]))
    err = _metres_apart(shapely.get_coordinates(got), want)
    assert err.max() < 0.001
    assert 0.0 < claimed < 0.001
    assert err.max() < 3 * claimed + 1e-6  # the check grid saw the real error
    assert (shapely.get_num_coordinates(got) == shapely.get_num_coordinates(polys)).all()


def test_no_fit_when_the_tolerance_cannot_be_met_and_proj_is_used() -> None:
    bounds = (200_000.0, 2_000_000.0, 800_000.0, 4_000_000.0)
    assert fit_to_lonlat("EPSG:32650", bounds, tolerance_m=1e-9, max_degree=4) is None
    pts = shapely.points([[bounds[0], bounds[1]], [bounds[2], bounds[3]]])
    got, claimed = to_lonlat(pts, "EPSG:32650", tolerance_m=1e-12)
    exact = Transformer.from_crs("EPSG:32650", 4326, always_xy=True)
    want = np.column_stack(exact.transform([bounds[0], bounds[2]], [bounds[1], bounds[3]]))
    assert claimed == 0.0
    assert np.array_equal(shapely.get_coordinates(got), want)


def test_empty_and_missing_geometries_pass_through() -> None:
    geoms = np.array([None, shapely.Polygon(), shapely.box(373_000, 4_829_000, 373_010,
                                                          4_829_010)], dtype=object)  # fmt: skip
    got, _ = to_lonlat(geoms, "EPSG:32632")
    assert got[0] is None and got[1].is_empty
    lon, lat = shapely.get_coordinates(got[2])[0]
    assert 7.0 < lon < 8.0 and 43.0 < lat < 44.0
    none, err = to_lonlat(np.array([None], dtype=object), "EPSG:32632")
    assert none[0] is None and err == 0.0
