"""Camera optics to ground coverage: lens → HFOV/VFOV, DORI slant ranges, the tilt band on a
target plane, and the annular-sector polygons each camera covers at each DORI level.

Pinhole model throughout (DOMAIN §2): HFOV = 2·atan(w / 2f), pixel density at slant distance D
is PPM = N·f / (w·D), and a tilted camera sees the target plane between the ground ranges of
its lowest and highest frame rays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import true_to_grid_azimuth_deg

__all__ = [
    "DEFAULT_FOCAL_LENGTH_MM",
    "DEFAULT_MOUNT_HEIGHT_M",
    "DEFAULT_RESOLUTION_H_PX",
    "DEFAULT_RESOLUTION_W_PX",
    "DEFAULT_SENSOR_WIDTH_MM",
    "DEFAULT_TILT_DEG",
    "DORI_PPM",
    "LEVELS",
    "FovError",
    "camera_sectors",
    "fov_deg",
    "ground_band_m",
    "lens_report",
    "max_slant_range_m",
]

FloatArray = npt.NDArray[np.float64]
GeomArray = npt.NDArray[np.object_]

#: IEC 62676-4 pixel densities (pixels per metre at the target) for the four DORI levels.
DORI_PPM: dict[str, float] = {"detect": 25.0, "observe": 62.5, "recognise": 125.0,
                              "identify": 250.0}
#: DORI level names, loosest (longest range) first.
LEVELS: tuple[str, ...] = ("detect", "observe", "recognise", "identify")

# Defaults for missing inventory values: a common 1/2.8" 2 MP bullet (5.6 x 3.1 mm active area,
# 4 mm lens, 1920 x 1080) on a 5 m pole tilted 15° down. Every use is reported to the caller.
DEFAULT_SENSOR_WIDTH_MM = 5.6
DEFAULT_FOCAL_LENGTH_MM = 4.0
DEFAULT_RESOLUTION_W_PX = 1920
DEFAULT_RESOLUTION_H_PX = 1080
DEFAULT_MOUNT_HEIGHT_M = 5.0
DEFAULT_TILT_DEG = 15.0

_RING_HFOV_DEG = 359.0  # panoramic cameras at least this wide cover a full ring
_MAX_IDS = 5  # camera ids quoted per message


class FovError(ValueError):
    """Optics or camera data that cannot give a field of view (the message says what to fix)."""


# --------------------------------------------------------------------------- scalar optics


def _as_float_array(name: str, value: npt.ArrayLike) -> FloatArray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FovError(f"{name} must be a number or an array of numbers, got {value!r}") from exc


def _check(name: str, value: FloatArray, ok: npt.NDArray[np.bool_], expected: str) -> None:
    """Raise when an element of ``value`` is infinite or fails ``ok``; NaN passes (unknown)."""
    bad = np.isinf(value) | (np.isfinite(value) & ~ok)
    if np.any(bad):
        first = int(np.flatnonzero(np.ravel(bad))[0])
        where = ("" if value.ndim == 0
                 else f" (element {first}; {np.count_nonzero(bad)} bad in all)")
        raise FovError(f"{name} must be {expected}, got {np.ravel(value)[first]!r}{where}")


def _broadcast(**arrays: npt.ArrayLike) -> list[FloatArray]:
    values = [_as_float_array(k, v) for k, v in arrays.items()]
    try:
        return [np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(*values)]
    except ValueError as exc:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise FovError(f"array shapes do not broadcast: {shapes}") from exc


def _out(a: FloatArray) -> Any:
    return float(a) if a.ndim == 0 else a


@overload
def fov_deg(sensor_width_mm: float, sensor_height_mm: float, focal_length_mm: float
            ) -> tuple[float, float]: ...
@overload
def fov_deg(sensor_width_mm: npt.ArrayLike, sensor_height_mm: npt.ArrayLike,
            focal_length_mm: npt.ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def fov_deg(sensor_width_mm: npt.ArrayLike, sensor_height_mm: npt.ArrayLike,
            focal_length_mm: npt.ArrayLike) -> tuple[Any, Any]:
    """Horizontal and vertical field of view of a pinhole camera.

    Parameters
    ----------
    sensor_width_mm, sensor_height_mm
        Active sensor area the stream uses, in millimetres (scalars or broadcastable arrays;
        NaN means unknown and gives NaN).
    focal_length_mm
        Focal length in millimetres.

    Returns
    -------
    (hfov_deg, vfov_deg)
        ``2·atan(w / 2f)`` and ``2·atan(h / 2f)`` in degrees; floats for scalar input, float64
        arrays of the broadcast shape otherwise.

    Raises
    ------
    FovError
        For a non-positive or infinite size or focal length, or shapes that do not broadcast.
    """
    w, h, f = _broadcast(sensor_width_mm=sensor_width_mm, sensor_height_mm=sensor_height_mm,
                         focal_length_mm=focal_length_mm)
    for name, v in (("sensor_width_mm", w), ("sensor_height_mm", h), ("focal_length_mm", f)):
        _check(name, v, v > 0, "a positive length in mm")
    hfov = np.degrees(2.0 * np.arctan(w / (2.0 * f)))
    vfov = np.degrees(2.0 * np.arctan(h / (2.0 * f)))
    return _out(hfov), _out(vfov)


@overload
def max_slant_range_m(resolution_w_px: float, hfov_deg: float, ppm: float) -> float: ...
@overload
def max_slant_range_m(resolution_w_px: npt.ArrayLike, hfov_deg: npt.ArrayLike,
                      ppm: npt.ArrayLike) -> FloatArray: ...
def max_slant_range_m(resolution_w_px: npt.ArrayLike, hfov_deg: npt.ArrayLike,
                      ppm: npt.ArrayLike) -> Any:
    """Largest slant distance at which a target still gets ``ppm`` pixels per metre.

    ``D_max = N / (2·ppm·tan(HFOV/2))``, the same as ``N·f / (w·ppm)`` (pinhole, on the
    optical axis).

    Parameters
    ----------
    resolution_w_px
        Horizontal pixels N of the stream.
    hfov_deg
        Horizontal field of view in degrees, in (0, 180) (one pinhole image; for a multi-sensor
        panoramic head use one sensor's HFOV).
    ppm
        Required pixel density in pixels per metre (see :data:`DORI_PPM`).

    Returns
    -------
    float or numpy.ndarray
        Slant distance in metres (NaN where an input is NaN).

    Raises
    ------
    FovError
        For N or ppm not positive, HFOV outside (0, 180), or shapes that do not broadcast.
    """
    n, hfov, p = _broadcast(resolution_w_px=resolution_w_px, hfov_deg=hfov_deg, ppm=ppm)
    _check("resolution_w_px", n, n > 0, "a positive pixel count")
    _check("hfov_deg", hfov, (hfov > 0) & (hfov < 180), "in (0, 180) degrees for a pinhole "
           "image")
    _check("ppm", p, p > 0, "a positive pixel density in px/m")
    return _out(n / (2.0 * p * np.tan(np.radians(hfov) / 2.0)))


def _band(h_m: FloatArray, tilt_deg: FloatArray, vfov_deg: FloatArray, slant_m: FloatArray
          ) -> tuple[FloatArray, FloatArray]:
    # A target plane above the lens (h < 0) is the mirror image of one below it seen with the
    # opposite tilt: reflect, and one set of formulas serves both.
    up = h_m < 0
    hh = np.abs(h_m)
    tau = np.where(up, -tilt_deg, tilt_deg)
    lo = tau + vfov_deg / 2.0  # depression of the steepest frame ray
    hi = tau - vfov_deg / 2.0  # depression of the flattest frame ray
    with np.errstate(divide="ignore", invalid="ignore"):
        near = np.where(lo >= 90.0, 0.0, hh / np.tan(np.radians(lo)))
        far_geom = np.where(hi <= 0.0, np.inf, hh / np.tan(np.radians(hi)))
        far_slant = np.sqrt(slant_m * slant_m - hh * hh)  # NaN when the slant limit < h
    far = np.minimum(far_geom, far_slant)
    ok = (lo > 0.0) & (near < far)
    return np.where(ok, near, np.nan), np.where(ok, far, np.nan)


@overload
def ground_band_m(mount_height_m: float, tilt_deg: float, vfov_deg: float,
                  target_height_m: float, slant_max_m: float) -> tuple[float, float]: ...
@overload
def ground_band_m(mount_height_m: npt.ArrayLike, tilt_deg: npt.ArrayLike,
                  vfov_deg: npt.ArrayLike, target_height_m: npt.ArrayLike,
                  slant_max_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def ground_band_m(mount_height_m: npt.ArrayLike, tilt_deg: npt.ArrayLike,
                  vfov_deg: npt.ArrayLike, target_height_m: npt.ArrayLike,
                  slant_max_m: npt.ArrayLike) -> tuple[Any, Any]:
    """Horizontal-distance band in which a target plane is both in frame and resolved.

    With ``h = H − t`` (lens above the target plane) and frame edge depressions
    ``τ ± VFOV/2``: ``near = h / tan(τ + VFOV/2)`` (0 when that ray points at or past the
    nadir), ``far = min(h / tan(τ − VFOV/2), sqrt(D² − h²))`` where the first term is ∞ when
    ``τ ≤ VFOV/2`` (the frame reaches the horizon) and the second is the ground range at the
    slant limit D of the DORI level. The band is empty — (NaN, NaN) — when the whole frame is
    above the horizon, when ``D ≤ h``, or when ``near ≥ far``.

    A target plane above the lens (``h < 0``, e.g. faces at 1.6 m seen by a camera at 1.2 m)
    is handled as the mirror case: it is seen where the frame looks *up* at it
    (``near = |h| / tan(VFOV/2 − τ)``, ...). A plane at lens height (``h = 0``) is seen edge-on,
    from 0 to D, when the horizontal ray is in frame (``−VFOV/2 < τ ≤ VFOV/2``).

    Parameters
    ----------
    mount_height_m
        Lens height H above the ground, metres.
    tilt_deg
        Optical axis below the horizontal, degrees in [−90, 90] (negative: looking up).
    vfov_deg
        Vertical field of view, degrees in (0, 180).
    target_height_m
        Height t of the target plane above the ground, metres (0 ground, 1.6 faces).
    slant_max_m
        Largest slant distance D for the level (:func:`max_slant_range_m`), metres; ``inf``
        for no pixel-density limit.

    Returns
    -------
    (near_m, far_m)
        Horizontal distances from the camera in metres; NaN for both when the band is empty
        (or an input is NaN). Floats for scalar input, arrays of the broadcast shape otherwise.

    Raises
    ------
    FovError
        For tilt outside [−90, 90], VFOV outside (0, 180), a negative slant limit, infinite
        heights, or shapes that do not broadcast.
    """
    h_mount, tilt, vfov, t, d = _broadcast(
        mount_height_m=mount_height_m, tilt_deg=tilt_deg, vfov_deg=vfov_deg,
        target_height_m=target_height_m, slant_max_m=slant_max_m)
    _check("mount_height_m", h_mount, np.isfinite(h_mount), "a finite height in metres")
    _check("target_height_m", t, np.isfinite(t), "a finite height in metres")
    _check("tilt_deg", tilt, (tilt >= -90) & (tilt <= 90), "in [-90, 90] degrees below the "
           "horizontal")
    _check("vfov_deg", vfov, (vfov > 0) & (vfov < 180), "in (0, 180) degrees")
    if np.any(d < 0):
        raise FovError(f"slant_max_m must be >= 0 metres, got {np.min(d)!r}")
    near, far = _band(h_mount - t, tilt, vfov, d)
    return _out(near), _out(far)


def _json_num(v: float, ndigits: int = 3) -> float | None:
    return round(v, ndigits) if math.isfinite(v) else None


def lens_report(
    sensor_width_mm: float,
    focal_length_mm: float,
    resolution_w_px: int,
    *,
    sensor_height_mm: float | None = None,
    mount_height_m: float | None = None,
    tilt_deg: float | None = None,
    target_height_m: float = 1.6,
    ppm: Mapping[str, float] = DORI_PPM,
) -> dict[str, Any]:
    """What one lens achieves at each DORI level, as a JSON-safe dict (for the optics CLI).

    Parameters
    ----------
    sensor_width_mm, focal_length_mm
        Active sensor width and focal length, millimetres.
    resolution_w_px
        Horizontal pixels of the stream.
    sensor_height_mm
        Active sensor height, millimetres; needed for the VFOV and so for the tilt band.
    mount_height_m
        Lens height above the ground, metres; with it each level gets ``ground_range_m``, the
        horizontal range at the slant limit, ``sqrt(D² − (H − t)²)``.
    tilt_deg
        Degrees below the horizontal; with ``mount_height_m`` and ``sensor_height_mm`` each
        level gets the tilt band ``ground_near_m``..``ground_far_m`` (:func:`ground_band_m`).
    target_height_m
        Height of the target plane, metres (1.6 faces, 0 ground).
    ppm
        Level name → pixels per metre, loosest first (default :data:`DORI_PPM`).

    Returns
    -------
    dict
        ``{"hfov_deg", "vfov_deg", "target_height_m", "mount_height_m", "tilt_deg",
        "levels": {name: {"ppm", "max_slant_m", "ground_range_m", "ground_near_m",
        "ground_far_m", "possible"}}}``; distances in metres rounded to mm, angles in degrees.
        Values that do not apply or do not exist (no VFOV without a sensor height, an
        impossible level, an unbounded range) are ``None`` — never NaN or infinity.
        ``possible`` is ``None`` without a tilt band, else whether the level is reachable.

    Raises
    ------
    FovError
        For invalid optics, or a tilt given without the mount height or sensor height it needs.
    """
    for name, v in (("sensor_width_mm", sensor_width_mm), ("focal_length_mm", focal_length_mm),
                    ("resolution_w_px", resolution_w_px)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise FovError(f"{name} must be a positive number, got {v!r}")
    if tilt_deg is not None and (mount_height_m is None or sensor_height_mm is None):
        raise FovError("a tilt band needs mount_height_m and sensor_height_mm (for the VFOV) "
                       "as well as tilt_deg; give both or leave tilt_deg out")
    hfov, _ = fov_deg(sensor_width_mm, sensor_width_mm, focal_length_mm)
    vfov = (fov_deg(sensor_width_mm, sensor_height_mm, focal_length_mm)[1]
            if sensor_height_mm is not None else None)
    levels: dict[str, dict[str, Any]] = {}
    for level, density in ppm.items():
        d = max_slant_range_m(float(resolution_w_px), hfov, float(density))
        entry: dict[str, Any] = {"ppm": density, "max_slant_m": _json_num(d),
                                 "ground_range_m": None, "ground_near_m": None,
                                 "ground_far_m": None, "possible": None}
        if mount_height_m is not None:
            h = float(mount_height_m) - float(target_height_m)
            entry["ground_range_m"] = _json_num(math.sqrt(d * d - h * h)) if d > abs(h) else None
        if tilt_deg is not None and vfov is not None and mount_height_m is not None:
            near, far = ground_band_m(float(mount_height_m), float(tilt_deg), vfov,
                                      float(target_height_m), d)
            entry["ground_near_m"], entry["ground_far_m"] = _json_num(near), _json_num(far)
            entry["possible"] = bool(math.isfinite(near))
        levels[level] = entry
    return {
        "hfov_deg": _json_num(hfov), "vfov_deg": None if vfov is None else _json_num(vfov),
        "target_height_m": float(target_height_m),
        "mount_height_m": None if mount_height_m is None else float(mount_height_m),
        "tilt_deg": None if tilt_deg is None else float(tilt_deg),
        "levels": levels,
    }


# --------------------------------------------------------------------------- polygons


def _sector_polygons(cx: FloatArray, cy: FloatArray, az_deg: FloatArray, hfov_deg: FloatArray,
                     near_m: FloatArray, far_m: FloatArray, arc_step_deg: float) -> GeomArray:
    """Annular sectors [near, far] x [az − hfov/2, az + hfov/2] around each point.

    ``near_m`` and ``far_m`` are (points, levels); the result has that shape, None where
    ``near_m`` is NaN. Arc vertices lie on the circles (the polygon is inscribed: it never
    claims beyond far); a zero near radius collapses the near arc to the apex (a pie slice).
    Sectors with the same vertex count are built as one (k, vertices, 2) array and one
    ``shapely.polygons`` call; an inventory has a handful of distinct counts, not one per
    camera, and the arc directions are computed once for all levels.
    """
    out: GeomArray = np.full(near_m.shape, None, dtype=object)
    if out.size == 0:
        return out
    nseg = np.maximum(1, np.ceil(hfov_deg / arc_step_deg - 1e-9)).astype(np.int64)
    for segs in np.unique(nseg):
        group = np.flatnonzero(nseg == segs)
        m = int(segs) + 1
        start = np.radians(az_deg[group] - hfov_deg[group] / 2.0)
        step = np.radians(hfov_deg[group]) / int(segs)
        ang = start[:, None] + step[:, None] * np.arange(m)
        ux, uy = np.sin(ang), np.cos(ang)
        for j in range(near_m.shape[1]):
            near, far = near_m[group, j], far_m[group, j]
            for is_pie in (True, False):
                sel = np.flatnonzero((near <= 0.0) if is_pie else (near > 0.0))
                if len(sel) == 0:
                    continue
                g = group[sel]
                x0, y0 = cx[g, None], cy[g, None]
                coords = np.empty((len(sel), 2 * m + 1 if not is_pie else m + 2, 2))
                r = far[sel, None]
                coords[:, :m, 0] = x0 + r * ux[sel]
                coords[:, :m, 1] = y0 + r * uy[sel]
                if is_pie:
                    coords[:, m, 0], coords[:, m, 1] = cx[g], cy[g]
                else:
                    r = near[sel, None]
                    coords[:, m:2 * m, 0] = x0 + r * ux[sel, ::-1]
                    coords[:, m:2 * m, 1] = y0 + r * uy[sel, ::-1]
                coords[:, -1] = coords[:, 0]
                out[g, j] = shapely.polygons(coords)
    return out


def _circles(cx: FloatArray, cy: FloatArray, r: FloatArray, arc_step_deg: float) -> GeomArray:
    nseg = max(3, math.ceil(360.0 / arc_step_deg - 1e-9))
    ang = np.radians(np.arange(nseg + 1) * (360.0 / nseg))
    ang[-1] = 0.0  # close exactly
    coords = np.stack([cx[:, None] + r[:, None] * np.sin(ang),
                       cy[:, None] + r[:, None] * np.cos(ang)], axis=-1)
    rings: GeomArray = shapely.linearrings(coords)
    return rings


def _ring_polygons(cx: FloatArray, cy: FloatArray, near_m: FloatArray, far_m: FloatArray,
                   arc_step_deg: float) -> GeomArray:
    """Annuli [near, far] around each point (discs where near is 0)."""
    out: GeomArray = np.empty(len(cx), dtype=object)
    if len(cx) == 0:
        return out
    shells = _circles(cx, cy, far_m, arc_step_deg)
    holed = near_m > 0.0
    out[~holed] = shapely.polygons(shells[~holed])
    if np.any(holed):
        holes = _circles(cx[holed], cy[holed], near_m[holed], arc_step_deg)
        out[holed] = shapely.polygons(shells[holed], holes=holes[:, None])
    return out


# --------------------------------------------------------------------------- inventory columns


@dataclass
class _Notes:
    ids: npt.NDArray[np.object_]
    messages: list[str]

    def add(self, mask: npt.NDArray[np.bool_], text: str) -> None:
        count = int(np.count_nonzero(mask))
        if count:
            shown = ", ".join(str(i) for i in self.ids[mask][:_MAX_IDS])
            more = ", ..." if count > _MAX_IDS else ""
            noun = "camera" if count == 1 else "cameras"
            self.messages.append(f"{count} {noun} {text} (camera_id {shown}{more})")


def _number_column(frame: pd.DataFrame, name: str, valid: Any, expected: str, notes: _Notes
                   ) -> FloatArray:
    """Column as float64 with NaN for missing; present-but-invalid values reported, then NaN."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[name]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    given = raw.notna().to_numpy()
    with np.errstate(invalid="ignore"):
        good = np.isfinite(values) & valid(values)
    notes.add(given & ~good, f"with {name} not {expected}: treated as unknown")
    return np.where(good, values, np.nan)


def _bool_column(frame: pd.DataFrame, name: str) -> npt.NDArray[np.bool_]:
    if name not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    raw = frame[name].to_numpy()
    if raw.dtype == np.bool_:
        return np.asarray(raw, dtype=bool)
    return np.array([isinstance(v, (bool, np.bool_)) and bool(v) for v in raw], dtype=bool)


def _presets(frame: pd.DataFrame, ids: npt.NDArray[np.object_], use: npt.NDArray[np.bool_]
             ) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray, int]:
    """Flatten the preset lists of the cameras in ``use``: (camera index, true az, tilt, bad)."""
    cam: list[int] = []
    az: list[float] = []
    tilt: list[float] = []
    bad = 0
    if "ptz_presets" not in frame.columns:
        return np.empty(0, np.int64), np.empty(0), np.empty(0), 0
    column = frame["ptz_presets"].to_numpy()
    for i in np.flatnonzero(use):
        presets = column[i]
        if presets is None or (isinstance(presets, float) and math.isnan(presets)):
            continue
        if not isinstance(presets, (list, tuple, np.ndarray)):
            raise FovError(f"camera_id {ids[i]}: ptz_presets must be a list of "
                           f"{{'name', 'azimuth_deg', 'tilt_deg'}} objects, got {presets!r}")
        for p in presets:
            if not isinstance(p, Mapping):
                raise FovError(f"camera_id {ids[i]}: each PTZ preset must be an object with "
                               f"azimuth_deg and tilt_deg, got {p!r}")
            a, t = _finite_or_nan(p.get("azimuth_deg")), _finite_or_nan(p.get("tilt_deg"))
            if math.isnan(a) or abs(t) > 90.0:  # a NaN tilt is fine: the camera's is used
                bad += 1
                continue
            cam.append(int(i))
            az.append(a)
            tilt.append(t)
    return (np.asarray(cam, dtype=np.int64), np.asarray(az, dtype=np.float64),
            np.asarray(tilt, dtype=np.float64), bad)


def _finite_or_nan(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _metric_crs(cameras: gpd.GeoDataFrame) -> CRS:
    if cameras.crs is None:
        raise FovError("cameras have no CRS; project them to a metric CRS first "
                       "(e.g. cameras.to_crs(gis.crs.metric_crs_for(cameras)))")
    crs = CRS.from_user_input(cameras.crs)
    units = {a.unit_name.lower() for a in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter", "m"}:
        raise FovError(f"cameras are in {crs.name!r}, not a projected CRS in metres; project "
                       "them first (e.g. cameras.to_crs(gis.crs.metric_crs_for(cameras)))")
    return crs


# --------------------------------------------------------------------------- camera sectors


def camera_sectors(
    cameras: gpd.GeoDataFrame,
    *,
    levels: Sequence[str] = LEVELS,
    ppm: Mapping[str, float] = DORI_PPM,
    target_height_m: float = 0.0,
    unknown_azimuth: Literal["skip", "ring"] = "skip",
    arc_step_deg: float = 2.0,
    ptz_coverage: Literal["presets", "any_direction"] = "presets",
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Ground-coverage polygon of every camera at every DORI level.

    Each polygon is the annular sector [near, far] x HFOV around the camera's grid azimuth,
    with near/far from :func:`ground_band_m` on the target plane and the level's slant limit
    (:func:`max_slant_range_m`). Levels are nested for one camera (tighter level ⊂ looser)
    when ``levels`` are given loosest first with increasing ppm.

    How each camera is drawn:

    - ``ptz`` / ``dome`` with ``ptz_presets``: the union over presets, each with its own
      azimuth (true north) and tilt (the camera's tilt where a preset has none). With
      ``ptz_coverage="any_direction"``, such cameras that are also ``any_direction`` get the
      full ring instead (what they *can* see rather than what their tour watches).
    - ``any_direction`` (without presets used), or ``panoramic`` with HFOV ≥ 359°, or any HFOV
      of 360°: the full annulus [near, far] with near/far from the camera's tilt.
    - otherwise a sector around ``azimuth_deg``; a camera with an unknown azimuth is left out
      (``unknown_azimuth="skip"``) or drawn as a ring (``"ring"``); both are reported.

    Missing values take documented defaults, and every use is reported in the messages:
    optics of a 1/2.8" bullet (sensor width :data:`DEFAULT_SENSOR_WIDTH_MM` mm, focal
    :data:`DEFAULT_FOCAL_LENGTH_MM` mm), :data:`DEFAULT_RESOLUTION_W_PX` x
    :data:`DEFAULT_RESOLUTION_H_PX` px, mount :data:`DEFAULT_MOUNT_HEIGHT_M` m, tilt
    :data:`DEFAULT_TILT_DEG`° down. Optics are resolved per camera as follows:

    - sector width: ``hfov_deg`` if given, else ``2·atan(w / 2f)``;
    - pixel density: from ``sensor_width_mm`` and ``focal_length_mm`` when both are known (per
      sensor, so a multi-sensor panoramic head whose ``hfov_deg`` is the total works), else
      from ``hfov_deg`` (< 180°, pinhole; ≥ 180° without a lens: ``N`` pixels spread evenly
      over the angle, reported), else defaults for the missing lens values;
    - VFOV: sensor height over sensor width (or focal length), else the resolution's aspect
      ratio applied to the horizontal FOV (square pixels, reported), else 16:9 (reported).

    Parameters
    ----------
    cameras
        Points in a projected CRS in metres (``cameras.crs``; project first, e.g. with
        :func:`gis.crs.metric_crs_for`). Columns: ``camera_id``, ``geometry`` and, each
        optional and NaN/None where unknown: ``mount_height_m`` (m above ground),
        ``azimuth_deg`` (degrees clockwise from TRUE north; rotated here to grid north for
        the CRS at each camera), ``tilt_deg`` (degrees below horizontal), ``hfov_deg``,
        ``sensor_width_mm``, ``sensor_height_mm``, ``focal_length_mm``, ``resolution_w_px``,
        ``resolution_h_px``, ``any_direction`` (bool), ``camera_type``
        (fixed|dome|ptz|panoramic), ``ptz_presets`` (list of ``{"name", "azimuth_deg",
        "tilt_deg"}``, true-north azimuths).
    levels
        Level names to draw, keys of ``ppm``.
    ppm
        Level name → pixels per metre (default :data:`DORI_PPM`, IEC 62676-4).
    target_height_m
        Height of the target plane above ground in metres (0 ground, 1.6 faces).
    unknown_azimuth
        What to do with a sector camera whose azimuth is unknown: "skip" or "ring".
    arc_step_deg
        Largest angle between arc vertices, degrees (edge rays are always vertices). Arcs are
        inscribed, so areas are low by at most a factor ``sin(δ)/δ`` (0.02 % at 2°).
    ptz_coverage
        "presets" (default) or "any_direction", see above.

    Returns
    -------
    (sectors, messages)
        ``sectors``: GeoDataFrame in the cameras' CRS, one row per camera and reachable level,
        in camera then level order, columns ``camera_id``, ``level``, ``near_m``, ``far_m``
        (horizontal distances, m; over presets the smallest near and largest far),
        ``azimuth_deg`` (grid north, degrees in [0, 360); NaN for rings and preset unions),
        ``hfov_deg`` (the sector width; 360 for rings, one preset's width for preset unions),
        ``coverage_kind`` ("sector", "presets" or "ring"),
        ``geometry`` (Polygon, or MultiPolygon for disjoint presets). Unreachable levels
        (tilt band empty) have no row. ``messages``: one sentence per assumption or skip, with
        counts and the first camera ids.

    Raises
    ------
    FovError
        When the CRS is missing or not metric, ``camera_id`` is missing, a geometry is not a
        point, a level is unknown, a ppm or ``arc_step_deg`` is not positive, or
        ``ptz_presets`` is not a list of objects.
    """
    crs = _metric_crs(cameras)
    if "camera_id" not in cameras.columns:
        raise FovError("cameras need a camera_id column (rename device_id or id to camera_id)")
    if len(levels) == 0:
        raise FovError(f"levels must name at least one DORI level, e.g. {LEVELS}")
    unknown = [lv for lv in levels if lv not in ppm]
    if unknown:
        raise FovError(f"unknown DORI level(s) {unknown}; known: {list(ppm)}")
    level_ppm = np.array([float(ppm[lv]) for lv in levels], dtype=np.float64)
    if not np.all(np.isfinite(level_ppm) & (level_ppm > 0)):
        raise FovError(f"ppm must be positive pixels per metre, got {dict(ppm)}")
    if not (math.isfinite(arc_step_deg) and 0.0 < arc_step_deg <= 45.0):
        raise FovError(f"arc_step_deg must be in (0, 45] degrees, got {arc_step_deg!r}")
    if not math.isfinite(target_height_m):
        raise FovError(f"target_height_m must be finite metres, got {target_height_m!r}")
    if unknown_azimuth not in ("skip", "ring"):
        raise FovError(f"unknown_azimuth must be 'skip' or 'ring', got {unknown_azimuth!r}")
    if ptz_coverage not in ("presets", "any_direction"):
        raise FovError(f"ptz_coverage must be 'presets' or 'any_direction', got "
                       f"{ptz_coverage!r}")

    frame = pd.DataFrame(cameras)
    ids = frame["camera_id"].to_numpy(dtype=object)
    notes = _Notes(ids, [])
    geoms = np.asarray(cameras.geometry.to_numpy(), dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    not_point = present & (shapely.get_type_id(geoms) != shapely.GeometryType.POINT)
    if np.any(not_point):
        raise FovError(f"camera geometry must be points; camera_id "
                       f"{', '.join(str(i) for i in ids[not_point][:_MAX_IDS])} "
                       f"{'is' if np.count_nonzero(not_point) == 1 else 'are'} not")
    notes.add(~present, "without a location: skipped")
    n = len(frame)
    cx = np.full(n, np.nan)
    cy = np.full(n, np.nan)
    cx[present] = shapely.get_x(geoms[present])
    cy[present] = shapely.get_y(geoms[present])

    def positive(v: FloatArray) -> npt.NDArray[np.bool_]:
        return v > 0

    w = _number_column(frame, "sensor_width_mm", positive, "a positive length in mm", notes)
    hs = _number_column(frame, "sensor_height_mm", positive, "a positive length in mm", notes)
    f = _number_column(frame, "focal_length_mm", positive, "a positive length in mm", notes)
    res_w = _number_column(frame, "resolution_w_px", positive, "a positive pixel count", notes)
    res_h = _number_column(frame, "resolution_h_px", positive, "a positive pixel count", notes)
    hfov_col = _number_column(frame, "hfov_deg", lambda v: (v > 0) & (v <= 360),
                              "in (0, 360] degrees", notes)
    mount = _number_column(frame, "mount_height_m", np.isfinite, "a finite height", notes)
    tilt = _number_column(frame, "tilt_deg", lambda v: (v >= -90) & (v <= 90),
                          "in [-90, 90] degrees", notes)
    az_true = _number_column(frame, "azimuth_deg", np.isfinite, "a finite angle", notes)
    any_dir = _bool_column(frame, "any_direction")
    ctype = (frame["camera_type"].astype("string").str.lower().fillna("fixed").to_numpy(
        dtype=object) if "camera_type" in frame.columns else np.full(n, "fixed", dtype=object))

    # --- optics: horizontal half-angle tangent of one pinhole image (th), its VFOV, N
    lens = np.isfinite(w) & np.isfinite(f)
    from_hfov = ~lens & np.isfinite(hfov_col)
    defaults = ~lens & ~from_hfov & present
    notes.add(defaults & np.isnan(w), f"without sensor_width_mm (and no hfov_deg): assumed "
              f"{DEFAULT_SENSOR_WIDTH_MM} mm (1/2.8\")")
    notes.add(defaults & np.isnan(f), f"without focal_length_mm (and no hfov_deg): assumed "
              f"{DEFAULT_FOCAL_LENGTH_MM} mm")
    w_eff = np.where(np.isnan(w), DEFAULT_SENSOR_WIDTH_MM, w)
    f_eff = np.where(np.isnan(f), DEFAULT_FOCAL_LENGTH_MM, f)
    wide = from_hfov & (hfov_col >= 180.0)
    notes.add(wide & present, "with hfov_deg >= 180 and no sensor width/focal length: pixel "
              "density taken as resolution_w_px spread evenly over the HFOV")
    with np.errstate(invalid="ignore"):
        th = np.where(lens | defaults, w_eff / (2.0 * f_eff),
                      np.where(wide, np.radians(hfov_col) / 2.0,
                               np.tan(np.radians(np.minimum(hfov_col, 179.0)) / 2.0)))
    sector_hfov = np.where(np.isfinite(hfov_col), hfov_col, np.degrees(2.0 * np.arctan(th)))
    notes.add(np.isnan(res_w) & present,
              f"without resolution_w_px: assumed {DEFAULT_RESOLUTION_W_PX} px")
    n_px = np.where(np.isnan(res_w), DEFAULT_RESOLUTION_W_PX, res_w)
    sensor_aspect = np.where(np.isfinite(hs) & np.isfinite(w), hs / w, np.nan)
    tv = np.where(np.isfinite(sensor_aspect), th * sensor_aspect,
                  np.where(np.isfinite(hs) & np.isfinite(f), hs / (2.0 * f), np.nan))
    by_res = np.isnan(tv) & np.isfinite(res_w) & np.isfinite(res_h)
    by_default = np.isnan(tv) & ~by_res
    notes.add(by_res & present, "without sensor_height_mm: VFOV from the HFOV and the "
              "resolution's aspect ratio (square pixels)")
    notes.add(by_default & present, "without sensor_height_mm or a full resolution: VFOV from "
              "the HFOV and a 16:9 aspect ratio")
    aspect = np.where(by_res, res_h / np.where(by_res, res_w, 1.0),
                      DEFAULT_RESOLUTION_H_PX / DEFAULT_RESOLUTION_W_PX)
    tv = np.where(np.isnan(tv), th * aspect, tv)
    vfov = np.degrees(2.0 * np.arctan(tv))
    notes.add(np.isnan(mount) & present,
              f"without mount_height_m: assumed {DEFAULT_MOUNT_HEIGHT_M} m")
    mount = np.where(np.isnan(mount), DEFAULT_MOUNT_HEIGHT_M, mount)

    # --- how each camera is drawn
    ptz_like = np.isin(ctype, ("ptz", "dome"))
    pcam, paz, ptilt, bad_presets = _presets(frame, ids, ptz_like & present)
    has_presets = np.zeros(n, dtype=bool)
    has_presets[pcam] = True
    if bad_presets:
        notes.messages.append(f"{bad_presets} PTZ preset(s) without a valid azimuth_deg/tilt_deg "
                              "ignored")
    if ptz_coverage == "any_direction":
        keep = ~any_dir[pcam]
        pcam, paz, ptilt = pcam[keep], paz[keep], ptilt[keep]
        has_presets &= ~any_dir
    full = (any_dir | ((ctype == "panoramic") & (sector_hfov >= _RING_HFOV_DEG))
            | (sector_hfov >= 360.0))
    ring = present & ~has_presets & full
    sector = present & ~has_presets & ~full
    no_az = sector & np.isnan(az_true)
    if unknown_azimuth == "skip":
        notes.add(no_az, "with unknown azimuth_deg and not any_direction: skipped (no coverage)")
        sector &= ~no_az
    else:
        notes.add(no_az, "with unknown azimuth_deg: drawn as a full ring (any direction)")
        ring |= no_az
        sector &= ~no_az
    used = ring | sector | has_presets
    notes.add(np.isnan(tilt) & (ring | sector), f"without tilt_deg: assumed "
              f"{DEFAULT_TILT_DEG}° down")
    preset_no_tilt = np.isnan(ptilt) & np.isnan(tilt[pcam])
    if np.any(preset_no_tilt):
        notes.add(np.isin(np.arange(n), pcam[preset_no_tilt]), "with PTZ presets and no "
                  f"tilt_deg: assumed {DEFAULT_TILT_DEG}° down")
    tilt = np.where(np.isnan(tilt), DEFAULT_TILT_DEG, tilt)
    ptilt = np.where(np.isnan(ptilt), tilt[pcam], ptilt)

    # --- views: one per sector camera, ring camera, and preset
    sec_i = np.flatnonzero(sector)
    ring_i = np.flatnonzero(ring)
    v_cam = np.concatenate([sec_i, ring_i, pcam])
    v_kind = np.concatenate([np.zeros(len(sec_i), np.int8), np.ones(len(ring_i), np.int8),
                             np.full(len(pcam), 2, np.int8)])
    v_tilt = np.concatenate([tilt[sec_i], tilt[ring_i], ptilt])
    v_az_true = np.concatenate([az_true[sec_i], np.full(len(ring_i), np.nan), paz])
    v_az = np.full(len(v_cam), np.nan)
    aim = v_kind != 1
    if np.any(aim):
        v_az[aim] = true_to_grid_azimuth_deg(crs, cx[v_cam[aim]], cy[v_cam[aim]],
                                             v_az_true[aim])
    v_hfov = np.where(v_kind == 1, 360.0, sector_hfov[v_cam])

    # Pixel density limit per view and level, then the tilt band (views x levels).
    slant = n_px[v_cam, None] / (2.0 * th[v_cam, None] * level_ppm[None, :])
    near, far = _band((mount[v_cam] - target_height_m)[:, None], v_tilt[:, None],
                      vfov[v_cam, None], slant)
    reach = np.isfinite(near)

    # Sectors for all levels (grouped by vertex count), then rings and preset unions per level.
    cam_out: list[npt.NDArray[np.int64]] = []
    lvl_out: list[npt.NDArray[np.int64]] = []
    geom_out: list[GeomArray] = []
    near_out: list[FloatArray] = []
    far_out: list[FloatArray] = []
    az_out: list[FloatArray] = []
    hfov_out: list[FloatArray] = []
    kind_out: list[npt.NDArray[np.int8]] = []
    aimed = v_kind != 1
    sector_geoms: GeomArray = np.full(near.shape, None, dtype=object)
    sector_geoms[aimed] = _sector_polygons(cx[v_cam[aimed]], cy[v_cam[aimed]], v_az[aimed],
                                           v_hfov[aimed], near[aimed], far[aimed],
                                           arc_step_deg)
    for j in range(len(levels)):
        ok = reach[:, j]
        r = np.flatnonzero(ok & (v_kind == 1))
        geom = sector_geoms[:, j].copy()
        geom[r] = _ring_polygons(cx[v_cam[r]], cy[v_cam[r]], near[r, j], far[r, j],
                                 arc_step_deg)
        single = np.flatnonzero(ok & (v_kind != 2))
        cam_out.append(v_cam[single])
        lvl_out.append(np.full(len(single), j, dtype=np.int64))
        geom_out.append(geom[single])
        near_out.append(near[single, j])
        far_out.append(far[single, j])
        az_out.append(v_az[single])
        hfov_out.append(v_hfov[single])
        kind_out.append(v_kind[single])
        # Preset unions: a padded (camera x preset) array, one union_all over its rows.
        p = np.flatnonzero(ok & (v_kind == 2))
        if len(p):
            cams, inverse = np.unique(v_cam[p], return_inverse=True)
            slot = np.zeros(len(p), dtype=np.int64)
            order = np.argsort(inverse, kind="stable")
            first = np.searchsorted(inverse[order], np.arange(len(cams)))
            slot[order] = np.arange(len(p)) - first[inverse[order]]
            grid = np.full((len(cams), int(slot.max()) + 1), None, dtype=object)
            grid[inverse, slot] = geom[p]
            cam_out.append(cams)
            lvl_out.append(np.full(len(cams), j, dtype=np.int64))
            geom_out.append(np.asarray(shapely.union_all(grid, axis=1), dtype=object))
            near_out.append(np.minimum.reduceat(near[p[order], j], first))
            far_out.append(np.maximum.reduceat(far[p[order], j], first))
            az_out.append(np.full(len(cams), np.nan))
            hfov_out.append(sector_hfov[cams])
            kind_out.append(np.full(len(cams), 2, np.int8))

    cam_all = np.concatenate(cam_out)
    lvl_all = np.concatenate(lvl_out)
    order = np.lexsort((lvl_all, cam_all))
    covered = np.zeros(n, dtype=bool)
    covered[cam_all] = True
    notes.add(used & ~covered, "with no DORI level reachable on the target plane (frame above "
              "the horizon, or the lens too wide for the mount height): no coverage")
    kinds = np.array(["sector", "ring", "presets"], dtype=object)
    result = gpd.GeoDataFrame(
        {
            "camera_id": ids[cam_all[order]],
            "level": np.asarray(levels, dtype=object)[lvl_all[order]] if len(order) else
            np.empty(0, dtype=object),
            "near_m": np.concatenate(near_out)[order],
            "far_m": np.concatenate(far_out)[order],
            "azimuth_deg": np.concatenate(az_out)[order],
            "hfov_deg": np.concatenate(hfov_out)[order],
            "coverage_kind": kinds[np.concatenate(kind_out)[order]],
        },
        geometry=np.concatenate(geom_out)[order],
        crs=cameras.crs,
    )
    return result, notes.messages
