"""Fast reprojection of many geometries from a city's metric CRS to longitude/latitude.

Over a city-sized extent the map from a transverse Mercator grid (UTM, CGCS2000
Gauss-Krüger) to longitude/latitude is smooth enough that a bivariate polynomial of low
degree reproduces PROJ to well under a millimetre, and evaluating it is several times faster
than calling PROJ for millions of vertices. Each fit is checked against PROJ on an independent
grid of points before it is used; when it does not reach the tolerance (a very large extent),
PROJ itself transforms every vertex.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer

__all__ = ["PolynomialFit", "fit_to_lonlat", "to_lonlat"]

FloatArray = npt.NDArray[np.float64]
GeomArray = npt.NDArray[np.object_]

_M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)
_FIT_NODES = 24  # Chebyshev nodes per axis for the least-squares fit
_CHECK_NODES = 41  # independent check grid per axis (plus its cell centres)
_CHUNK = 1 << 20  # vertices evaluated at a time (bounds the temporary arrays)


@dataclass(frozen=True)
class PolynomialFit:
    """Longitude and latitude (degrees) as polynomials of the scaled grid coordinates.

    ``max_error_m`` is the largest distance from PROJ's answer found on the check grid.
    """

    centre: tuple[float, float]
    half: tuple[float, float]
    degree: int
    lon_coef: FloatArray
    lat_coef: FloatArray
    max_error_m: float

    def __call__(self, xy: FloatArray) -> FloatArray:
        """(N, 2) grid metres -> (N, 2) longitude, latitude in degrees."""
        out = np.empty_like(xy, dtype=np.float64)
        for start in range(0, len(xy), _CHUNK):
            part = xy[start:start + _CHUNK]
            terms = _terms((part[:, 0] - self.centre[0]) / self.half[0],
                           (part[:, 1] - self.centre[1]) / self.half[1], self.degree)  # fmt: skip
            out[start:start + _CHUNK, 0] = _evaluate(terms, self.lon_coef)
            out[start:start + _CHUNK, 1] = _evaluate(terms, self.lat_coef)
        return out


def _terms(u: FloatArray, v: FloatArray, degree: int) -> list[FloatArray]:
    """u**i * v**j for every i + j <= degree, in a fixed order."""
    pu = [np.ones_like(u)]
    pv = [np.ones_like(v)]
    for _ in range(degree):
        pu.append(pu[-1] * u)
        pv.append(pv[-1] * v)
    return [pu[i] * pv[j] for i in range(degree + 1) for j in range(degree + 1 - i)]


def _evaluate(terms: list[FloatArray], coef: FloatArray) -> FloatArray:
    acc = np.zeros_like(terms[0])
    for t, c in zip(terms, coef, strict=True):
        acc += c * t
    return acc


def fit_to_lonlat(
    crs: Any,
    bounds: tuple[float, float, float, float],
    *,
    tolerance_m: float = 0.001,
    max_degree: int = 9,
) -> PolynomialFit | None:
    """A checked polynomial for ``crs`` (projected, metres) -> EPSG:4326 over ``bounds``
    (xmin, ymin, xmax, ymax in metres), or None when no degree up to ``max_degree`` stays
    within ``tolerance_m`` of PROJ on the check grid."""
    x0, y0, x1, y1 = (float(b) for b in bounds)
    if not all(np.isfinite([x0, y0, x1, y1])) or x1 < x0 or y1 < y0:
        return None
    exact = Transformer.from_crs(CRS.from_user_input(crs), 4326, always_xy=True)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = max((x1 - x0) / 2, 1.0), max((y1 - y0) / 2, 1.0)
    k = np.arange(_FIT_NODES)
    nodes = np.cos(np.pi * (2 * k + 1) / (2 * _FIT_NODES))  # Chebyshev nodes in (-1, 1)
    nodes = np.concatenate([nodes, [-1.0, 1.0]])
    fu, fv = (a.ravel() for a in np.meshgrid(nodes, nodes))
    flon, flat = exact.transform(cx + hx * fu, cy + hy * fv)
    g = np.linspace(-1.0, 1.0, _CHECK_NODES)
    mid = (g[:-1] + g[1:]) / 2
    cu = np.concatenate([a.ravel() for a in np.meshgrid(g, g)][:1]
                        + [a.ravel() for a in np.meshgrid(mid, mid)][:1])  # fmt: skip
    cv = np.concatenate([a.ravel() for a in np.meshgrid(g, g)][1:]
                        + [a.ravel() for a in np.meshgrid(mid, mid)][1:])  # fmt: skip
    clon, clat = exact.transform(cx + hx * cu, cy + hy * cv)
    if not (np.isfinite(flon).all() and np.isfinite(clon).all()):
        return None
    coslat = np.cos(np.radians(np.asarray(clat)))
    for degree in range(3, max_degree + 1):
        design = np.column_stack(_terms(fu, fv, degree))
        lon_coef = np.linalg.lstsq(design, flon, rcond=None)[0]
        lat_coef = np.linalg.lstsq(design, flat, rcond=None)[0]
        check = _terms(cu, cv, degree)
        dlon = (_evaluate(check, lon_coef) - clon) * coslat
        dlat = _evaluate(check, lat_coef) - clat
        err = float(np.max(np.hypot(dlon, dlat)) * _M_PER_DEG)
        if err <= tolerance_m:
            return PolynomialFit((cx, cy), (hx, hy), degree, lon_coef, lat_coef, err)
    return None


def to_lonlat(geoms: Any, crs: Any, *, tolerance_m: float = 0.001) -> tuple[GeomArray, float]:
    """Geometries in the projected ``crs`` (metres) as EPSG:4326 longitude/latitude.

    Returns the geometries and the largest deviation from PROJ in metres that the fit showed
    on its check grid (0.0 when PROJ transformed every vertex itself).
    """
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    present = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    if not present.any():
        return arr.copy(), 0.0
    b = shapely.bounds(arr[present])
    bounds = (float(np.min(b[:, 0])), float(np.min(b[:, 1])),
              float(np.max(b[:, 2])), float(np.max(b[:, 3])))  # fmt: skip
    fit = fit_to_lonlat(crs, bounds, tolerance_m=tolerance_m)
    if fit is not None:
        return np.asarray(shapely.transform(arr, fit), dtype=object), fit.max_error_m
    exact = Transformer.from_crs(CRS.from_user_input(crs), 4326, always_xy=True)

    def proj(xy: FloatArray) -> FloatArray:
        lon, lat = exact.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return np.asarray(shapely.transform(arr, proj), dtype=object), 0.0
