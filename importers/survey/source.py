"""What every survey reader returns: the source description, row batches and read errors."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd

__all__ = [
    "FORMATS",
    "GEOMETRY_COLUMN",
    "ReadIssue",
    "RowBatch",
    "SourceInfo",
    "SurveyBatches",
    "SurveyReadError",
]

#: Name of the column holding shapely geometries in batches of geometric formats.
GEOMETRY_COLUMN = "__geometry__"

#: Supported inputs, as named in error messages.
FORMATS = (
    "CSV (.csv, .txt, .tsv)",
    "Excel workbook (.xlsx)",
    "GeoJSON (.geojson, .json)",
    "Shapefile (.shp, a folder holding one, or a .zip of one)",
    "GeoPackage (.gpkg)",
    "KML (.kml, .kmz)",
)


class SurveyReadError(ValueError):
    """A survey file cannot be read; the message names the file and says what to do."""


@dataclass(frozen=True)
class ReadIssue:
    """A problem with one row that does not stop the read (the row number is the user's)."""

    row: int
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass(frozen=True)
class SourceInfo:
    """What was opened.

    Attributes
    ----------
    path : Path
        The file (or folder) the user gave.
    member : str or None
        Sheet, layer or archive member actually read (``"a.zip"`` member paths use ``/``;
        a layer inside an archived GeoPackage is ``"member:layer"``).
    format : str
        ``"csv"``, ``"xlsx"``, ``"geojson"``, ``"shapefile"``, ``"gpkg"`` or ``"kml"``.
    encoding : str or None
        Text encoding used (Python codec name) for CSV and shapefile DBF; None otherwise.
    crs : str or None
        CRS the file states (``"EPSG:nnnn"`` or WKT); None when it states nothing.
    columns : list of str
        Header names as in the file, stripped of BOM and surrounding whitespace.
    geometry : bool
        True when batches carry a ``__geometry__`` column.
    warnings : list of str
        File-level warnings; readers may append more while the batches are iterated.
    """

    path: Path
    member: str | None
    format: str
    encoding: str | None
    crs: str | None
    columns: list[str]
    geometry: bool
    warnings: list[str] = field(default_factory=list)


@dataclass
class RowBatch:
    """Consecutive rows of a survey file.

    Attributes
    ----------
    rows : pandas.DataFrame
        Object-dtype cells: ``str`` as in the file, None for empty; original header names;
        for geometric formats also ``__geometry__`` (shapely geometry or None, file CRS,
        not repaired).
    row_numbers : numpy.ndarray
        int64, one per row of ``rows``: the spreadsheet row (header = row 1) for CSV/XLSX,
        the 1-based feature index for the other formats.
    errors : list of ReadIssue
        Rows that could not be read (e.g. wrong number of cells); they are not in ``rows``.
    warnings : list of ReadIssue
        Rows that were read but deserve a warning (e.g. an id that Excel rounded).
    """

    rows: pd.DataFrame
    row_numbers: np.ndarray
    errors: list[ReadIssue] = field(default_factory=list)
    warnings: list[ReadIssue] = field(default_factory=list)


class SurveyBatches(Iterator[RowBatch]):
    """Iterator over row batches that releases its resources (temp dirs, open workbooks).

    Resources are released when the iterator is exhausted, fails, is closed (``close()`` or
    ``with``), or is garbage-collected without ever being iterated.
    """

    def __init__(
        self, batches: Iterator[RowBatch], cleanup: Callable[[], None] | None = None
    ) -> None:
        self._batches = batches
        # finalize (not __del__): runs at most once, also at interpreter exit, and must not
        # hold a reference to self.
        self._finalizer = weakref.finalize(self, cleanup) if cleanup is not None else None

    def __iter__(self) -> SurveyBatches:
        return self

    def __next__(self) -> RowBatch:
        try:
            return next(self._batches)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop reading and release resources now."""
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> SurveyBatches:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
