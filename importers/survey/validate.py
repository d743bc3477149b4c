"""Row validation of survey inventories: text cells in, typed rows (EPSG:4326) and row errors out.

Every rule reports the file, the row as the user sees it, the field (and its header in the
file), the value and the reason. Rules that need other rows or the store (duplicates, ids
already stored) run later on the staging table; this module sees one batch at a time.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.gb28181 import DeviceIdError, parse_device_id
from importers.survey.columns import POINT_KINDS, ColumnMap
from importers.survey.text import normalise_number_text

GEOMETRY = "__geometry__"
ROW = "__row__"

CAMERA_TYPE_CODES = {"131", "132"}  # camera, IP camera (GB/T 28181)
MAX_ERRORS_KEPT = 10_000


@dataclass(frozen=True)
class RowError:
    """One rejected value: where it is, what it was, why it is wrong."""

    file: str
    row: int
    field: str
    value: str | None
    reason: str
    header: str | None = None

    def __str__(self) -> str:
        col = (
            self.field
            if not self.header or self.header == self.field
            else (f"{self.field} ({self.header})")
        )
        val = "" if self.value is None else f" = {self.value!r}"
        return f"{self.file}: row {self.row}, field {col}{val}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "row": self.row, "field": self.field, "header": self.header,
            "value": self.value, "reason": self.reason,
        }  # fmt: skip


class ImportRowError(ValueError):
    """An import refused because of bad rows; ``errors`` lists them (the first ones kept)."""

    def __init__(self, errors: list[RowError], total: int | None = None, shown: int = 20):
        self.errors = errors
        self.total = total if total is not None else len(errors)
        lines = [str(e) for e in errors[:shown]]
        more = self.total - len(lines)
        if more > 0:
            lines.append(f"... and {more} more (see the report: --report FILE)")
        super().__init__(
            f"{self.total} invalid value(s); nothing was written:\n" + "\n".join(lines)
        )


@dataclass
class Context:
    """What validation needs from outside the file (the store's city, for example).

    ``jurisdictions``: id, code, name, level, admin_code, geometry (EPSG:4326) or empty.
    ``city_extent``: polygon (EPSG:4326) rows must fall into, or None to skip that check.
    """

    file: str
    kind: str
    columns: ColumnMap
    to_wgs84: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    jurisdictions: gpd.GeoDataFrame
    city_extent: shapely.Geometry | None
    fix_geometry: bool = False
    repaired: list[str] = field(default_factory=list)


# -- value vocabularies ------------------------------------------------------------------

BOOLEAN = {
    "是": True, "否": False, "有": True, "无": False, "y": True, "n": False, "yes": True,
    "no": False, "true": True, "false": False, "1": True, "0": False, "√": True, "×": False,
    "t": True, "f": False, "对": True, "错": False,
}  # fmt: skip
STATUS = {
    "online": "online", "在线": "online", "正常": "online", "offline": "offline",
    "离线": "offline", "fault": "fault", "故障": "fault", "异常": "fault", "损坏": "fault",
    "unknown": "unknown", "未知": "unknown",
}  # fmt: skip
CAMERA_KIND = {
    "road": "road", "道路": "road", "路面": "road", "治安": "road", "community": "community",
    "社区": "community", "小区": "community", "social": "social", "社会": "social",
    "社会资源": "social", "high_point": "high_point", "highpoint": "high_point",
    "制高点": "high_point", "高点": "high_point",
}  # fmt: skip
CAMERA_TYPE = {
    "fixed": "fixed", "枪机": "fixed", "枪型": "fixed", "固定": "fixed", "筒机": "fixed",
    "bullet": "fixed", "box": "fixed", "dome": "dome", "半球": "dome", "半球机": "dome",
    "ptz": "ptz", "球机": "ptz", "云台": "ptz", "高速球": "ptz", "panoramic": "panoramic",
    "全景": "panoramic", "鹰眼": "panoramic", "360": "panoramic",
}  # fmt: skip
DORI = {
    "detect": "detect", "detection": "detect", "探测": "detect", "检测": "detect",
    "observe": "observe", "observation": "observe", "观察": "observe",
    "recognise": "recognise", "recognize": "recognise", "recognition": "recognise",
    "识别": "recognise", "identify": "identify", "identification": "identify",
    "辨认": "identify", "鉴别": "identify", "确认": "identify",
}  # fmt: skip
LEVEL = {
    "city": "city", "市": "city", "市局": "city", "district": "district", "区": "district",
    "县": "district", "分局": "district", "区县": "district", "station": "station",
    "派出所": "station", "所": "station",
}  # fmt: skip
DIRECTION = {
    "in": ["in"], "进城": ["in"], "入城": ["in"], "进": ["in"], "out": ["out"],
    "出城": ["out"], "出": ["out"], "both": ["in", "out"], "双向": ["in", "out"],
    "进出城": ["in", "out"], "进出": ["in", "out"],
}  # fmt: skip

# Active sensor area (width, height) in mm by optical-format label (16:9 / 4:3 as sold).
SENSOR_FORMATS = {
    "1/4": (3.6, 2.7), "1/3.6": (4.0, 3.0), "1/3.2": (4.54, 3.42), "1/3": (4.8, 3.6),
    "1/2.9": (5.0, 2.8), "1/2.8": (5.6, 3.1), "1/2.7": (5.37, 4.04), "1/2.5": (5.76, 4.29),
    "1/2": (6.4, 4.8), "1/1.8": (7.2, 5.4), "1/1.2": (10.67, 8.0), "2/3": (8.8, 6.6),
    "1": (12.8, 9.6),
}  # fmt: skip
RESOLUTION_NAMES = {
    "720p": (1280, 720), "960p": (1280, 960), "1080p": (1920, 1080), "2k": (2560, 1440),
    "1440p": (2560, 1440), "4k": (3840, 2160), "2160p": (3840, 2160),
    "100万": (1280, 720), "130万": (1280, 960), "200万": (1920, 1080), "300万": (2048, 1536),
    "400万": (2560, 1440), "500万": (2592, 1944), "800万": (3840, 2160),
    "1mp": (1280, 720), "1.3mp": (1280, 960), "2mp": (1920, 1080), "3mp": (2048, 1536),
    "4mp": (2560, 1440), "5mp": (2592, 1944), "8mp": (3840, 2160),
}  # fmt: skip
_RES = re.compile(r"^\s*(\d{3,5})\s*[x×*х]\s*(\d{3,5})\s*$", re.IGNORECASE)
_SENSOR = re.compile(r'^\s*(\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?)\s*(?:"|″|”|英寸|inch|in|寸)?\s*$')
_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)
_FORMULA_GUARD = re.compile(r"^'(?=[=+\-@\t\r])")


# -- helpers ------------------------------------------------------------------------------


class _Batch:
    """One batch being validated: its cells, row numbers and the errors found so far."""

    def __init__(self, ctx: Context, cells: pd.DataFrame, rows: np.ndarray):
        self.ctx = ctx
        self.cells = cells
        self.rows = rows
        self.errors: list[RowError] = []
        self.bad = np.zeros(len(cells), dtype=bool)
        self._raw: dict[str, pd.Series] = {}

    def raw(self, name: str) -> pd.Series | None:
        """The cleaned text cells of a field (a copy callers may modify), None if unmapped."""
        header = self.ctx.columns.fields.get(name)
        if header is None:
            return None
        if name not in self._raw:
            col = self.cells[header]
            self._raw[name] = pd.Series(
                [_clean_text(v) for v in col.tolist()], index=col.index, dtype=object
            )
        return self._raw[name].copy()

    def error(self, idx: Iterable[int], name: str, values: Iterable[Any], reason: str) -> None:
        header = self.ctx.columns.fields.get(name)
        for i, v in zip(idx, values, strict=True):
            self.bad[i] = True
            self.errors.append(
                RowError(self.ctx.file, int(self.rows[i]), name, _show(v), reason, header)
            )

    def required(self, name: str, values: pd.Series) -> None:
        missing = np.flatnonzero(values.isna().to_numpy())
        if len(missing):
            self.error(missing, name, [None] * len(missing), "required, but empty")


_EDGE = " \t\r\n\u3000\u00a0"


def _clean_text(value: Any) -> str | None:
    if value.__class__ is str and value and value[0] not in _EDGE and value[-1] not in _EDGE:
        return value if value[0] != "'" else (_FORMULA_GUARD.sub("", value) or None)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().strip("\u3000").strip()
    text = _FORMULA_GUARD.sub("", text)  # our CSV export's guard against formula injection
    return text or None


def _show(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _number(b: _Batch, name: str, lo: float, hi: float, *, lo_open: bool = False,
            unit: str = "") -> pd.Series | None:  # fmt: skip
    raw = b.raw(name)
    if raw is None:
        return None
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    retry = (values.isna() & raw.notna()).to_numpy()
    if retry.any():  # full-width digits, thousands separators ...: normalise, then parse again
        norm = raw[retry].map(normalise_number_text)
        values[retry] = pd.to_numeric(norm, errors="coerce").astype(float)
    not_number = np.flatnonzero((values.isna() & raw.notna()).to_numpy())
    if len(not_number):
        b.error(not_number, name, raw.iloc[not_number], "not a number")
    v = values.to_numpy()
    with np.errstate(invalid="ignore"):
        below = (v <= lo) if lo_open else (v < lo)
        out = np.flatnonzero(below | (v > hi) | np.isinf(v))
    if len(out):
        bracket = "(" if lo_open else "["
        b.error(out, name, raw.iloc[out], f"must be in {bracket}{lo:g}, {hi:g}]{unit}")
        values.iloc[out] = np.nan
    return values


def _enum(b: _Batch, name: str, vocabulary: Mapping[str, Any]) -> pd.Series | None:
    raw = b.raw(name)
    if raw is None:
        return None
    keyed = raw.map(lambda s: None if s is None else unicodedata.normalize("NFKC", s).lower())
    values = keyed.map(lambda s: vocabulary.get(s) if s is not None else None)
    bad = np.flatnonzero((values.isna() & raw.notna()).to_numpy())
    if len(bad):
        known = sorted({str(k) for k in vocabulary if k.isascii()})
        b.error(
            bad,
            name,
            raw.iloc[bad],
            f"unknown value; use one of {', '.join(known)} (or the Chinese terms)",
        )
    return values


def _device_ids(b: _Batch, allowed_types: set[str] | None) -> pd.Series | None:
    raw = b.raw("device_id")
    if raw is None:
        return None
    b.required("device_id", raw)
    norm = raw.map(lambda s: None if s is None else normalise_number_text(s).replace(" ", ""))
    out = norm.copy()
    for i, (value, shown) in enumerate(zip(norm.to_numpy(), raw.to_numpy(), strict=True)):
        if value is None:
            continue
        try:
            parsed = parse_device_id(value)
        except DeviceIdError as exc:
            b.error([i], "device_id", [shown], f"not a GB/T 28181 id: {exc}")
            out.iloc[i] = None
            continue
        if allowed_types is not None and parsed.type_code not in allowed_types:
            b.error(
                [i], "device_id", [shown],
                f"type code {parsed.type_code} ({parsed.type_name}) is not a camera; "
                f"cameras use {' or '.join(sorted(allowed_types))}",
            )  # fmt: skip
            out.iloc[i] = None
    return out


def _resolution(b: _Batch) -> tuple[pd.Series, pd.Series] | None:
    raw = b.raw("resolution")
    if raw is None:
        return None
    w = np.full(len(raw), np.nan)
    h = np.full(len(raw), np.nan)
    cache: dict[str, tuple[int, int] | None] = {}
    for i, s in enumerate(raw.tolist()):
        if s is None:
            continue
        if s not in cache:
            key = unicodedata.normalize("NFKC", s).lower().replace(" ", "").replace("像素", "")
            m = _RES.match(key)
            cache[s] = (int(m.group(1)), int(m.group(2))) if m else RESOLUTION_NAMES.get(key)
        wh = cache[s]
        if wh is None:
            b.error(
                [i],
                "resolution",
                [s],
                "not a resolution; write it as 1920x1080, 1080P, 4K or 200万",
            )
            continue
        w[i], h[i] = wh
    return pd.Series(w, index=raw.index), pd.Series(h, index=raw.index)


def _sensor(b: _Batch) -> tuple[pd.Series, pd.Series] | None:
    raw = b.raw("sensor")
    if raw is None:
        return None
    w = np.full(len(raw), np.nan)
    h = np.full(len(raw), np.nan)
    cache: dict[str, tuple[float, float] | None] = {}
    for i, s in enumerate(raw.tolist()):
        if s is None:
            continue
        if s not in cache:
            m = _SENSOR.match(unicodedata.normalize("NFKC", s))
            cache[s] = SENSOR_FORMATS.get(m.group(1)) if m else None
        size = cache[s]
        if size is None:
            b.error(
                [i],
                "sensor",
                [s],
                "unknown sensor format; give one of "
                + ", ".join(f'{k}"' for k in SENSOR_FORMATS)
                + " or the sensor width in mm (sensor_width_mm)",
            )
            continue
        w[i], h[i] = size
    return pd.Series(w, index=raw.index), pd.Series(h, index=raw.index)


def _coordinates(b: _Batch) -> np.ndarray:
    """Point geometries in EPSG:4326 (None where invalid)."""
    ctx = b.ctx
    n = len(b.cells)
    if GEOMETRY in b.cells and ctx.columns.fields.get("x") is None:
        return _file_geometries(b, points=True)
    for axis in ("x", "y"):
        raw = b.raw(axis)
        assert raw is not None
        b.required(axis, raw)
    x = _number(b, "x", -1e8, 1e8)
    y = _number(b, "y", -1e8, 1e8)
    assert x is not None and y is not None
    xs, ys = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if ok.any():
        lon[ok], lat[ok] = ctx.to_wgs84(xs[ok], ys[ok])
    geoms = np.full(n, None, dtype=object)
    good = ok & np.isfinite(lon) & np.isfinite(lat)
    geoms[good] = shapely.points(lon[good], lat[good])
    return geoms


def _file_geometries(b: _Batch, *, points: bool) -> np.ndarray:
    """Geometries read from the file (GeoJSON, SHP ...) or a WKT column, in EPSG:4326."""
    ctx = b.ctx
    name = "geometry"
    if GEOMETRY in b.cells:
        geoms = np.array(b.cells[GEOMETRY].to_numpy(), dtype=object)  # a writable copy
    else:
        raw = b.raw("wkt")
        if raw is None:
            b.error(
                range(len(b.cells)),
                name,
                [None] * len(b.cells),
                "no geometry: give a WKT "
                "column (wkt) or use a GeoJSON/Shapefile/GeoPackage/KML file",
            )
            return np.full(len(b.cells), None, dtype=object)
        geoms = np.full(len(raw), None, dtype=object)
        for i, s in enumerate(raw.to_numpy()):
            if s is None:
                continue
            try:
                geoms[i] = shapely.from_wkt(s)
            except shapely.errors.GEOSException as exc:
                b.error([i], "wkt", [s[:80]], f"not WKT: {exc}")
    missing = np.flatnonzero([g is None or shapely.is_empty(g) for g in geoms])
    if len(missing):
        b.error(missing, name, [None] * len(missing), "no geometry")
    present = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    types = np.full(len(geoms), -1)
    types[present] = shapely.get_type_id(geoms[present])
    if points:
        multi_one = present & (types == shapely.GeometryType.MULTIPOINT)
        if multi_one.any():
            sizes = shapely.get_num_geometries(geoms[multi_one])
            singles = np.where(sizes == 1, shapely.get_geometry(geoms[multi_one], 0), None)
            geoms[multi_one] = singles
            types[multi_one] = np.where(sizes == 1, shapely.GeometryType.POINT, -2)
        wrong = np.flatnonzero(present & (types != shapely.GeometryType.POINT))
        expected = "a point"
    else:
        polygonal = (types == shapely.GeometryType.POLYGON) | (
            types == shapely.GeometryType.MULTIPOLYGON
        )
        wrong = np.flatnonzero(present & ~polygonal)
        expected = "a polygon or multipolygon"
    if len(wrong):
        b.error(
            wrong,
            name,
            [shapely.get_type_id(geoms[i]) for i in wrong],
            f"geometry type must be {expected}",
        )
        geoms[wrong] = None
    keep = np.flatnonzero(np.array([g is not None for g in geoms], dtype=bool))
    if len(keep):
        geoms[keep] = shapely.transform(
            geoms[keep], lambda xy: np.column_stack(ctx.to_wgs84(xy[:, 0], xy[:, 1]))
        )
    if not points and len(keep):
        invalid = keep[~shapely.is_valid(geoms[keep])]
        if len(invalid):
            reasons = shapely.is_valid_reason(geoms[invalid])
            if ctx.fix_geometry:
                fixed = shapely.make_valid(geoms[invalid])
                fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
                for i, why, g in zip(invalid, reasons, fixed, strict=True):
                    if g is None:
                        b.error([i], name, [why], "invalid geometry that cannot be repaired")
                    else:
                        ctx.repaired.append(f"{ctx.file}: row {int(b.rows[i])}: repaired ({why})")
                geoms[invalid] = fixed
            else:
                b.error(
                    invalid,
                    name,
                    reasons,
                    "invalid geometry; fix it, or pass --fix-geometry to repair it",
                )
                geoms[invalid] = None
    return geoms


def _polygonal(g: shapely.Geometry) -> shapely.Geometry | None:
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return None if merged.is_empty else merged


def _check_extent(b: _Batch, geoms: np.ndarray) -> None:
    extent = b.ctx.city_extent
    if extent is None:
        return
    idx = np.flatnonzero(np.array([g is not None for g in geoms], dtype=bool))
    if not len(idx):
        return
    shapely.prepare(extent)
    outside = idx[~shapely.covers(extent, geoms[idx])]
    if len(outside):
        shown = [f"{g.representative_point().x:.6f}, {g.representative_point().y:.6f}"
                 for g in geoms[outside]]  # fmt: skip
        b.error(
            outside,
            "geometry",
            shown,
            "outside the city extent (wrong coordinates, swapped lon/lat, or wrong --crs?)",
        )
        geoms[outside] = None


def _jurisdiction_ids(b: _Batch, geoms: np.ndarray, device_ids: pd.Series | None) -> np.ndarray:
    """The jurisdiction each row belongs to: the named one if given, else the most local
    containing one; with checks of the name, the location and the id's division prefix."""
    jur = b.ctx.jurisdictions
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    if jur.empty:
        return out
    levels = [str(v) for v in jur["level"]]
    codes = [v if isinstance(v, str) else None for v in jur["admin_code"]]
    names = [str(v) for v in jur["name"]]
    ids = [int(v) for v in jur["id"]]
    rank = [{"station": 0, "district": 1, "city": 2}.get(lv, 3) for lv in levels]
    tree = shapely.STRtree(jur.geometry.to_numpy())
    have = np.flatnonzero(np.array([g is not None for g in geoms], dtype=bool))
    containing: dict[int, list[int]] = {}
    if len(have):
        pts = shapely.point_on_surface(geoms[have])
        gi, ji = tree.query(pts, predicate="intersects")  # on a shared edge: both
        for g, j in zip(have[gi].tolist(), ji.tolist(), strict=True):
            containing.setdefault(g, []).append(j)
    named = b.raw("jurisdiction")
    named_list = named.tolist() if named is not None else [None] * n
    dev_list = device_ids.tolist() if device_ids is not None else [None] * n
    by_key: dict[str, int] = {}
    for j, code in enumerate(jur["code"]):
        by_key.setdefault(str(code), j)
        by_key.setdefault(names[j], j)
    for i in range(n):
        inside = sorted(containing.get(i, []), key=rank.__getitem__)
        chosen = inside[0] if inside else None
        if named_list[i] is not None:
            key = str(named_list[i])
            j = by_key.get(key)
            if j is None:
                b.error([i], "jurisdiction", [key],
                        "no jurisdiction with that name or code in the store")  # fmt: skip
                continue
            if geoms[i] is not None and j not in inside:
                b.error([i], "jurisdiction", [key], "the location lies outside this jurisdiction")
                continue
            chosen = j
        if chosen is None:
            continue
        out[i] = ids[chosen]
        device_id = dev_list[i]
        if isinstance(device_id, str):
            problem = _prefix_problem(device_id, [chosen, *inside], levels, codes, names)
            if problem:
                b.error([i], "device_id", [device_id], problem)
    return out


def _prefix_problem(device_id: str, candidates: list[int], levels: list[str],
                    codes: list[str | None], names: list[str]) -> str | None:  # fmt: skip
    """Why the id's 6-digit division does not fit where the device lies, or None if it does.

    The first district (else city) among ``candidates`` with a usable admin code decides; on a
    shared edge between two districts, either one matching is enough.
    """
    checked: list[int] = []
    for j in candidates:
        code = codes[j]
        if levels[j] == "station" or code is None or len(code) < 6:
            continue
        if checked and levels[j] != levels[checked[0]]:
            break
        want = code[:6] if levels[j] == "district" else code[:4]
        if device_id.startswith(want):
            return None
        checked.append(j)
    if not checked:
        return None
    j = checked[0]
    return (f"division prefix {device_id[:6]} does not match the {levels[j]} {names[j]} "
            f"({codes[j]}) the device lies in")  # fmt: skip


def _attributes(b: _Batch) -> list[dict[str, Any]]:
    headers = b.ctx.columns.attributes
    if not headers:
        return [{} for _ in range(len(b.cells))]
    sub = b.cells[headers]
    records = sub.where(sub.notna(), None).to_dict(orient="records")
    return [{k: _attribute(v) for k, v in r.items() if v is not None} for r in records]


def _attribute(value: Any) -> Any:
    """Text that is exactly JSON keeps its JSON type (objects, lists, numbers, booleans), so
    exported attributes come back as they were; anything else ("0012", "12.50") stays text."""
    if not isinstance(value, str):
        return value
    s = value.strip()
    if not s or s[0] not in '{["-0123456789tf':
        return value
    try:
        parsed = json.loads(s)
    except ValueError:
        return value
    if isinstance(parsed, dict | list):
        return parsed
    if isinstance(parsed, bool | int | float) and json.dumps(parsed) == s:
        return parsed
    return value


# -- per kind ---------------------------------------------------------------------------


def _cameras(b: _Batch, out: dict[str, Any]) -> None:
    out["device_id"] = _device_ids(b, CAMERA_TYPE_CODES)
    out["camera_type"] = _enum(b, "camera_type", CAMERA_TYPE)
    for name, lo, hi, lo_open, unit in (
        ("azimuth_deg", 0.0, 360.0, False, "°"),
        ("tilt_deg", -90.0, 90.0, False, "°"),
        ("mount_height_m", 0.0, 500.0, True, " m"),
        ("focal_length_mm", 0.0, 1000.0, True, " mm"),
        ("hfov_deg", 0.0, 360.0, True, "°"),
        ("sensor_width_mm", 0.0, 50.0, True, " mm"),
        ("sensor_height_mm", 0.0, 50.0, True, " mm"),
    ):
        out[name] = _number(b, name, lo, hi, lo_open=lo_open, unit=unit)
    if out["azimuth_deg"] is not None:
        out["azimuth_deg"] = out["azimuth_deg"] % 360.0  # 360 means north
    res = _resolution(b)
    if res is not None:
        out["resolution_w_px"], out["resolution_h_px"] = res
    sensor = _sensor(b)
    if sensor is not None:
        sw, sh = sensor
        out["sensor_width_mm"] = (
            sw if out["sensor_width_mm"] is None else (out["sensor_width_mm"].fillna(sw))
        )
        out["sensor_height_mm"] = (
            sh if out["sensor_height_mm"] is None else (out["sensor_height_mm"].fillna(sh))
        )
    _derive_hfov(b, out)
    out["is_social_resource"] = _enum(b, "is_social_resource", BOOLEAN)
    out["access_level"] = _number(b, "access_level", 0, 9)
    out["any_direction"] = _enum(b, "any_direction", BOOLEAN)
    out["ptz_presets"] = _presets(b)
    out["kind"] = _enum(b, "kind", CAMERA_KIND)
    for name in ("owner", "mount", "address", "lens_model"):
        out[name] = b.raw(name)
    stream = b.raw("stream_ref")
    if stream is not None:
        creds = np.flatnonzero(stream.map(lambda s: bool(s and _CREDENTIALS.match(s))).to_numpy())
        if len(creds):
            b.error(
                creds,
                "stream_ref",
                ["<hidden: contains credentials>"] * len(creds),
                "the URL carries a user name and password; give it without them and put "
                "the credentials in the camera secrets setting",
            )
            stream.iloc[creds] = None
        out["stream_ref"] = stream


def _presets(b: _Batch) -> pd.Series | None:
    """PTZ presets: a JSON list of {"name", "azimuth_deg", "tilt_deg"} objects."""
    raw = b.raw("ptz_presets")
    if raw is None:
        return None
    out = pd.Series([[] for _ in range(len(raw))], index=raw.index, dtype=object)
    for i, s in enumerate(raw.to_numpy()):
        if s is None:
            continue
        try:
            presets = json.loads(s)
            ok = isinstance(presets, list) and all(
                isinstance(p, dict)
                and isinstance(p.get("azimuth_deg"), int | float)
                and 0 <= p["azimuth_deg"] < 360
                and (p.get("tilt_deg") is None or -90 <= p["tilt_deg"] <= 90)
                for p in presets
            )
        except (ValueError, TypeError):
            ok = False
        if not ok:
            b.error(
                [i],
                "ptz_presets",
                [s[:80]],
                'must be a JSON list like [{"name": "P1", '
                '"azimuth_deg": 90, "tilt_deg": 15}] with azimuth in [0, 360)',
            )
            continue
        out.iloc[i] = presets
    return out


def _derive_hfov(b: _Batch, out: dict[str, Any]) -> None:
    w, f, given = out.get("sensor_width_mm"), out.get("focal_length_mm"), out.get("hfov_deg")
    if w is None or f is None:
        return
    computed = pd.Series(np.degrees(2 * np.arctan(w / (2 * f))), index=w.index)
    if given is None:
        out["hfov_deg"] = computed.round(3)
        return
    # Multi-sensor panoramic heads state the total HFOV, not one lens's: no check there.
    ctype = out.get("camera_type")
    single = ctype != "panoramic" if ctype is not None else pd.Series(True, index=given.index)
    clash = np.flatnonzero(
        (given.notna() & computed.notna() & single & ((given - computed).abs() > 5)).to_numpy()
    )
    for i in clash:
        b.error(
            [i], "hfov_deg", [given.iloc[i]],
            f"disagrees by more than 5° with 2·atan(w/2f) = {computed.iloc[i]:.1f}° from the "
            "sensor width and focal length",
        )  # fmt: skip
    out["hfov_deg"] = given.fillna(computed.round(3))


def _checkpoints(b: _Batch, out: dict[str, Any]) -> None:
    out["device_id"] = _device_ids(b, None)
    out["road_name"] = b.raw("road_name")
    lanes = _number(b, "lanes", 1, 32)
    if lanes is not None:
        frac = np.flatnonzero((lanes.notna() & (lanes % 1 != 0)).to_numpy())
        if len(frac):
            b.error(frac, "lanes", lanes.iloc[frac], "must be a whole number")
    out["lanes"] = lanes
    out["is_entry"] = _enum(b, "is_entry", BOOLEAN)
    raw = b.raw("directions")
    if raw is not None:
        out["directions"] = raw.map(_directions)


def _directions(value: str | None) -> list[str] | None:
    if value is None:
        return None
    result: list[str] = []
    for token in re.split(r"[,;/、，；|]+", value):
        token = token.strip()
        if not token:
            continue
        for d in DIRECTION.get(unicodedata.normalize("NFKC", token).lower(), [token]):
            if d not in result:
                result.append(d)
    return result


def _alarm_points(b: _Batch, out: dict[str, Any]) -> None:
    code = b.raw("code")
    assert code is not None
    b.required("code", code)
    out["code"] = code
    kind = b.raw("kind")
    out["kind"] = kind.fillna("alarm") if kind is not None else "alarm"


def _key_areas(b: _Batch, out: dict[str, Any]) -> None:
    out["area_class"] = b.raw("area_class")
    b.required("area_class", out["area_class"])
    out["required_dori"] = _enum(b, "required_dori", DORI)
    b.required("required_dori", b.raw("required_dori"))  # type: ignore[arg-type]


def _jurisdictions(b: _Batch, out: dict[str, Any]) -> None:
    for name in ("code", "parent_code", "admin_code"):
        raw = b.raw(name)
        out[name] = (
            None
            if raw is None
            else raw.map(lambda s: None if s is None else normalise_number_text(s))
        )
    b.required("code", out["code"])
    out["level"] = _enum(b, "level", LEVEL)
    b.required("level", b.raw("level"))  # type: ignore[arg-type]


_KIND_RULES: dict[str, Callable[[_Batch, dict[str, Any]], None]] = {
    "cameras": _cameras,
    "checkpoints": _checkpoints,
    "alarm_points": _alarm_points,
    "key_areas": _key_areas,
    "jurisdictions": _jurisdictions,
}


def validate_batch(
    ctx: Context, cells: pd.DataFrame, rows: np.ndarray
) -> tuple[gpd.GeoDataFrame, list[RowError]]:
    """Validate one batch of text cells.

    Parameters
    ----------
    ctx
        File, kind, column map, CRS conversion to WGS-84 and the store's city.
    cells
        Text cells (object dtype) with the file's headers, plus ``__geometry__`` for
        geometric formats (in the file's CRS).
    rows
        1-based row numbers as the user sees them.

    Returns
    -------
    (GeoDataFrame, list of RowError)
        The valid rows only: typed fields present in the file, ``attributes`` (unknown
        columns), ``jurisdiction_id`` where found, ``__row__``, geometry in EPSG:4326; and
        the errors of the rejected ones.
    """
    cells = cells.reset_index(drop=True)
    b = _Batch(ctx, cells, np.asarray(rows))
    out: dict[str, Any] = {}
    name = b.raw("name")
    if name is not None:
        b.required("name", name)
        out["name"] = name
    _KIND_RULES[ctx.kind](b, out)
    status = _enum(b, "status", STATUS)
    if status is not None:
        out["status"] = status
    points = ctx.kind in POINT_KINDS
    geoms = _coordinates(b) if points else _file_geometries(b, points=False)
    _check_extent(b, geoms)
    if ctx.kind != "jurisdictions":
        out["jurisdiction_id"] = _jurisdiction_ids(b, geoms, out.get("device_id"))
    out["attributes"] = _attributes(b)
    out[ROW] = b.rows
    bad_geom = np.array([g is None for g in geoms], dtype=bool)
    b.bad |= bad_geom
    frame = pd.DataFrame({k: v for k, v in out.items() if v is not None}, index=cells.index)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    return gdf[~b.bad].reset_index(drop=True), b.errors
