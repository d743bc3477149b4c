"""CRS choice and conversion: local metric CRS, grid/true azimuths, CRS names, WGS-84/CGCS2000/
GCJ-02/BD-09/EPSG conversion, and guessing what undeclared coordinates are (for error messages).

Geometry is stored in EPSG:4326; lengths, areas and offsets are computed in the CRS chosen here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError

from gis.chinacrs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

__all__ = [
    "CrsError",
    "CrsSpec",
    "Detection",
    "cgcs2000_gk3_crs",
    "detect_lonlat_crs",
    "grid_to_true_azimuth_deg",
    "in_china_gk_zone",
    "local_metric_crs",
    "metric_crs_for",
    "parse_crs_name",
    "transform_xy",
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


# --- CRS names and conversion through WGS-84 ---------------------------------------------------

_GCJ02, _BD09 = "GCJ-02", "BD-09"
_ALIASES: dict[str, str | int] = {
    "wgs84": 4326, "cgcs2000": 4490, "crs84": 4326, "ogc:crs84": 4326,
    "urn:ogc:def:crs:ogc:1.3:crs84": 4326, "urn:ogc:def:crs:ogc::crs84": 4326,
    "gcj02": _GCJ02, "gcj": _GCJ02, "bd09": _BD09, "bd09ll": _BD09,
}
_EPSG_RE = re.compile(r"(?:epsg:?|urn:ogc:def:crs:epsg:[0-9.]*:)?([0-9]{4,6})")
_ACCEPTED = (
    "accepted: 'wgs84' (WGS-84, EPSG:4326), 'cgcs2000' (EPSG:4490), 'gcj02' (GCJ-02: AMap, "
    "Tencent), 'bd09' (BD-09: Baidu lon/lat), or 'EPSG:<code>' / '<code>' for any geographic or "
    "projected CRS in the EPSG database (e.g. EPSG:4547 CGCS2000 3-degree Gauss-Kruger CM 114E, "
    "EPSG:32650 UTM 50N, EPSG:3857 Web Mercator); case, spaces, '-' and '_' are ignored"
)


@dataclass(frozen=True)
class CrsSpec:
    """A coordinate system named by :func:`parse_crs_name`.

    Attributes
    ----------
    name
        Canonical name, accepted back by :func:`parse_crs_name`: ``"EPSG:<code>"``,
        ``"GCJ-02"`` or ``"BD-09"``.
    epsg
        The EPSG code, or None for GCJ-02 and BD-09 (which no registry defines).
    is_geographic
        True for longitude/latitude systems (x = lon, y = lat in degrees), False for projected
        ones (x = easting, y = northing, in the CRS's linear unit: metres for all the Chinese,
        UTM and Web Mercator grids).
    title
        Human-readable name, e.g. "CGCS2000 / 3-degree Gauss-Kruger CM 114E".
    """

    name: str
    epsg: int | None
    is_geographic: bool
    title: str

    def __str__(self) -> str:
        return self.name


def parse_crs_name(name: str) -> CrsSpec:
    """Parse a user-supplied CRS name.

    Parameters
    ----------
    name
        Case-insensitive; spaces, ``-`` and ``_`` are ignored. Accepted: ``wgs84`` (EPSG:4326),
        ``cgcs2000`` (EPSG:4490), ``crs84`` / OGC CRS84 URNs (EPSG:4326, lon/lat order),
        ``gcj02``, ``bd09`` / ``bd09ll``, and ``EPSG:<code>``, ``<code>`` or
        ``urn:ogc:def:crs:EPSG::<code>`` for any 2-D geographic or projected CRS pyproj knows.

    Returns
    -------
    CrsSpec

    Raises
    ------
    CrsError
        When the name is not one of the accepted forms, the EPSG code is unknown, or the CRS
        is not a geographic or projected one (geocentric, vertical); the message lists the
        accepted forms. Baidu's projected "bd09mc" is rejected with a pointer to ``bd09``.
    """
    key = re.sub(r"[\s_-]", "", name).lower()
    target: str | int | None = _ALIASES.get(key)
    if target is None:
        match = _EPSG_RE.fullmatch(key)
        if match is not None:
            target = int(match.group(1))
    if target == _GCJ02:
        return CrsSpec(_GCJ02, None, True, "GCJ-02 (AMap, Tencent, Google China)")
    if target == _BD09:
        return CrsSpec(_BD09, None, True, "BD-09 (Baidu longitude/latitude)")
    if key == "bd09mc":
        raise CrsError(
            "'bd09mc' (Baidu Mercator metres) is not supported; export Baidu longitude/latitude "
            f"and use 'bd09' ({_ACCEPTED})"
        )
    if not isinstance(target, int):
        raise CrsError(f"unknown CRS name {name!r}; {_ACCEPTED}")
    try:
        crs = CRS.from_epsg(target)
    except PyprojCRSError as exc:
        raise CrsError(f"EPSG:{target} (from {name!r}) is not in the EPSG database; "
                       f"{_ACCEPTED}") from exc
    if not (crs.is_geographic or crs.is_projected):
        raise CrsError(f"EPSG:{target} ({crs.name}) is not a geographic or projected CRS, so "
                       f"it cannot locate points on the map; {_ACCEPTED}")
    return CrsSpec(f"EPSG:{target}", target, bool(crs.is_geographic), crs.name)


def _spec(crs: str | CrsSpec) -> CrsSpec:
    return crs if isinstance(crs, CrsSpec) else parse_crs_name(crs)


FloatArray = npt.NDArray[np.float64]


def _to_wgs84(spec: CrsSpec, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    if spec.name == _GCJ02:
        return gcj02_to_wgs84(x, y)
    if spec.name == _BD09:
        return bd09_to_wgs84(x, y)
    if spec.epsg == 4326:
        return x, y
    lon, lat = Transformer.from_crs(spec.epsg, 4326, always_xy=True).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _from_wgs84(spec: CrsSpec, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    if spec.name == _GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if spec.name == _BD09:
        return wgs84_to_bd09(lon, lat)
    if spec.epsg == 4326:
        return lon, lat
    x, y = Transformer.from_crs(4326, spec.epsg, always_xy=True).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def transform_xy(
    x: npt.ArrayLike, y: npt.ArrayLike, from_crs: str | CrsSpec, to_crs: str | CrsSpec
) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates between WGS-84, CGCS2000, GCJ-02, BD-09 and EPSG systems.

    Goes through WGS-84 longitude/latitude: pyproj (``always_xy=True``) for EPSG systems,
    :mod:`gis.chinacrs` for GCJ-02 and BD-09 (GCJ-02 <-> BD-09 directly). CGCS2000 (EPSG:4490)
    and its grids are taken as equal to WGS-84, as pyproj's ballpark transformation does; the
    difference is centimetres. Other datums (Beijing 1954, Xian 1980, ...) get whatever pyproj
    has, which may be a ballpark transformation off by tens to hundreds of metres.

    Parameters
    ----------
    x, y
        Coordinates in ``from_crs``: longitude and latitude in degrees for geographic systems
        (including GCJ-02 and BD-09), easting and northing for projected ones (metres for
        the Chinese Gauss-Krüger, UTM and Web Mercator grids). Scalars or broadcastable arrays.
    from_crs, to_crs
        A name accepted by :func:`parse_crs_name` or a :class:`CrsSpec`.

    Returns
    -------
    (x, y)
        float64 arrays of the broadcast shape (0-d for scalar input), in ``to_crs`` with the
        same conventions. Points with a non-finite coordinate, or that a projection cannot
        handle, come back NaN.

    Raises
    ------
    CrsError
        For an unknown CRS name or shapes that do not broadcast.
    """
    src, dst = _spec(from_crs), _spec(to_crs)
    try:
        xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64),
                                     np.asarray(y, dtype=np.float64))
    except ValueError as exc:
        raise CrsError(f"x shape {np.shape(x)} and y shape {np.shape(y)} do not broadcast; "
                       "pass arrays of the same length") from exc
    xa, ya = xa.copy(), ya.copy()
    if src.name == dst.name:
        out_x, out_y = xa, ya
    elif (src.name, dst.name) == (_GCJ02, _BD09):
        out_x, out_y = gcj02_to_bd09(xa, ya)
    elif (src.name, dst.name) == (_BD09, _GCJ02):
        out_x, out_y = bd09_to_gcj02(xa, ya)
    else:
        out_x, out_y = _from_wgs84(dst, *_to_wgs84(src, xa, ya))
    bad = ~(np.isfinite(out_x) & np.isfinite(out_y))
    if np.any(bad):
        out_x, out_y = np.where(bad, np.nan, out_x), np.where(bad, np.nan, out_y)
    return out_x, out_y


# --- guessing undeclared coordinates (for error messages, never silently) -----------------------

DetectionKind = Literal["geographic", "swapped", "projected", "unknown"]

_EXTENT_MARGIN_DEG = 0.05  # GCJ-02/BD-09 shifts (≤ ~1.5 km) and points just outside the area
_EXTENT_MIN_FRACTION = 0.9
_WEB_MERCATOR_MAX_M = 20037508.35
_GK6_FIRST_ZONE, _GK6_LAST_ZONE = 13, 23
# First EPSG code of each family of zone-prefixed Gauss-Krüger grids (zone 25 / zone 13).
_GK3_PREFIXED = (("CGCS2000", 4513), ("Xian 1980", 2349), ("Beijing 1954", 2401))
_GK6_PREFIXED = (("CGCS2000", 4491), ("Xian 1980", 2327), ("Beijing 1954", 21413))


@dataclass(frozen=True)
class Detection:
    """What undeclared coordinates look like; see :func:`detect_lonlat_crs`.

    Attributes
    ----------
    kind
        "geographic" (lon/lat degrees, datum unknown), "swapped" (lat/lon in x/y),
        "projected" (grid metres) or "unknown".
    candidates
        CRS names for :func:`parse_crs_name` that fit the numbers (EPSG codes as "EPSG:nnnn",
        or "GCJ-02"/"BD-09"), most likely first. Several, or none, when the numbers cannot tell.
    message
        One or two sentences for the user, saying what was seen and what to do.
    """

    kind: DetectionKind
    candidates: list[str]
    message: str


def _fmt_range(v: FloatArray) -> str:
    lo, hi = float(np.min(v)), float(np.max(v))
    if max(abs(lo), abs(hi)) >= 1000.0:
        return f"{lo:,.0f}..{hi:,.0f}"
    return f"{lo:.6g}..{hi:.6g}"


def _fraction_inside(
    lon: FloatArray, lat: FloatArray, extent: tuple[float, float, float, float]
) -> float:
    west, south, east, north = extent
    m = _EXTENT_MARGIN_DEG
    inside = (lon >= west - m) & (lon <= east + m) & (lat >= south - m) & (lat <= north + m)
    return float(np.mean(inside)) if inside.size else 0.0


def _check_extent(extent: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in extent)
    except (TypeError, ValueError) as exc:
        raise CrsError(f"extent must be (west, south, east, north) in degrees, got {extent!r}"
                       ) from exc
    if not (-180.0 <= west < east <= 180.0 and -90.0 <= south < north <= 90.0):
        raise CrsError(f"extent must be (west, south, east, north) WGS-84 degrees with "
                       f"west < east and south < north, got {extent!r}")
    return west, south, east, north


def _fits_extent(
    code: str, x: FloatArray, y: FloatArray, extent: tuple[float, float, float, float]
) -> bool:
    lon, lat = transform_xy(x, y, code, "EPSG:4326")
    return _fraction_inside(lon, lat, extent) >= _EXTENT_MIN_FRACTION


def _geographic(
    x: FloatArray, y: FloatArray, extent: tuple[float, float, float, float] | None
) -> tuple[DetectionKind, list[str], str]:
    ranges = f"x {_fmt_range(x)}, y {_fmt_range(y)}"
    china = bool(np.mean(in_china(x, y)) >= 0.5)
    candidates = ["EPSG:4326", "EPSG:4490", _GCJ02, _BD09] if china else ["EPSG:4326"]
    datum = (
        "datum unknown: WGS-84/CGCS2000, GCJ-02 (AMap, Tencent) and BD-09 (Baidu) differ by "
        "100-700 m in China and cannot be told apart from the numbers; declare which one"
        if china else "datum unknown (most likely WGS-84); declare it"
    )
    swappable = bool(np.all(np.abs(x) <= 90.0))
    if extent is not None:
        frac = _fraction_inside(x, y, extent)
        frac_swapped = _fraction_inside(y, x, extent) if swappable else 0.0
        if frac >= _EXTENT_MIN_FRACTION:
            return "geographic", candidates, (
                f"coordinates look like longitude/latitude in degrees ({ranges}) inside the "
                f"expected area; {datum}")
        if frac_swapped >= _EXTENT_MIN_FRACTION:
            return "swapped", candidates, (
                f"coordinates look like latitude/longitude swapped: as given ({ranges}) "
                f"{frac:.0%} fall in the expected area, swapped {frac_swapped:.0%} do; put "
                f"longitude in x and latitude in y (or declare the column order); {datum}")
        return "geographic", candidates, (
            f"coordinates are in the longitude/latitude range ({ranges}) but only {frac:.0%} "
            f"fall in the expected area {extent} (swapped: {frac_swapped:.0%}); check the "
            f"columns and the file; {datum}")
    order = (" Every |x| <= 90, so latitude/longitude order cannot be confirmed from the "
             "numbers alone." if swappable else "")
    return "geographic", candidates, (
        f"coordinates look like longitude/latitude in degrees ({ranges}); {datum}.{order}")


def _projected(
    x: FloatArray, y: FloatArray, extent: tuple[float, float, float, float] | None
) -> tuple[DetectionKind, list[str], str]:
    ranges = f"x {_fmt_range(x)}, y {_fmt_range(y)}"
    zone = np.floor(x / 1e6).astype(np.int64)
    north_ok = bool(np.all((y > 0.0) & (y < 10_000_000.0)))
    zones = sorted({int(z) for z in np.unique(zone)})
    in_web = bool(np.all((np.abs(x) <= _WEB_MERCATOR_MAX_M) & (np.abs(y) <= _WEB_MERCATOR_MAX_M)))
    candidates: list[str] = []
    if north_ok and all(_GK3_FIRST_ZONE <= z <= _GK3_LAST_ZONE for z in zones):
        candidates = [f"EPSG:{first + z - _GK3_FIRST_ZONE}" for z in zones
                      for _, first in _GK3_PREFIXED]
        cms = ", ".join(f"{3 * z}°E" for z in zones)
        zs = ", ".join(str(z) for z in zones)
        desc = (f"x has 8 digits led by the zone number: a 3-degree Gauss-Krüger grid with "
                f"zone-prefixed eastings (zone {zs}, central meridian {cms}), "
                f"CGCS2000 {', '.join(candidates[0::3])}; Xian 1980 and Beijing 1954 grids give "
                f"the same-looking numbers and lie tens to a hundred-odd metres away")
    elif north_ok and all(_GK6_FIRST_ZONE <= z <= _GK6_LAST_ZONE for z in zones):
        candidates = [f"EPSG:{first + z - _GK6_FIRST_ZONE}" for z in zones
                      for _, first in _GK6_PREFIXED]
        cms = ", ".join(f"{6 * z - 3}°E" for z in zones)
        zs = ", ".join(str(z) for z in zones)
        desc = (f"x looks like a 6-degree Gauss-Krüger grid with zone-prefixed eastings "
                f"(zone {zs}, central meridian {cms}), CGCS2000 {', '.join(candidates[0::3])}, "
                f"or the Xian 1980 / Beijing 1954 grids")
        if in_web:
            candidates.append("EPSG:3857")
            desc += "; eastern-China Web Mercator (EPSG:3857) metres look the same"
    elif north_ok and bool(np.all((x >= 100_000.0) & (x < 1_000_000.0))):
        desc = ("eastings of 100-1,000 km and northings up to 10,000 km look like a "
                "transverse Mercator grid with a 500 km false easting (UTM, or a CGCS2000 "
                "Gauss-Krüger 'CM' zone), but the zone cannot be told from the numbers")
    elif in_web:
        candidates = ["EPSG:3857"]
        desc = ("values fit Web Mercator metres (EPSG:3857; AMap/Tencent tiles use it over "
                "GCJ-02, and Baidu's 'bd09mc' is different again)")
    else:
        return "unknown", [], (
            f"coordinates ({ranges}) are neither degrees nor any projected grid recognised; "
            "check the columns and declare the CRS")
    if extent is None:
        hint = ("" if candidates else "; name the CRS, e.g. EPSG:4547 (CGCS2000 3-degree "
                "Gauss-Krüger CM 114E) or EPSG:32650 (WGS 84 / UTM 50N)")
        return "projected", candidates, f"coordinates look projected ({ranges}): {desc}{hint}"
    lon_c, lat_c = (extent[0] + extent[2]) / 2.0, (extent[1] + extent[3]) / 2.0
    pool = list(candidates)
    local = [utm_crs(lon_c, lat_c)]
    if _GK3_FIRST_ZONE <= math.floor((lon_c + 1.5) / 3.0) <= _GK3_LAST_ZONE:
        local.insert(0, cgcs2000_gk3_crs(lon_c))
        local.append(cgcs2000_gk3_crs(lon_c, zone_prefixed=True))
        zone6 = math.floor(lon_c / 6.0) + 1
        if _GK6_FIRST_ZONE <= zone6 <= _GK6_LAST_ZONE:
            local += [CRS.from_epsg(4502 + zone6 - _GK6_FIRST_ZONE),
                      CRS.from_epsg(4491 + zone6 - _GK6_FIRST_ZONE)]
    pool += [f"EPSG:{c.to_epsg()}" for c in local] + ["EPSG:3857"]
    pool = list(dict.fromkeys(pool))
    fitting = [c for c in pool if _fits_extent(c, x, y, extent)]
    if len(fitting) == 1:
        return "projected", fitting, (
            f"coordinates look projected ({ranges}): {desc}; of the grids tried only "
            f"{fitting[0]} puts them in the expected area; declare it to import")
    if fitting:
        return "projected", fitting, (
            f"coordinates look projected ({ranges}): {desc}; in the expected area they fit "
            f"{', '.join(fitting)}, which the numbers cannot tell apart; declare which one")
    return "projected", candidates, (
        f"coordinates look projected ({ranges}): {desc}; none of "
        f"{', '.join(pool)} puts them in the expected area {extent}; declare the CRS")


def detect_lonlat_crs(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    extent: tuple[float, float, float, float] | None = None,
) -> Detection:
    """Describe what undeclared coordinates look like, for a helpful error message.

    The numbers alone can separate degrees from grid metres, spot latitude/longitude given in
    x/y order, and recognise zone-prefixed Gauss-Krüger eastings; they can *not* tell WGS-84
    from GCJ-02 or BD-09 (100-700 m apart in China) nor, in general, which grid zone plain
    eastings belong to. Callers must not convert on the strength of this result: show
    ``message`` and ask the user to declare the CRS.

    Parameters
    ----------
    x, y
        A sample of the file's coordinates as read (x = first/"longitude" column). Missing
        values (NaN) and exact (0, 0) points (usually placeholders) are ignored and counted.
    extent
        Optional (west, south, east, north) in WGS-84 degrees where the data is expected (the
        city's area). Points count as inside within 0.05° of it; a reading fits when at least
        90 % of points are inside. With it, swapped columns are detected whenever only the
        swapped reading fits, and projected candidates are tested by transforming the points.

    Returns
    -------
    Detection
        ``kind``: "geographic" when every point is a valid lon/lat (datum unknown),
        "swapped" when the points are valid only as lat/lon (|x| <= 90 < |y| <= 180) or only
        the swapped reading falls in ``extent``, "projected" for grid-like metres, "unknown"
        otherwise (mixed magnitudes, no usable points, ...). ``candidates`` and ``message`` as
        in :class:`Detection`.

    Raises
    ------
    CrsError
        When ``extent`` is not (west, south, east, north) degrees or shapes do not broadcast.
    """
    ext = _check_extent(extent) if extent is not None else None
    try:
        xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64),
                                     np.asarray(y, dtype=np.float64))
    except ValueError as exc:
        raise CrsError(f"x shape {np.shape(x)} and y shape {np.shape(y)} do not broadcast") from exc
    xa, ya = xa.ravel(), ya.ravel()
    finite = np.isfinite(xa) & np.isfinite(ya)
    zero = finite & (xa == 0.0) & (ya == 0.0)
    use = finite & ~zero
    notes = ""
    if n_bad := int(np.count_nonzero(~finite)):
        notes += f" ({n_bad} point(s) with missing coordinates ignored)"
    if n_zero := int(np.count_nonzero(zero)):
        notes += f" ({n_zero} point(s) at exactly (0, 0) ignored: usually missing values)"
    xs, ys = xa[use], ya[use]
    if xs.size == 0:
        return Detection("unknown", [], f"no usable coordinates in the sample{notes}")
    ax, ay = np.abs(xs), np.abs(ys)
    geo = (ax <= 180.0) & (ay <= 90.0)
    swapped = (ax <= 90.0) & (ay <= 180.0)
    large = (ax > 180.0) | (ay > 180.0)
    if np.all(geo):
        kind, candidates, message = _geographic(xs, ys, ext)
    elif np.all(swapped):
        kind, candidates, _ = _geographic(ys, xs, ext)
        kind = "swapped"
        message = (f"coordinates look like latitude/longitude swapped: every x is within ±90 "
                   f"and some |y| exceed 90 (x {_fmt_range(xs)}, y {_fmt_range(ys)}); put "
                   "longitude in x and latitude in y (or declare the column order)")
        if ext is not None:
            frac = _fraction_inside(ys, xs, ext)
            message += f"; swapped, {frac:.0%} of points fall in the expected area"
    elif np.all(large):
        kind, candidates, message = _projected(xs, ys, ext)
    else:
        n_geo = int(np.count_nonzero(~large))
        kind, candidates, message = "unknown", [], (
            f"coordinates mix magnitudes: {n_geo} of {xs.size} look like degrees and the rest "
            f"like metres (x {_fmt_range(xs)}, y {_fmt_range(ys)}); check for mixed columns or "
            "rows, then declare the CRS")
    return Detection(kind, candidates, message + notes)
