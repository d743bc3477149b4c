"""Streaming XLSX reader (openpyxl read-only): real sheet row numbers, cells as careful text."""

from __future__ import annotations

import datetime as dt
import warnings
import zipfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from importers.survey import tabular
from importers.survey.source import ReadIssue, RowBatch, SourceInfo, SurveyReadError
from importers.survey.tabular import Record

__all__ = ["EXCEL_EXACT_LIMIT", "cell_text", "open_xlsx"]

#: Excel keeps 15 significant digits: integers from here on may have lost digits.
EXCEL_EXACT_LIMIT = 1e15


def float_text(value: float) -> str:
    """Shortest round-trip decimal without exponent or trailing ``.0`` (``120.0`` -> "120")."""
    return str(np.format_float_positional(value, trim="-"))


def cell_text(value: Any) -> str | None:
    """Text of an openpyxl cell value: ints without ".0", ISO dates, "true"/"false"."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return None
        return float_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _open(path: Path, name: str) -> tuple[Any, Callable[[], None], list[str]]:
    """The read-only workbook, its closer and the warnings openpyxl gave while opening it."""
    # openpyxl warns about features it drops (data validation, default styles); they are
    # harmless for reading values, so they are passed on as file warnings, not raised.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A file object, not the path: openpyxl refuses paths by extension, and renamed
        # workbooks ("点位.csv" that is really .xlsx) are common.
        handle = open(path, "rb")  # closed by the returned closer
        try:
            wb = load_workbook(handle, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            handle.close()
            raise SurveyReadError(f"{name}: not a readable .xlsx workbook ({exc})") from exc

    def close() -> None:
        wb.close()
        handle.close()

    return wb, close, [f"{name}: {w.message}" for w in caught]


def _rounded_id(row: int, index: int, value: float, columns: list[str]) -> ReadIssue:
    column = columns[index] if index < len(columns) else tabular.column_label(index)
    digits = len(str(abs(int(value))))
    return ReadIssue(
        row,
        f"column {column}: a {digits}-digit id stored as a number in Excel has lost digits "
        "(Excel keeps 15); format the column as text and re-enter the ids",
    )


def _has_rows(ws: Any) -> bool:
    ws.reset_dimensions()
    return any(any(v is not None for v in r) for r in ws.iter_rows(max_row=50, values_only=True))


def open_xlsx(
    path: Path,
    *,
    sheet: str | None = None,
    batch_rows: int = 50_000,
    source: Path | None = None,
    member: str | None = None,
) -> tuple[SourceInfo, Iterator[RowBatch], Any]:
    """Open an Excel workbook.

    Parameters
    ----------
    path : Path
        The .xlsx file.
    sheet : str, optional
        Sheet to read; default the first visible sheet (other non-empty sheets are named in a
        warning).
    batch_rows : int
        Rows per batch.
    source, member : optional
        The path the user gave and the archive member, for :class:`SourceInfo` and messages.

    Returns
    -------
    (SourceInfo, iterator of RowBatch, close)
        ``close`` closes the workbook (the iterator also does when exhausted).

    Raises
    ------
    SurveyReadError
        Not a workbook, unknown sheet, no header, unnamed or duplicate columns.
    """
    name = str(member or source or path)
    wb, close, file_warnings = _open(path, name)
    try:
        titles = list(wb.sheetnames)
        if sheet is not None:
            if sheet not in titles:
                raise SurveyReadError(
                    f"{name}: no sheet {sheet!r}; the sheets are: "
                    + ", ".join(repr(t) for t in titles)
                )
            ws = wb[sheet]
        else:
            visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
            if not visible:
                raise SurveyReadError(f"{name}: the workbook has no visible worksheet")
            ws = visible[0]
            others = [o.title for o in visible[1:] if _has_rows(o)]
            if others:
                file_warnings.append(
                    f"{name}: read sheet {ws.title!r}; the workbook also has data in "
                    + ", ".join(repr(t) for t in others)
                    + " (choose one with --sheet)"
                )
        # Writers other than Excel often store a wrong <dimension>; without this, read-only
        # mode would stop at the row it names.
        ws.reset_dimensions()

        def records(
            start: int, pending: list[ReadIssue] | None = None
        ) -> Generator[Record, None, None]:
            rows = ws.iter_rows(min_row=start, values_only=True)
            for row, values in enumerate(rows, start):
                cells: list[str | None] = []
                for i, value in enumerate(values):
                    text = cell_text(value)
                    if (
                        pending is not None
                        and isinstance(value, float)
                        and abs(value) >= EXCEL_EXACT_LIMIT
                        and value.is_integer()
                    ):
                        pending.append(_rounded_id(row, i, value, columns))
                    cells.append(text)
                yield row, cells

        columns: list[str] = []
        header_records = records(1)
        try:
            header = tabular.find_header(header_records, name)
        finally:
            header_records.close()
        columns = header.columns
    except BaseException:
        close()
        raise
    info = SourceInfo(
        path=source or path,
        member=ws.title if member is None else f"{member}:{ws.title}",
        format="xlsx",
        encoding=None,
        crs=None,
        columns=header.columns,
        geometry=False,
        warnings=file_warnings + header.warnings,
    )

    def data() -> Iterator[RowBatch]:
        pending: list[ReadIssue] = []
        try:
            body = records(header.row + 1, pending)
            yield from tabular.batches(
                body, header.columns, batch_rows, pending, pad_short_rows=True
            )
        finally:
            close()

    return info, data(), close
