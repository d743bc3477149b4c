"""Export store layers to GeoJSON, GeoPackage, CSV or XLSX in the CRS the user asks for.

Column names are the survey field names, so an export imports back unchanged (round trip).
CSV/XLSX carry points as ``x``/``y`` columns (lon/lat for geographic systems) and polygons
as ``wkt``; text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first)
is guarded with a leading ``'`` in CSV and written as plain text in XLSX.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import CrsSpec, parse_crs_name, transform_xy

FORMATS = ("geojson", "gpkg", "csv", "xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """The export cannot be written as asked."""


def format_for(path: Path, fmt: str | None) -> str:
    """The export format: given, or from the file extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    ext = path.suffix.lower().lstrip(".")
    found = {"json": "geojson", "geojson": "geojson", "gpkg": "gpkg", "csv": "csv",
             "xlsx": "xlsx"}.get(ext)  # fmt: skip
    if found is None:
        raise ExportError(f"{path}: cannot tell the format from the extension; pass --format "
                          f"({', '.join(FORMATS)})")  # fmt: skip
    return found


def _reproject(gdf: gpd.GeoDataFrame, spec: CrsSpec) -> gpd.GeoSeries:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transform_xy(xy[:, 0], xy[:, 1], "wgs84", spec)
        return np.column_stack([x, y])

    geoms = shapely.transform(gdf.geometry.to_numpy(), fn)
    crs = f"EPSG:{spec.epsg}" if spec.epsg is not None else None
    return gpd.GeoSeries(geoms, index=gdf.index, crs=crs)


def _json_cells(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, dict | list)).any():
            out[col] = out[col].map(
                lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
            )
    return out


def _flatten_attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """Unknown survey columns were kept in ``attributes``: give them their columns back."""
    if "attributes" not in frame:
        return frame
    attrs = pd.DataFrame(
        [a if isinstance(a, dict) else {} for a in frame["attributes"]], index=frame.index
    )
    attrs = attrs[[c for c in attrs.columns if c not in frame.columns]]
    return pd.concat([frame.drop(columns=["attributes"]), attrs], axis=1)


def _guard(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_frame(
    gdf: gpd.GeoDataFrame,
    path: Path,
    *,
    crs: str = "wgs84",
    fmt: str | None = None,
    layer: str = "layer",
) -> int:
    """Write ``gdf`` (EPSG:4326) to ``path`` in ``crs``; returns the number of rows written.

    Raises
    ------
    ExportError
        Unknown format, or a format that cannot say the CRS (GeoJSON is WGS-84 only unless
        asked otherwise: the vendor CRSs GCJ-02/BD-09 are written without a CRS member).
    """
    fmt = format_for(path, fmt)
    spec = parse_crs_name(crs)
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise ExportError("export expects EPSG:4326 frames from the store")
    geoms = _reproject(gdf, spec)
    attrs = _flatten_attributes(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
    writers: dict[str, Callable[[], None]] = {
        "geojson": lambda: _write_geo(attrs, geoms, path, "GeoJSON", layer),
        "gpkg": lambda: _write_geo(attrs, geoms, path, "GPKG", layer),
        "csv": lambda: _write_csv(_table(attrs, geoms, spec), path),
        "xlsx": lambda: _write_xlsx(_table(attrs, geoms, spec), path),
    }
    writers[fmt]()
    return len(gdf)


def _write_geo(attrs: pd.DataFrame, geoms: gpd.GeoSeries, path: Path, driver: str,
               layer: str) -> None:  # fmt: skip
    out = gpd.GeoDataFrame(_json_cells(attrs), geometry=geoms, crs=geoms.crs)
    if path.exists():
        path.unlink()
    if driver == "GeoJSON":
        out.to_file(path, driver=driver, engine="pyogrio", WRITE_NON_FINITE_VALUES="NO")
    else:
        out.to_file(path, driver=driver, layer=layer, engine="pyogrio")


def _table(attrs: pd.DataFrame, geoms: gpd.GeoSeries, spec: CrsSpec) -> pd.DataFrame:
    table = _json_cells(attrs)
    points = bool(len(geoms)) and bool((geoms.geom_type == "Point").all())
    if points:
        digits = 8 if spec.is_geographic else 3
        table.insert(0, "y", np.round(geoms.y.to_numpy(), digits))
        table.insert(0, "x", np.round(geoms.x.to_numpy(), digits))
    else:
        table["wkt"] = shapely.to_wkt(geoms.to_numpy(), rounding_precision=9)
    return table


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.columns)
        for row in table.itertuples(index=False):
            writer.writerow(["" if _missing(v) else _guard(v) for v in row])


def _write_xlsx(table: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("export")
    ws.append([str(c) for c in table.columns])
    for row in table.itertuples(index=False):
        ws.append([_xlsx_cell(v) for v in row])
    wb.save(path)


def _xlsx_cell(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        # Long digit strings (device ids) and formula-like text stay text, never numbers or
        # formulas: openpyxl writes a str starting with "=" as a formula otherwise.
        return _guard(value) if value.startswith(_FORMULA_START) else value
    return value


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
