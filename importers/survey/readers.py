"""Open any survey file a city's survey teams send and stream its rows.

:func:`open_survey` picks the format from the extension and the content (renamed files are
common: a workbook saved as ``.csv``, tab-separated text saved as ``.xls``), then hands over to
the CSV, XLSX or GDAL reader. Archives and folders are searched for the one survey file in them.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from importers.survey import archives
from importers.survey.delimited import open_csv
from importers.survey.source import (
    FORMATS,
    RowBatch,
    SourceInfo,
    SurveyBatches,
    SurveyReadError,
)
from importers.survey.vector import glob_escape, open_vector
from importers.survey.workbook import open_xlsx

__all__ = ["open_survey"]

_BY_EXTENSION = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".geojson": "geojson",
    ".json": "geojson",
    ".shp": "shapefile",
    ".gpkg": "gpkg",
    ".kml": "kml",
    ".kmz": "kmz",
    ".zip": "zip",
}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
# Searching archives and folders: the first tier with candidates wins (a shapefile next to a
# "说明.txt" read-me is the shapefile).
_TIERS = (
    (".shp", ".gpkg", ".geojson", ".json", ".kml"),
    (".xlsx", ".xlsm", ".csv", ".tsv"),
    (".txt",),
)
_SNIFF_BYTES = 4096

Cleanup = Callable[[], None]


def _unknown(path: Path, what: str) -> SurveyReadError:
    return SurveyReadError(f"{path}: {what}; supported formats: " + "; ".join(FORMATS))


def _sniff(path: Path) -> str:
    """What the bytes say: zip, gpkg, shapefile, ole2, json, kml, xml, html, text or binary."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if not head:
        return "empty"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"\x00\x00\x27\x0a"):
        return "shapefile"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole2"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 text (Excel's "Unicode text")
    if b"\x00" in head:
        return "binary"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"{", b"[")):
        return "json"
    if text.startswith(b"<"):
        if b"<kml" in text:
            return "kml"
        if b"<html" in text or b"<table" in text or text.startswith(b"<!doctype html"):
            return "html"
        return "xml"
    return "text"


def _is_workbook(path: Path) -> bool:
    # Names only: openpyxl reads the parts itself, streaming (a sheet's XML legitimately
    # compresses far better than the archive limits allow).
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise SurveyReadError(f"{path}: not a readable zip archive ({exc})") from exc
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _kind(path: Path, warnings: list[str]) -> str:
    """The reader to use for a file (not a folder)."""
    stated = _BY_EXTENSION.get(path.suffix.lower())
    if stated is None and path.suffix.lower() in _SHAPEFILE_PARTS:
        return "shapefile-part"
    content = _sniff(path)
    if content == "empty":
        raise SurveyReadError(f"{path}: the file is empty")
    actual: str | None
    if content == "zip":
        if _is_workbook(path):
            actual = "xlsx"
        else:
            actual = "kmz" if stated == "kmz" else "zip"
    elif content in ("gpkg", "shapefile", "kml"):
        actual = content
    elif content == "ole2":
        raise SurveyReadError(
            f"{path}: legacy Excel 97-2003 (.xls) workbooks are not read; open it in Excel or "
            "WPS and save it as .xlsx (or CSV UTF-8)"
        )
    elif content == "html":
        raise SurveyReadError(
            f"{path}: this is a web page (HTML table), not a spreadsheet, although it is named "
            f"{path.suffix}; open it in Excel and save it as .xlsx"
        )
    elif content == "json":
        actual = "geojson"
    elif content == "xml":
        actual = "kml" if stated == "kml" else None
    elif content == "text":
        actual = "csv" if stated in ("csv", "xls", "xlsx") else None
    else:
        actual = None
    if actual is None:
        raise _unknown(path, "unknown or unsupported file format")
    if stated is not None and stated != actual and not (stated == "kmz" and actual == "zip"):
        warnings.append(
            f"{path.name}: the content is {actual.upper()}, not what the name "
            f"{path.suffix} says; read it as {actual.upper()}"
        )
    return actual


@dataclass(frozen=True)
class _Candidate:
    name: str  # member path or folder-relative path, "/"-separated

    @property
    def path(self) -> PurePosixPath:
        return PurePosixPath(self.name)


def _ignored(name: str) -> bool:
    parts = name.split("/")
    base = parts[-1]
    return "__MACOSX" in parts or base.startswith(("._", "~$", ".")) or not base


def _choose(names: list[str], layer: str | None, where: Path) -> tuple[str, bool]:
    """Pick the survey file among ``names``; returns it and whether ``layer`` was used for it."""
    names = [n for n in names if not _ignored(n)]
    everything = [n for tier in _TIERS for n in names if PurePosixPath(n).suffix.lower() in tier]
    if layer is not None:
        for key in (
            lambda n: n,
            lambda n: PurePosixPath(n).name,
            lambda n: PurePosixPath(n).stem,
        ):
            hits = [n for n in everything if key(n) == layer]
            if len(hits) == 1:
                return hits[0], True
    for tier in _TIERS:
        found = [n for n in names if PurePosixPath(n).suffix.lower() in tier]
        if len(found) == 1:
            return found[0], False
        if found:
            raise SurveyReadError(
                f"{where}: {len(found)} survey files; choose one with --layer: "
                + ", ".join(repr(n) for n in found)
            )
    raise _unknown(where, "no survey file inside")


def _open_file(
    path: Path,
    kind: str,
    *,
    encoding: str | None,
    layer: str | None,
    sheet: str | None,
    batch_rows: int,
    source: Path,
    member: str | None,
) -> tuple[SourceInfo, Iterator[RowBatch], Cleanup | None]:
    if kind == "csv":
        info, batches = open_csv(
            path, encoding=encoding, batch_rows=batch_rows, source=source, member=member
        )
        return info, batches, None
    if kind == "xlsx":
        return open_xlsx(
            path, sheet=sheet or layer, batch_rows=batch_rows, source=source, member=member
        )
    info, batches = open_vector(
        path,
        fmt=kind,
        layer=layer,
        encoding=encoding,
        batch_rows=batch_rows,
        source=source,
        member=member,
    )
    return info, batches, None


def _open_archive(
    path: Path,
    kind: str,
    *,
    encoding: str | None,
    layer: str | None,
    sheet: str | None,
    batch_rows: int,
) -> tuple[SourceInfo, Iterator[RowBatch], Cleanup]:
    members = archives.safe_members(path)
    by_name = {m.name: m for m in members}
    if kind == "kmz":
        # KML 2.2: the main document is doc.kml, else the first .kml in the archive.
        kmls = [m.name for m in members if m.name.lower().endswith(".kml") and not _ignored(m.name)]
        if not kmls:
            raise SurveyReadError(f"{path}: the KMZ archive holds no .kml document")
        chosen = "doc.kml" if "doc.kml" in kmls else kmls[0]
        used_layer = False
    else:
        chosen, used_layer = _choose(list(by_name), layer, path)
    suffix = PurePosixPath(chosen).suffix.lower()
    wanted = [by_name[chosen]]
    rename: dict[str, str] = {}
    if suffix == ".shp":
        stem = chosen[: -len(suffix)]
        base = PurePosixPath(stem).name
        for m in members:
            part = m.name[len(stem) :].lower()
            if m.name.lower().startswith(stem.lower()) and part in _SHAPEFILE_PARTS:
                if m.name != chosen:
                    wanted.append(m)
                # GDAL looks for siblings with the same stem; lower-case extensions make
                # "ROADS.SHP"/"roads.dbf" archives work too.
                rename[m.name] = base + part
    tmp = Path(tempfile.mkdtemp(prefix="sightline-survey-"))
    try:
        extracted = archives.extract(path, wanted, tmp, rename=rename)
        inner = extracted[chosen]
        inner_kind = "kml" if kind == "kmz" else _kind(inner, [])
        info, batches, cleanup = _open_file(
            inner,
            inner_kind,
            encoding=encoding,
            layer=None if used_layer else layer,
            sheet=sheet,
            batch_rows=batch_rows,
            source=path,
            member=chosen,
        )
    except BaseException:
        archives.remove_tree(tmp)
        raise

    def release() -> None:
        if cleanup is not None:
            cleanup()
        archives.remove_tree(tmp)

    return info, batches, release


def open_survey(
    path: Path,
    *,
    encoding: str | None = None,
    layer: str | None = None,
    sheet: str | None = None,
    batch_rows: int = 50_000,
) -> tuple[SourceInfo, Iterator[RowBatch]]:
    """Open a survey file and stream its rows in batches.

    Parameters
    ----------
    path : Path
        A .csv/.tsv/.txt, .xlsx, .geojson/.json, .shp (or a folder holding one), .gpkg, .kml,
        .kmz, or a .zip holding one of them (a shapefile with its .dbf/.shx/.prj/.cpg).
    encoding : str, optional
        Text encoding of a CSV or of a shapefile's attributes; detected when omitted
        (CSV: BOM, UTF-8, GB18030; shapefile: .cpg, DBF code page, UTF-8, GB18030).
    layer : str, optional
        GeoPackage/KML layer, or the file to read in an archive or folder (path, name or
        stem); for a workbook it is taken as the sheet when ``sheet`` is not given.
    sheet : str, optional
        Worksheet of an .xlsx; default the first visible one.
    batch_rows : int
        Most rows per batch.

    Returns
    -------
    info : SourceInfo
        Format, member, encoding, stated CRS and columns; ``info.warnings`` may grow while
        the batches are read.
    batches : Iterator[RowBatch]
        A :class:`SurveyBatches`: call ``close()`` (or use ``with``) to stop early; temporary
        files are removed when it is exhausted, closed or garbage-collected.

    Raises
    ------
    SurveyReadError
        Unknown format, several layers/sheets/files and none chosen, unsafe archive, undecodable
        text, missing or duplicate headers. Iterating raises it too, naming the row, when a
        later part of a CSV does not decode.
    """
    path = Path(path)
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    if not path.exists():
        raise SurveyReadError(f"{path}: no such file or folder")
    given = path
    notes: list[str] = []
    cleanup: Cleanup | None
    if path.is_dir():
        names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        chosen, used_layer = _choose(names, layer, path)
        inner = path / chosen
        info, batches, cleanup = _open_file(
            inner,
            _kind(inner, notes),
            encoding=encoding,
            layer=None if used_layer else layer,
            sheet=sheet,
            batch_rows=batch_rows,
            source=path,
            member=chosen,
        )
    else:
        kind = _kind(path, notes)
        if kind == "shapefile-part":
            shp = next(
                (p for p in path.parent.glob(f"{glob_escape(path.stem)}.*")
                 if p.suffix.lower() == ".shp"),
                None,
            )  # fmt: skip
            if shp is None:
                raise _unknown(path, "a shapefile part without its .shp")
            notes.append(f"{path.name}: reading the shapefile {shp.name}")
            path, kind = shp, "shapefile"
        if kind in ("zip", "kmz"):
            info, batches, cleanup = _open_archive(
                path, kind, encoding=encoding, layer=layer, sheet=sheet, batch_rows=batch_rows
            )
        else:
            info, batches, cleanup = _open_file(
                path,
                kind,
                encoding=encoding,
                layer=layer,
                sheet=sheet,
                batch_rows=batch_rows,
                source=given,
                member=None,
            )
    info.warnings[:0] = notes
    return info, SurveyBatches(batches, cleanup)
