"""Choice of a local metric CRS (UTM or CGCS2000 Gauss-Krüger) and grid/true azimuth conversion.

Geometry is stored in EPSG:4326; lengths, areas and offsets are computed in the CRS chosen here.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from pyproj import CRS, Geod, Transformer

__all__ = [
    "CrsError",
    "cgcs2000_gk3_crs",
    "grid_to_true_azimuth_deg",
    "in_china_gk_zone",
    "local_metric_crs",
    "metric_crs_for",
    "true_to_grid_azimuth_deg",
    "utm_crs",
]

_WGS84 = CRS.from_epsg(4326)
_GEOD = Geod(ellps="WGS84")

# EPSG:4513..4533 are zones 25..45 with the zone number prefixed to the false easting
# (e.g. 38 500 000 m); EPSG:4534..4554 are the same projections ("CM 75E".."CM 135E") with a
# plain 500 000 m false easting.
_GK3_FIRST_ZONE, _GK3_LAST_ZONE = 25, 45
_GK3_PREFIXED_EPSG0, _GK3_CM_EPSG0 = 4513, 4534


class CrsError(ValueError):
    """A coordinate reference system cannot be chosen for the given input."""


def _check_lon_lat(lon_deg: float, lat_deg: float) -> None:
    if not (math.isfinite(lon_deg) and math.isfinite(lat_deg)):
        raise CrsError(f"longitude/latitude must be finite numbers, got ({lon_deg}, {lat_deg})")
    if not (-180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise CrsError(
            f"({lon_deg}, {lat_deg}) is not a WGS-84 longitude/latitude in degrees; "
            "were projected coordinates passed, or longitude and latitude swapped?"
        )


def utm_crs(lon_deg: float, lat_deg: float) -> CRS:
    """WGS-84 UTM zone containing a point.

    Parameters
    ----------
    lon_deg, lat_deg
        WGS-84 longitude and latitude in degrees.

    Returns
    -------
    pyproj.CRS
        EPSG:326zz north of the equator (lat >= 0), EPSG:327zz south of it. The Norway and
        Svalbard zone exceptions are applied.

    Raises
    ------
    CrsError
        When the coordinates are not finite longitude/latitude degrees.
    """
    _check_lon_lat(lon_deg, lat_deg)
    zone = min(int((lon_deg + 180.0) // 6.0) + 1, 60)
    if 56.0 <= lat_deg < 64.0 and 3.0 <= lon_deg < 12.0:
        zone = 32
    elif 72.0 <= lat_deg < 84.0 and 0.0 <= lon_deg < 42.0:
        zone = 31 if lon_deg < 9 else 33 if lon_deg < 21 else 35 if lon_deg < 33 else 37
    return CRS.from_epsg((32600 if lat_deg >= 0.0 else 32700) + zone)


def cgcs2000_gk3_crs(lon_deg: float, *, zone_prefixed: bool = False) -> CRS:
    """CGCS2000 3-degree Gauss-Krüger zone whose central meridian is nearest a longitude.

    Parameters
    ----------
    lon_deg
        Longitude in degrees, within China's zones 25..45 (73.5°E .. 136.5°E).
    zone_prefixed
        False (default): the "CM" variant EPSG:4534..4554, false easting 500 000 m, so eastings
        look like UTM eastings and code that sanity-checks coordinates treats both alike; the
        zone is carried by the CRS itself. True: EPSG:4513..4533, whose false easting carries the
        zone number (38 500 000 m in zone 38) as in many Chinese survey deliveries. Both give
        identical distances and areas.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CrsError
        When the longitude is outside the CGCS2000 3-degree zones 25..45.
    """
    zone = math.floor((lon_deg + 1.5) / 3.0)
    if not _GK3_FIRST_ZONE <= zone <= _GK3_LAST_ZONE:
        raise CrsError(
            f"longitude {lon_deg}° is outside the CGCS2000 3-degree Gauss-Krüger zones "
            f"{_GK3_FIRST_ZONE}..{_GK3_LAST_ZONE} (73.5°E..136.5°E); use utm_crs instead"
        )
    first = _GK3_PREFIXED_EPSG0 if zone_prefixed else _GK3_CM_EPSG0
    return CRS.from_epsg(first + zone - _GK3_FIRST_ZONE)


def in_china_gk_zone(lon_deg: float, lat_deg: float) -> bool:
    """Whether a point lies in the EPSG area of use of its CGCS2000 3-degree zone.

    The areas of use are bounding boxes of China per zone, so points just across a border
    (Mongolia, Korea, northern Vietnam) also count; the GK zone is a good metric CRS there too.

    Parameters
    ----------
    lon_deg, lat_deg
        WGS-84 (or CGCS2000) longitude and latitude in degrees.
    """
    try:
        crs = cgcs2000_gk3_crs(lon_deg)
    except CrsError:
        return False
    area = crs.area_of_use
    if area is None:  # pragma: no cover - the EPSG database defines it for all zones
        return False
    return bool(area.west <= lon_deg <= area.east and area.south <= lat_deg <= area.north)


def local_metric_crs(lon_deg: float, lat_deg: float) -> CRS:
    """Metric CRS for computations around a point.

    Parameters
    ----------
    lon_deg, lat_deg
        WGS-84 longitude and latitude in degrees.

    Returns
    -------
    pyproj.CRS
        Inside China (see :func:`in_china_gk_zone`) the CGCS2000 3-degree Gauss-Krüger CM zone
        (EPSG:4534..4554, false easting 500 km); elsewhere the WGS-84 UTM zone (EPSG:326zz/327zz).
        Units are metres in both.

    Raises
    ------
    CrsError
        When the coordinates are not finite longitude/latitude degrees.
    """
    _check_lon_lat(lon_deg, lat_deg)
    if in_china_gk_zone(lon_deg, lat_deg):
        return cgcs2000_gk3_crs(lon_deg)
    return utm_crs(lon_deg, lat_deg)


def metric_crs_for(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """Metric CRS for a layer: :func:`local_metric_crs` at the centre of its total bounds.

    Parameters
    ----------
    gdf
        Any layer with a CRS (geographic or projected).

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CrsError
        When the layer has no CRS or no non-empty geometry.
    """
    if gdf.crs is None:
        raise CrsError("layer has no CRS; set it (e.g. gdf.set_crs(4326)) before choosing one")
    minx, miny, maxx, maxy = gdf.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise CrsError("layer has no non-empty geometry; cannot choose a metric CRS for it")
    crs = CRS.from_user_input(gdf.crs)
    if not crs.is_geographic or not crs.equals(_WGS84, ignore_axis_order=True):
        to_wgs = Transformer.from_crs(crs, _WGS84, always_xy=True)
        minx, miny, maxx, maxy = to_wgs.transform_bounds(minx, miny, maxx, maxy)
    return local_metric_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def _true_azimuth_of_grid(
    crs: CRS, x_m: npt.NDArray[np.float64], y_m: npt.NDArray[np.float64],
    grid_deg: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    step_m = 1.0
    a = np.radians(grid_deg)
    to_wgs = Transformer.from_crs(crs, _WGS84, always_xy=True)
    lon0, lat0 = to_wgs.transform(x_m, y_m)
    lon1, lat1 = to_wgs.transform(x_m + step_m * np.sin(a), y_m + step_m * np.cos(a))
    fwd, _, _ = _GEOD.inv(lon0, lat0, lon1, lat1)
    return np.mod(np.asarray(fwd, dtype=np.float64), 360.0)


def grid_to_true_azimuth_deg(
    crs: CRS, x_m: npt.ArrayLike, y_m: npt.ArrayLike, grid_azimuth_deg: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Convert bearings measured from grid north of a projected CRS to true-north azimuths.

    Parameters
    ----------
    crs
        Projected CRS in which ``x_m``, ``y_m`` and the grid bearings are given.
    x_m, y_m
        Point coordinates in ``crs`` (metres).
    grid_azimuth_deg
        Bearings in degrees clockwise from the CRS's grid north.

    Returns
    -------
    numpy.ndarray
        Azimuths in degrees clockwise from true north, in [0, 360) (geodesic direction of a
        1 m step along the grid bearing; differs by the meridian convergence).
    """
    x, y, g = np.broadcast_arrays(
        np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64),
        np.asarray(grid_azimuth_deg, dtype=np.float64),
    )
    return _true_azimuth_of_grid(crs, x, y, g)


def true_to_grid_azimuth_deg(
    crs: CRS, x_m: npt.ArrayLike, y_m: npt.ArrayLike, true_azimuth_deg: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Inverse of :func:`grid_to_true_azimuth_deg`.

    Parameters
    ----------
    crs
        Projected CRS of ``x_m``, ``y_m``.
    x_m, y_m
        Point coordinates in ``crs`` (metres).
    true_azimuth_deg
        Azimuths in degrees clockwise from true north.

    Returns
    -------
    numpy.ndarray
        Bearings in degrees clockwise from grid north, in [0, 360).
    """
    x, y, t = np.broadcast_arrays(
        np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64),
        np.asarray(true_azimuth_deg, dtype=np.float64),
    )
    grid = t.copy()
    # Conformal projection: the correction hardly depends on the bearing, two steps suffice.
    for _ in range(2):
        err = (_true_azimuth_of_grid(crs, x, y, grid) - t + 180.0) % 360.0 - 180.0
        grid = grid - err
    result: npt.NDArray[np.float64] = np.mod(grid, 360.0)
    return result
