import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

from gis.crs import (
    CrsError,
    cgcs2000_gk3_crs,
    grid_to_true_azimuth_deg,
    in_china_gk_zone,
    local_metric_crs,
    metric_crs_for,
    true_to_grid_azimuth_deg,
    utm_crs,
)


def _param(crs, name: str) -> float:
    return next(p.value for p in crs.coordinate_operation.params if p.name == name)


def test_monaco_is_utm_32n() -> None:
    assert local_metric_crs(7.42, 43.73).to_epsg() == 32632


def test_wuhan_is_cgcs2000_gk_cm_114() -> None:
    crs = local_metric_crs(114.3, 30.6)
    assert crs.to_epsg() == 4547
    assert _param(crs, "Longitude of natural origin") == 114.0
    assert _param(crs, "False easting") == 500_000.0
    assert "CGCS2000" in crs.name


def test_zone_prefixed_variant() -> None:
    crs = cgcs2000_gk3_crs(114.3, zone_prefixed=True)
    assert crs.to_epsg() == 4526
    assert "zone 38" in crs.name
    assert _param(crs, "False easting") == 38_500_000.0


@pytest.mark.parametrize(("lon", "cm", "epsg"), [(73.7, 75.0, 4534), (76.49, 75.0, 4534),
                                                 (76.51, 78.0, 4535), (134.7, 135.0, 4554)])
def test_gk_zone_edges(lon: float, cm: float, epsg: int) -> None:
    crs = cgcs2000_gk3_crs(lon)
    assert crs.to_epsg() == epsg
    assert _param(crs, "Longitude of natural origin") == cm


def test_gk_outside_zones_raises() -> None:
    with pytest.raises(CrsError, match="outside the CGCS2000"):
        cgcs2000_gk3_crs(10.0)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (151.21, -33.87, 32756),  # Sydney
        (-43.2, -22.9, 32723),  # Rio de Janeiro
        (18.42, -33.92, 32734),  # Cape Town
        (-74.0, 40.7, 32618),  # New York
        (5.32, 60.39, 32632),  # Bergen: Norway exception (would be 31)
        (15.6, 78.2, 32633),  # Svalbard
        (180.0, 0.0, 32660),
    ],
)
def test_utm_zones(lon: float, lat: float, epsg: int) -> None:
    assert local_metric_crs(lon, lat).to_epsg() == epsg


def test_china_detection() -> None:
    assert in_china_gk_zone(116.4, 39.9)  # Beijing
    assert not in_china_gk_zone(139.7, 35.7)  # Tokyo: east of the zones
    assert not in_china_gk_zone(100.5, 13.75)  # Bangkok: south of the zone's area of use
    assert local_metric_crs(100.5, 13.75).to_epsg() == 32647


@pytest.mark.parametrize(("lon", "lat"), [(200.0, 10.0), (10.0, 95.0), (math.nan, 0.0),
                                          (500_000.0, 4_800_000.0)])
def test_bad_coordinates_raise(lon: float, lat: float) -> None:
    with pytest.raises(CrsError):
        utm_crs(lon, lat)


def test_metric_crs_for_geographic_and_projected() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(7.41, 43.72), Point(7.44, 43.75)], crs=4326)
    assert metric_crs_for(gdf).to_epsg() == 32632
    assert metric_crs_for(gdf.to_crs(32632)).to_epsg() == 32632
    wuhan = gpd.GeoDataFrame(geometry=[Point(114.2, 30.5), Point(114.4, 30.7)], crs=4326)
    assert metric_crs_for(wuhan.to_crs(3857)).to_epsg() == 4547


def test_metric_crs_for_rejects_missing_crs_and_empty() -> None:
    with pytest.raises(CrsError, match="no CRS"):
        metric_crs_for(gpd.GeoDataFrame(geometry=[Point(7.4, 43.7)]))
    with pytest.raises(CrsError, match="no non-empty geometry"):
        metric_crs_for(gpd.GeoDataFrame(geometry=[], crs=4326))


def test_grid_to_true_azimuth_matches_convergence_formula() -> None:
    # Transverse Mercator convergence gamma = atan(tan(lon - lon0) * sin(lat)); west of the
    # central meridian (9°E) true north lies clockwise of grid north, so true = grid + gamma
    # with gamma < 0 in Monaco.
    lon, lat = 7.42, 43.73
    gamma = math.degrees(math.atan(math.tan(math.radians(lon - 9.0)) * math.sin(math.radians(lat))))
    crs = local_metric_crs(lon, lat)
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    grid = np.array([0.0, 90.0, 200.0, 359.9])
    true = grid_to_true_azimuth_deg(crs, x, y, grid)
    expected = np.mod(grid + gamma, 360.0)
    diff = (true - expected + 180.0) % 360.0 - 180.0
    assert np.all(np.abs(diff) < 0.01)
    back = true_to_grid_azimuth_deg(crs, x, y, true)
    assert np.all(np.abs((back - grid + 180.0) % 360.0 - 180.0) < 1e-6)


def test_no_convergence_on_central_meridian() -> None:
    crs = utm_crs(9.0, 43.7)
    true = grid_to_true_azimuth_deg(crs, 500_000.0, 4_840_000.0, 45.0)
    assert abs(float(true) - 45.0) < 1e-3
