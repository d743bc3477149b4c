"""Header detection and row batching shared by the spreadsheet-like formats (CSV, XLSX).

Records come in as ``(row_number, cells)`` with cells already text (``str``, ``""`` or None);
row numbers are the ones a spreadsheet shows, so blank rows are skipped without shifting them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from importers.survey.source import ReadIssue, RowBatch, SurveyReadError

__all__ = ["Header", "batches", "column_label", "find_header"]

#: (row number, cells) or (row number, the reason the row could not be read)
Record = tuple[int, "Sequence[str | None] | ReadIssue"]
_SHOWN_CELLS = 3
_SHOWN_CHARS = 40


@dataclass
class Header:
    """The header row: its row number, the column names, and file-level warnings."""

    row: int
    columns: list[str]
    warnings: list[str] = field(default_factory=list)


def column_label(index: int) -> str:
    """``"column 3 (C)"`` for the 0-based column ``index``: number and spreadsheet letter."""
    letters, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"column {index + 1} ({letters})"


def _blank(cells: Sequence[str | None]) -> bool:
    # A loop, not all(<genexpr>): this runs once per row and usually stops at the first cell.
    for c in cells:
        if c and not c.isspace():
            return False
    return True


def _filled(cells: Sequence[str | None]) -> int:
    return sum(1 for c in cells if c is not None and c.strip())


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def find_header(records: Iterator[Record], name: str) -> Header:
    """Find the header among the first records.

    The header is the first non-blank row, except that a lone cell above a wider row is taken
    as a title (common in Chinese survey sheets, e.g. "XX区视频监控点位表") and skipped with a
    warning. Names are stripped of BOM and whitespace (including U+3000); empty names after the
    last named column are dropped.

    Raises
    ------
    SurveyReadError
        No header; a column without a name between named ones; duplicate names.
    """
    first: tuple[int, Sequence[str | None]] | None = None
    for row, cells in records:
        if isinstance(cells, ReadIssue):
            raise SurveyReadError(f"{name}: {cells}")
        if _blank(cells):
            continue
        if first is None:
            first = (row, cells)
            if _filled(cells) != 1:
                break
            continue
        if _filled(cells) >= 2:
            title = next(c for c in first[1] if c is not None and c.strip())
            header = _make_header(row, cells, name)
            header.warnings.append(
                f"row {first[0]} looks like a title ({_short(title.strip())!r}); "
                f"the header is row {row}"
            )
            return header
        break
    if first is None:
        raise SurveyReadError(f"{name}: no header row (the file has no non-blank rows)")
    return _make_header(*first, name)


def _make_header(row: int, cells: Sequence[str | None], name: str) -> Header:
    names = [(c or "").strip().lstrip("\ufeff").strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    unnamed = [column_label(i) for i, n in enumerate(names) if not n]
    if unnamed:
        raise SurveyReadError(
            f"{name}: row {row}, {', '.join(unnamed)} has no header name; "
            "name every column (or delete the empty ones)"
        )
    seen: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        seen.setdefault(n, []).append(i)
    dups = {n: idx for n, idx in seen.items() if len(idx) > 1}
    if dups:
        listed = "; ".join(
            f"{n!r} in " + ", ".join(column_label(i) for i in idx) for n, idx in dups.items()
        )
        raise SurveyReadError(f"{name}: duplicate column names in row {row}: {listed}")
    return Header(row=row, columns=names)


def _frame(flat: list[str | None], columns: list[str]) -> pd.DataFrame:
    if not flat:
        return pd.DataFrame({c: [] for c in columns}, dtype=object)
    cells = np.array(flat, dtype=object).reshape(-1, len(columns))
    cells[cells == ""] = None
    # dtype=object: pandas 3 would otherwise infer its "str" dtype (NaN for missing).
    return pd.DataFrame(cells, columns=columns, dtype=object, copy=False)


def batches(
    records: Iterator[Record],
    columns: list[str],
    batch_rows: int,
    pending_warnings: list[ReadIssue] | None = None,
    *,
    pad_short_rows: bool = False,
) -> Iterator[RowBatch]:
    """Batch the data records that follow the header.

    Blank rows are skipped (their numbers are not reused). A row with fewer cells than
    columns (unless ``pad_short_rows``: XLSX rows simply end at their last filled cell), or
    with non-empty cells beyond the last column, becomes a :class:`ReadIssue` instead of a
    row; empty trailing cells (Excel's padding) are ignored. Empty cells become
    None. ``pending_warnings`` is drained into each batch (the cell converter of the caller
    appends to it while ``records`` is consumed).
    """
    width = len(columns)
    # One flat list of (untracked) strings, not a list per row: thousands of live row lists
    # make the cyclic GC rescan them over and over, which tripled the read time.
    flat: list[str | None] = []
    numbers: list[int] = []
    errors: list[ReadIssue] = []
    for row, cells in records:
        if isinstance(cells, ReadIssue):
            errors.append(cells)
            continue
        n = len(cells)
        if _blank(cells):
            continue
        if n < width:
            if not pad_short_rows:
                errors.append(ReadIssue(row, f"{n} cells but the header has {width} columns"))
                continue
            cells = [*cells, *([None] * (width - n))]
        elif n > width:
            extra = [(i, c) for i, c in enumerate(cells[width:], width) if c and c.strip()]
            if extra:
                errors.append(ReadIssue(row, _beyond(n, width, extra)))
                continue
            cells = cells[:width]
        flat.extend(cells)
        numbers.append(row)
        if len(numbers) >= batch_rows:
            yield _batch(flat, numbers, columns, errors, pending_warnings)
            flat, numbers, errors = [], [], []
    if numbers or errors or pending_warnings:
        yield _batch(flat, numbers, columns, errors, pending_warnings)


def _beyond(n: int, width: int, extra: list[tuple[int, str]]) -> str:
    shown = ", ".join(f"{column_label(i)} {_short(c)!r}" for i, c in extra[:_SHOWN_CELLS])
    more = f" and {len(extra) - _SHOWN_CELLS} more" if len(extra) > _SHOWN_CELLS else ""
    return (
        f"{n} cells but the header has {width} columns; "
        f"values beyond the last column: {shown}{more}"
    )


def _batch(
    flat: list[str | None],
    numbers: list[int],
    columns: list[str],
    errors: list[ReadIssue],
    pending_warnings: list[ReadIssue] | None,
) -> RowBatch:
    warnings: list[ReadIssue] = []
    if pending_warnings:
        warnings = list(pending_warnings)
        pending_warnings.clear()
    return RowBatch(
        rows=_frame(flat, columns),
        row_numbers=np.array(numbers, dtype=np.int64),
        errors=errors,
        warnings=warnings,
    )
