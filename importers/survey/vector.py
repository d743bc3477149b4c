"""GeoJSON, Shapefile, GeoPackage and KML through pyogrio: batches of text cells + geometry.

Attribute values are turned into text the way a person would have typed them (integers
without ".0", shortest round-trip decimals, ISO dates); geometries are passed on unmodified in
the file's CRS.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors

from importers.survey.encoding import detect_encoding, display_name, normalise_codec
from importers.survey.source import (
    GEOMETRY_COLUMN,
    ReadIssue,
    RowBatch,
    SourceInfo,
    SurveyReadError,
)
from importers.survey.workbook import float_text

__all__ = ["KML_STANDARD_FIELDS", "dbf_encoding", "list_layers", "open_vector", "series_text"]

T = TypeVar("T")

#: Fields the LIBKML driver adds to every layer; dropped unless they hold ExtendedData.
KML_STANDARD_FIELDS = (
    "id",
    "timestamp",
    "begin",
    "end",
    "altitudeMode",
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "icon",
    "snippet",
)
_KML_RENAMES = {"Name": "name"}
_SLICE_ROWS = 500_000
_FORMAT_NAMES = {"geojson": "GeoJSON", "shapefile": "shapefile", "gpkg": "GeoPackage", "kml": "KML"}

# DBF language driver ids of East-Asian code pages (byte 29 of the header), as GDAL maps them.
_DBF_LDID = {0x4D: "gbk", 0x7A: "gbk", 0x4F: "cp950", 0x78: "cp950", 0x4E: "cp949",
             0x79: "cp949", 0x13: "cp932", 0x7B: "cp932"}  # fmt: skip
_CRS_MEMBER = re.compile(rb'"crs"\s*:\s*\{')
_GDAL_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)


def _gdal(call: Callable[[], T], name: str, sink: list[str]) -> T:
    """Run a pyogrio call: GDAL errors -> SurveyReadError, GDAL/pyogrio warnings -> ``sink``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except _GDAL_ERRORS as exc:
            raise SurveyReadError(f"{name}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise SurveyReadError(
                f"{name}: text is not valid {exc.encoding} ({exc.reason}); pass --encoding"
            ) from exc
    for w in caught:
        message = f"{name}: {w.message}"
        if message not in sink:
            sink.append(message)
    return result


def list_layers(path: Path, name: str, what: str = "vector") -> list[str]:
    """Layer names of a dataset (SurveyReadError when GDAL cannot open it)."""
    sink: list[str] = []
    layers = _gdal(lambda: pyogrio.list_layers(path), f"{name}: not a readable {what} file", sink)
    return [str(n) for n in layers[:, 0]]


def _cpg_codec(text: str) -> str | None:
    value = text.strip().upper().removeprefix("ANSI ").strip()
    if not value:
        return None
    if value.isdigit():
        if value == "65001":
            return "utf-8"
        if value.startswith("8859") and len(value) > 4:
            value = f"ISO-8859-{value[4:]}"
        else:
            value = f"CP{value}"
    try:
        return normalise_codec(value)
    except ValueError:
        return None


def dbf_encoding(shp: Path, name: str, sink: list[str]) -> str:
    """Encoding of a shapefile's attribute text: .cpg, else an East-Asian DBF code page id,
    else detected from the bytes (UTF-8, then GB18030).

    Raises
    ------
    SurveyReadError
        No .dbf, or text that is neither UTF-8 nor GB18030 and nothing says what it is.
    """
    siblings = {p.suffix.lower(): p for p in shp.parent.glob(f"{glob_escape(shp.stem)}.*")}
    dbf = siblings.get(".dbf")
    cpg = siblings.get(".cpg")
    if cpg is not None:
        stated = cpg.read_bytes().decode("ascii", errors="replace")
        codec = _cpg_codec(stated)
        if codec is not None:
            return codec
        sink.append(f"{name}: unknown code page {stated.strip()!r} in {cpg.name}; guessing")
    if dbf is None:
        raise SurveyReadError(f"{name}: the shapefile has no .dbf attribute file next to it")
    with open(dbf, "rb") as f:
        head = f.read(32)
    if len(head) < 32:
        raise SurveyReadError(f"{name}: {dbf.name} is truncated")
    if head[29] in _DBF_LDID:
        return _DBF_LDID[head[29]]
    header_bytes = int.from_bytes(head[8:10], "little")
    detected = detect_encoding(dbf, start=header_bytes)
    if detected is None:
        raise SurveyReadError(
            f"{name}: the attribute text is neither UTF-8 nor GB18030 and there is no .cpg "
            "file; pass --encoding"
        )
    return "utf-8" if detected == "utf-8-sig" else detected


def glob_escape(text: str) -> str:
    """Escape glob metacharacters in a file name."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _geojson_states_crs(path: Path) -> bool:
    """True when the GeoJSON has a (pre-RFC 7946) ``crs`` member.

    GDAL reports EPSG:4326 for every GeoJSON; only the member makes it a statement. The member
    is looked for before the features and right after them (writers put it at either end).
    """
    with open(path, "rb") as f:
        head = f.read(1 << 20)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read()
    cut = head.find(b'"features"')
    if _CRS_MEMBER.search(head if cut < 0 else head[:cut]):
        return True
    return re.search(rb'\]\s*,\s*"crs"\s*:\s*\{', tail) is not None


def series_text(values: pd.Series) -> list[str | None]:
    """Cells of a pyogrio column as text (None for null/empty)."""
    kind = values.dtype.kind
    items = values.tolist()
    if kind in "iu":
        return [str(v) for v in items]
    if kind == "f":
        return [None if v != v else float_text(v) for v in items]
    if kind == "b":
        return ["true" if v else "false" for v in items]
    return [_value_text(v) for v in items]


def _value_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, float):
        return None if value != value else float_text(value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float_text(float(value))
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, np.ndarray | list):
        return json.dumps(np.asarray(value).tolist(), ensure_ascii=False)
    if isinstance(value, dict):  # GDAL reads a JSON-object property as a dict
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, pd.Timestamp):
        return str(value.isoformat())
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def open_vector(
    path: Path,
    *,
    fmt: str,
    layer: str | None = None,
    encoding: str | None = None,
    batch_rows: int = 50_000,
    source: Path | None = None,
    member: str | None = None,
) -> tuple[SourceInfo, Iterator[RowBatch]]:
    """Open a GeoJSON, Shapefile, GeoPackage or KML dataset.

    Parameters
    ----------
    path : Path
        The dataset (a .shp for shapefiles).
    fmt : str
        ``"geojson"``, ``"shapefile"``, ``"gpkg"`` or ``"kml"``.
    layer : str, optional
        Layer to read; required when the dataset has several.
    encoding : str, optional
        Shapefile attribute encoding; by default from the .cpg, the DBF header or the bytes.
    batch_rows : int
        Features per batch.
    source, member : optional
        The path the user gave and the archive member, for :class:`SourceInfo` and messages.

    Returns
    -------
    (SourceInfo, iterator of RowBatch)

    Raises
    ------
    SurveyReadError
        GDAL cannot open the dataset, several layers and none chosen, unknown layer, undecodable
        text, duplicate field names.
    """
    name = str(member or source or path)
    sink: list[str] = []
    if fmt == "kml":
        # LIBKML otherwise turns every non-ASCII ExtendedData name (设备编码) into underscores.
        pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": "NO"})
    layers = list_layers(path, name, _FORMAT_NAMES[fmt])
    if not layers:
        raise SurveyReadError(f"{name}: the dataset has no layers")
    if layer is None:
        if len(layers) > 1:
            raise SurveyReadError(
                f"{name}: {len(layers)} layers; choose one with --layer: "
                + ", ".join(repr(n) for n in layers)
            )
        layer = layers[0]
    elif layer not in layers:
        raise SurveyReadError(
            f"{name}: no layer {layer!r}; the layers are: " + ", ".join(repr(n) for n in layers)
        )
    used_encoding: str | None = None
    if fmt == "shapefile":
        if encoding is not None:
            try:
                used_encoding = normalise_codec(encoding)
            except ValueError as exc:
                raise SurveyReadError(f"{name}: {exc}") from exc
        else:
            used_encoding = dbf_encoding(path, name, sink)
    elif encoding is not None:
        sink.append(f"{name}: --encoding is ignored for {fmt} (its text is UTF-8 by definition)")
    # Shapefile text is read undecoded: GDAL's recoding is switched off (ENCODING="") so that
    # pyogrio hands over the DBF bytes as ISO-8859-1, and they are decoded here. That makes a
    # given encoding win over the .cpg, and survives field names that the 10-byte DBF limit
    # cut in the middle of a UTF-8 character (which pyogrio cannot decode).
    options = {"ENCODING": ""} if fmt == "shapefile" else {}
    read_info = _gdal(
        functools.partial(pyogrio.read_info, path, layer=layer, **options), name, sink
    )
    fields = [str(f) for f in read_info["fields"]]
    if fmt == "kml":
        fields = [f for f in fields if f not in KML_STANDARD_FIELDS]
    if used_encoding is not None:
        columns = [_field_name(f, used_encoding, name, sink).strip() for f in fields]
    else:
        columns = [f.strip() for f in fields]
    if fmt == "kml":
        columns = [
            _KML_RENAMES.get(c, c) if _KML_RENAMES.get(c) not in columns else c for c in columns
        ]
    dups = sorted({c for c in columns if columns.count(c) > 1})
    if dups:
        raise SurveyReadError(f"{name}: duplicate field names: " + ", ".join(map(repr, dups)))
    crs = read_info["crs"]
    if fmt == "kml" or (fmt == "geojson" and not _geojson_states_crs(path)):
        crs = None
    has_geometry = read_info["geometry_type"] is not None
    total = int(read_info["features"])
    geometry_name = GEOMETRY_COLUMN if has_geometry else None
    info = SourceInfo(
        path=source or path,
        member=member if member is not None and len(layers) == 1 else _member(member, layer),
        format=fmt,
        encoding=used_encoding,
        crs=crs,
        columns=columns,
        geometry=has_geometry,
        warnings=sink,
    )

    # Shapefile and GeoPackage seek to a feature cheaply; GeoJSON and KML are parsed again on
    # every open, so they are read in few large slices and cut into batches here.
    read_rows = batch_rows if fmt in ("shapefile", "gpkg") else max(batch_rows, _SLICE_ROWS)

    def convert(frame: pd.DataFrame, first: int) -> RowBatch:
        numbers = np.arange(first, first + len(frame), dtype=np.int64)
        cells = {
            column: np.array(series_text(frame[field]), dtype=object)
            for field, column in zip(fields, columns, strict=True)
        }
        errors: list[ReadIssue] = []
        warnings_: list[ReadIssue] = []
        if used_encoding is not None:
            _decode_cells(cells, numbers, used_encoding, errors, warnings_)
        if geometry_name is not None:
            geometries = np.empty(len(frame), dtype=object)
            geometries[:] = list(frame.geometry.array)
            cells[geometry_name] = geometries
        rows = pd.DataFrame(cells, dtype=object, copy=False)
        if errors:
            keep = ~np.isin(numbers, [e.row for e in errors])
            rows, numbers = rows[keep].reset_index(drop=True), numbers[keep]
        return RowBatch(rows=rows, row_numbers=numbers, errors=errors, warnings=warnings_)

    def data() -> Iterator[RowBatch]:
        start = 0
        while total < 0 or start < total:
            frame = _gdal(
                functools.partial(
                    pyogrio.read_dataframe,
                    path,
                    layer=layer,
                    columns=fields,
                    read_geometry=has_geometry,
                    skip_features=start,
                    max_features=read_rows,
                    datetime_as_string=True,
                    on_invalid="warn",
                    **options,
                ),
                name,
                sink,
            )
            for offset in range(0, len(frame), batch_rows):
                part = frame.iloc[offset : offset + batch_rows]
                yield convert(part, start + offset + 1)
            start += len(frame)
            if len(frame) < read_rows:
                return

    return info, data()


def _field_name(raw: str, encoding: str, name: str, sink: list[str]) -> str:
    """Decode a DBF field name (ISO-8859-1 text from pyogrio = the raw bytes)."""
    data = raw.encode("latin-1")
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    text = decoder.decode(data, final=False)
    if decoder.getstate()[0]:
        sink.append(
            f"{name}: field name {text!r} was cut in the middle of a character (DBF names "
            "are at most 10 bytes); the partial character is dropped"
        )
    if "\ufffd" in text:
        sink.append(f"{name}: field name {text!r} is not valid {encoding}")
    return text


def _decode_cells(
    cells: dict[str, np.ndarray],
    numbers: np.ndarray,
    encoding: str,
    errors: list[ReadIssue],
    warnings_: list[ReadIssue],
) -> None:
    """Decode raw DBF text cells in place; undecodable cells become row errors."""
    for column, values in cells.items():
        for i, value in enumerate(values):
            if value is None or value.isascii():
                continue
            data = value.encode("latin-1")
            try:
                values[i] = data.decode(encoding)
            except UnicodeDecodeError as exc:
                row = int(numbers[i])
                if exc.reason == "unexpected end of data" or exc.end == len(data):
                    values[i] = data[: exc.start].decode(encoding)
                    warnings_.append(
                        ReadIssue(
                            row,
                            f"field {column}: the value was cut in the middle of a character "
                            "(DBF field width); the partial character is dropped",
                        )
                    )
                else:
                    errors.append(
                        ReadIssue(
                            row,
                            f"field {column}: bytes not valid {display_name(encoding)} "
                            f"({exc.reason}) — the file mixes encodings; re-save it or pass "
                            "--encoding",
                        )
                    )


def _member(member: str | None, layer: str) -> str:
    return layer if member is None else f"{member}:{layer}"
