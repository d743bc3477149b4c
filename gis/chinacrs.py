"""GCJ-02 (AMap, Tencent) and BD-09 (Baidu) longitude/latitude: the public formulas and inverses.

GCJ-02 is WGS-84 plus a published, deliberately irregular offset of 100–700 m applied inside
China; BD-09 is a further small rotation/scale/shift of GCJ-02. pyproj knows neither. Inverses are
computed by fixed-point iteration on the forward formula, to 1e-9° (≈ 0.1 mm) in the forward image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHINA_BOX_DEG",
    "ChinaCrsError",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

FloatArray = npt.NDArray[np.float64]
# Array inputs: numpy arrays or sequences of numbers (kept apart from ``float`` so the overloads
# can promise a float result for scalar input).
ArrayIn = npt.NDArray[Any] | list[float] | tuple[float, ...]

#: (west, south, east, north) in degrees: the conventional "is this in China?" box used with the
#: GCJ-02 formula by the open-source implementations.
CHINA_BOX_DEG = (72.004, 0.8293, 137.8347, 55.8271)

# Krasovsky 1940 ellipsoid, as the published GCJ-02 formula uses it.
_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323
# BD-09's angular frequency: 3000 "turns" of pi per 180 degrees.
_BD_K = np.pi * 3000.0 / 180.0
_BD_DLON, _BD_DLAT = 0.0065, 0.006

_TOL_DEG = 1e-9  # ≈ 0.1 mm on the ground
_MAX_ITER = 30
# The GCJ-02 offset never exceeds ~0.012° (700 m at 55°N); points further than this from the box
# cannot be the GCJ-02 image of a point inside it.
_BOX_MARGIN_DEG = 0.1


class ChinaCrsError(ValueError):
    """Coordinates cannot be converted between WGS-84, GCJ-02 and BD-09."""


def _as_arrays(lon_deg: Any, lat_deg: Any) -> tuple[FloatArray, FloatArray, bool]:
    try:
        lon, lat = np.broadcast_arrays(
            np.asarray(lon_deg, dtype=np.float64), np.asarray(lat_deg, dtype=np.float64)
        )
    except ValueError as exc:
        raise ChinaCrsError(
            f"longitude shape {np.shape(lon_deg)} and latitude shape {np.shape(lat_deg)} "
            "do not broadcast; pass arrays of the same length (or a scalar for one of them)"
        ) from exc
    return lon, lat, lon.ndim == 0


def _out(lon: FloatArray, lat: FloatArray, scalar: bool) -> Any:
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def _in_box(lon: FloatArray, lat: FloatArray, margin_deg: float = 0.0) -> npt.NDArray[np.bool_]:
    west, south, east, north = CHINA_BOX_DEG
    return (
        (lon >= west - margin_deg) & (lon <= east + margin_deg)
        & (lat >= south - margin_deg) & (lat <= north + margin_deg)
    )


def _gcj_offset_deg(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS-84 in degrees at a WGS-84 point (the published formula, no box test)."""
    x = lon - 105.0
    y = lat - 35.0
    shared = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * (2.0 / 3.0)
    north_m = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + shared
        + (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * (2.0 / 3.0)
        + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * (2.0 / 3.0)
    )
    east_m = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + shared
        + (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * (2.0 / 3.0)
        + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * (2.0 / 3.0)
    )
    # Metres -> degrees with the Krasovsky meridional (M) and prime-vertical (N) radii.
    phi = np.radians(lat)
    w2 = 1.0 - _KRASOVSKY_E2 * np.sin(phi) ** 2
    m_radius = _KRASOVSKY_A_M * (1.0 - _KRASOVSKY_E2) / (w2 * np.sqrt(w2))
    n_radius = _KRASOVSKY_A_M / np.sqrt(w2)
    dlat = np.degrees(north_m / m_radius)
    dlon = np.degrees(east_m / (n_radius * np.cos(phi)))
    return dlon, dlat


def _wgs_to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    out_lon, out_lat = lon.copy(), lat.copy()
    inside = _in_box(lon, lat)
    dlon, dlat = _gcj_offset_deg(lon[inside], lat[inside])
    out_lon[inside] += dlon
    out_lat[inside] += dlat
    return out_lon, out_lat


def _gcj_to_wgs(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    out_lon, out_lat = lon.copy(), lat.copy()
    near = _in_box(lon, lat, _BOX_MARGIN_DEG)
    g_lon, g_lat = lon[near], lat[near]
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    # w <- w - (F(w) - g): F is the identity plus an offset whose gradient is ~1e-3, so each step
    # gains about three digits.
    for _ in range(_MAX_ITER):
        dlon, dlat = _gcj_offset_deg(w_lon, w_lat)
        r_lon = w_lon + dlon - g_lon
        r_lat = w_lat + dlat - g_lat
        w_lon -= r_lon
        w_lat -= r_lat
        if not (np.any(np.abs(r_lon) > _TOL_DEG) or np.any(np.abs(r_lat) > _TOL_DEG)):
            break
    else:  # pragma: no cover - the iteration is a strong contraction on the whole box
        raise ChinaCrsError(
            f"GCJ-02 -> WGS-84 did not converge to {_TOL_DEG}° in {_MAX_ITER} iterations"
        )
    # The forward formula shifts only points inside the box; elsewhere the point is its own image.
    shifted = _in_box(w_lon, w_lat)
    out_lon[near] = np.where(shifted, w_lon, g_lon)
    out_lat[near] = np.where(shifted, w_lat, g_lat)
    return out_lon, out_lat


def _gcj_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_K)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_K)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # Start from the usual closed-form approximation (the forward terms with their signs flipped,
    # good to ~1e-6°) and polish it on the exact forward formula.
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_K)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(_MAX_ITER):
        b_lon, b_lat = _gcj_to_bd(g_lon, g_lat)
        r_lon = b_lon - lon
        r_lat = b_lat - lat
        g_lon = g_lon - r_lon
        g_lat = g_lat - r_lat
        if not (np.any(np.abs(r_lon) > _TOL_DEG) or np.any(np.abs(r_lat) > _TOL_DEG)):
            return g_lon, g_lat
    raise ChinaCrsError(  # pragma: no cover - a contraction except within metres of (0°, 0°)
        f"BD-09 -> GCJ-02 did not converge to {_TOL_DEG}° in {_MAX_ITER} iterations; "
        "are these really BD-09 longitude/latitude degrees?"
    )


_Step = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]


def _convert(lon_deg: Any, lat_deg: Any, *steps: _Step) -> Any:
    lon, lat, scalar = _as_arrays(lon_deg, lat_deg)
    finite = np.isfinite(lon) & np.isfinite(lat)
    out_lon = np.full(lon.shape, np.nan)
    out_lat = np.full(lat.shape, np.nan)
    f_lon, f_lat = lon[finite], lat[finite]
    for step in steps:
        f_lon, f_lat = step(f_lon, f_lat)
    out_lon[finite] = f_lon
    out_lat[finite] = f_lat
    return _out(out_lon, out_lat, scalar)


@overload
def in_china(lon_deg: float, lat_deg: float) -> bool: ...
@overload
def in_china(lon_deg: ArrayIn, lat_deg: ArrayIn | float) -> npt.NDArray[np.bool_]: ...
@overload
def in_china(lon_deg: float, lat_deg: ArrayIn) -> npt.NDArray[np.bool_]: ...
def in_china(lon_deg: Any, lat_deg: Any) -> Any:
    """Whether points fall in the box where the GCJ-02 offset is applied.

    This is the conventional test of the open-source GCJ-02 implementations: the box
    72.004°E–137.8347°E, 0.8293°N–55.8271°N (:data:`CHINA_BOX_DEG`, bounds included). It is a
    box, not China's border: Mongolia, the Korean peninsula, much of Japan west of 137.8°E,
    northern South-East Asia and parts of Central and South Asia count as "in China", while
    nothing within China's borders is left out. Web maps differ on disputed areas and on Hong
    Kong, Macao and Taiwan; this function does not try to follow them.

    Parameters
    ----------
    lon_deg, lat_deg
        Longitude and latitude in degrees (WGS-84 or GCJ-02; the box is too coarse to care).
        Scalars or broadcastable arrays.

    Returns
    -------
    bool or numpy.ndarray of bool
        A bool for scalar input, else an array of the broadcast shape. NaN is not in China.

    Raises
    ------
    ChinaCrsError
        When the shapes do not broadcast.
    """
    lon, lat, scalar = _as_arrays(lon_deg, lat_deg)
    inside = _in_box(lon, lat)
    return bool(inside) if scalar else inside


@overload
def wgs84_to_gcj02(lon_deg: float, lat_deg: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon_deg: ArrayIn, lat_deg: ArrayIn | float) -> tuple[FloatArray, FloatArray]: ...
@overload
def wgs84_to_gcj02(lon_deg: float, lat_deg: ArrayIn) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_gcj02(lon_deg: Any, lat_deg: Any) -> Any:
    """WGS-84 (or CGCS2000) longitude/latitude to GCJ-02 (AMap, Tencent, Google China).

    Applies the published GCJ-02 formula (Krasovsky ellipsoid, polynomial + sine series) to
    points inside :func:`in_china`; outside the box GCJ-02 equals WGS-84 and points are
    returned unchanged. Offsets are 100–700 m inside China.

    Parameters
    ----------
    lon_deg, lat_deg
        Longitude and latitude in degrees (WGS-84). Scalars, or arrays that broadcast
        against each other.

    Returns
    -------
    (lon_deg, lat_deg)
        Longitude and latitude in degrees (GCJ-02): a pair of floats for scalar input, else a
        pair of float64 arrays of the broadcast shape. A point with a NaN or infinite
        coordinate gives NaN for both.

    Raises
    ------
    ChinaCrsError
        When the shapes do not broadcast.
    """
    return _convert(lon_deg, lat_deg, _wgs_to_gcj)


@overload
def gcj02_to_wgs84(lon_deg: float, lat_deg: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon_deg: ArrayIn, lat_deg: ArrayIn | float) -> tuple[FloatArray, FloatArray]: ...
@overload
def gcj02_to_wgs84(lon_deg: float, lat_deg: ArrayIn) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_wgs84(lon_deg: Any, lat_deg: Any) -> Any:
    """GCJ-02 longitude/latitude to WGS-84: the inverse of :func:`wgs84_to_gcj02`.

    Solved by fixed-point iteration on the forward formula until the forward image of the
    result matches the input within 1e-9° (≈ 0.1 mm); the result is accurate to far better than
    1 cm. If the solution would lie outside the :func:`in_china` box, the point is returned
    unchanged (GCJ-02 equals WGS-84 there). Within ~1 km of the box edge the forward
    formula is discontinuous, so a few GCJ-02 points there have no exact preimage; they are
    returned unchanged too.

    Parameters
    ----------
    lon_deg, lat_deg
        Longitude and latitude in degrees (GCJ-02). Scalars, or arrays that broadcast
        against each other.

    Returns
    -------
    (lon_deg, lat_deg)
        Longitude and latitude in degrees (WGS-84): a pair of floats for scalar input, else a
        pair of float64 arrays of the broadcast shape. A point with a NaN or infinite
        coordinate gives NaN for both.

    Raises
    ------
    ChinaCrsError
        When the shapes do not broadcast.
    """
    return _convert(lon_deg, lat_deg, _gcj_to_wgs)


@overload
def gcj02_to_bd09(lon_deg: float, lat_deg: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon_deg: ArrayIn, lat_deg: ArrayIn | float) -> tuple[FloatArray, FloatArray]: ...
@overload
def gcj02_to_bd09(lon_deg: float, lat_deg: ArrayIn) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_bd09(lon_deg: Any, lat_deg: Any) -> Any:
    """GCJ-02 longitude/latitude to BD-09 (Baidu "bd09ll").

    The published formula: with x, y the GCJ-02 lon/lat,
    z = sqrt(x² + y²) + 2e-5·sin(3000·π·y/180), θ = atan2(y, x) + 3e-6·cos(3000·π·x/180),
    BD-09 = (z·cos θ + 0.0065, z·sin θ + 0.006). Applied everywhere, inside China or not, as
    Baidu does. Baidu's projected "bd09mc" metres are a different thing and not handled here.

    Parameters
    ----------
    lon_deg, lat_deg
        Longitude and latitude in degrees (GCJ-02). Scalars, or arrays that broadcast
        against each other.

    Returns
    -------
    (lon_deg, lat_deg)
        Longitude and latitude in degrees (BD-09): a pair of floats for scalar input, else a
        pair of float64 arrays of the broadcast shape. A point with a NaN or infinite
        coordinate gives NaN for both.

    Raises
    ------
    ChinaCrsError
        When the shapes do not broadcast.
    """
    return _convert(lon_deg, lat_deg, _gcj_to_bd)


@overload
def bd09_to_gcj02(lon_deg: float, lat_deg: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon_deg: ArrayIn, lat_deg: ArrayIn | float) -> tuple[FloatArray, FloatArray]: ...
@overload
def bd09_to_gcj02(lon_deg: float, lat_deg: ArrayIn) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_gcj02(lon_deg: Any, lat_deg: Any) -> Any:
    """BD-09 longitude/latitude to GCJ-02: the inverse of :func:`gcj02_to_bd09`.

    Starts from the usual closed-form approximation (which alone is off by up to ~1e-6°) and
    iterates on the forward formula until its image matches the input within 1e-9°.

    Parameters
    ----------
    lon_deg, lat_deg
        Longitude and latitude in degrees (BD-09). Scalars, or arrays that broadcast
        against each other.

    Returns
    -------
    (lon_deg, lat_deg)
        Longitude and latitude in degrees (GCJ-02): a pair of floats for scalar input, else a
        pair of float64 arrays of the broadcast shape. A point with a NaN or infinite
        coordinate gives NaN for both.

    Raises
    ------
    ChinaCrsError
        When the shapes do not broadcast.
    """
    return _convert(lon_deg, lat_deg, _bd_to_gcj)


@overload
def wgs84_to_bd09(lon_deg: float, lat_deg: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lon_deg: ArrayIn, lat_deg: ArrayIn | float) -> tuple[FloatArray, FloatArray]: ...
@overload
def wgs84_to_bd09(lon_deg: float, lat_deg: ArrayIn) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_bd09(lon_deg: Any, lat_deg: Any) -> Any:
    """WGS-84 longitude/latitude to BD-09: :func:`wgs84_to_gcj02` then :func:`gcj02_to_bd09`.

    Outside the :func:`in_china` box the GCJ-02 step is the identity, so only the BD-09 step
    (~1 km) is applied there.

    Parameters
    ----------
    lon_deg, lat_deg
        Longitude and latitude in degrees (WGS-84). Scalars, or arrays that broadcast
        against each other.

    Returns
    -------
    (lon_deg, lat_deg)
        Longitude and latitude in degrees (BD-09): a pair of floats for scalar input, else a
        pair of float64 arrays of the broadcast shape. A point with a NaN or infinite
        coordinate gives NaN for both.

    Raises
    ------
    ChinaCrsError
        When the shapes do not broadcast.
    """
    return _convert(lon_deg, lat_deg, _wgs_to_gcj, _gcj_to_bd)


@overload
def bd09_to_wgs84(lon_deg: float, lat_deg: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lon_deg: ArrayIn, lat_deg: ArrayIn | float) -> tuple[FloatArray, FloatArray]: ...
@overload
def bd09_to_wgs84(lon_deg: float, lat_deg: ArrayIn) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_wgs84(lon_deg: Any, lat_deg: Any) -> Any:
    """BD-09 longitude/latitude to WGS-84: :func:`bd09_to_gcj02` then :func:`gcj02_to_wgs84`.

    Outside the :func:`in_china` box the GCJ-02 step is the identity (see
    :func:`gcj02_to_wgs84`).

    Parameters
    ----------
    lon_deg, lat_deg
        Longitude and latitude in degrees (BD-09). Scalars, or arrays that broadcast
        against each other.

    Returns
    -------
    (lon_deg, lat_deg)
        Longitude and latitude in degrees (WGS-84): a pair of floats for scalar input, else a
        pair of float64 arrays of the broadcast shape. A point with a NaN or infinite
        coordinate gives NaN for both.

    Raises
    ------
    ChinaCrsError
        When the shapes do not broadcast.
    """
    return _convert(lon_deg, lat_deg, _bd_to_gcj, _gcj_to_wgs)
