"""Streaming CSV reader: encoding detection, delimiter sniffing, cells kept as text."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Generator, Iterator
from pathlib import Path

from importers.survey import tabular
from importers.survey.encoding import (
    DecodeFailure,
    detect_encoding,
    display_name,
    iter_lines,
    normalise_codec,
)
from importers.survey.source import ReadIssue, RowBatch, SourceInfo, SurveyReadError

__all__ = ["DELIMITERS", "open_csv"]

#: Candidate delimiters, in order of preference on a tie.
DELIMITERS = (",", "\t", ";")
_SNIFF_LINES = 50
_SNIFF_CHARS = 64 * 1024
# Survey CSVs may carry WKT polygons of whole districts in one cell.
_FIELD_LIMIT = 64 * 1024 * 1024
# A quoted cell spanning more lines than this is taken for an unclosed quote, not a note.
_MAX_RECORD_LINES = 20


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the most rows of equal width (>= 2)."""
    sample = "".join(lines)
    best, best_score = DELIMITERS[0], (0, 0)
    for delimiter in DELIMITERS:
        widths = [
            len(r) for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if r
        ]
        if not widths:
            continue
        width = max(set(widths), key=lambda w: (widths.count(w), w))
        if width < 2:
            continue
        score = (widths.count(width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _runaway_quote(row: int, first: int, last: int) -> ReadIssue:
    return ReadIssue(
        row,
        f'one cell runs over lines {first}-{last} of the file: an unclosed quote (") '
        "swallowed the rows after it; fix the quote and re-save",
    )


def _records(
    path: Path, encoding: str, delimiter: str, name: str, given: bool, after: int = 0
) -> Generator[tabular.Record, None, None]:
    """(spreadsheet row, cells) for every record after row ``after``, blank ones included."""
    reader = csv.reader(iter_lines(path, encoding), delimiter=delimiter)
    row = after
    try:
        for _ in itertools.islice(reader, after):
            pass
        last_line = reader.line_num
        for row, cells in enumerate(reader, after + 1):
            if reader.line_num - last_line > _MAX_RECORD_LINES:
                yield row, _runaway_quote(row, last_line + 1, reader.line_num)
            else:
                yield row, cells
            last_line = reader.line_num
    except DecodeFailure as exc:
        hint = (
            f"the given encoding {display_name(encoding)} does not fit; check --encoding"
            if given
            else "the file mixes encodings; re-save it as UTF-8 or pass --encoding"
        )
        raise SurveyReadError(f"{name}: row {row + 1}: {exc} — {hint}") from exc
    except csv.Error as exc:
        raise SurveyReadError(
            f"{name}: row {row + 1}: {exc} (an unclosed quote?); fix the row and re-save"
        ) from exc


def open_csv(
    path: Path,
    *,
    encoding: str | None = None,
    batch_rows: int = 50_000,
    source: Path | None = None,
    member: str | None = None,
) -> tuple[SourceInfo, Iterator[RowBatch]]:
    """Open a delimited text file.

    Parameters
    ----------
    path : Path
        The file to read (possibly extracted from an archive).
    encoding : str, optional
        Text encoding; detected when omitted (BOM, then UTF-8, then GB18030).
    batch_rows : int
        Rows per batch.
    source, member : optional
        The path the user gave and the archive member, for :class:`SourceInfo` and messages.

    Returns
    -------
    (SourceInfo, iterator of RowBatch)

    Raises
    ------
    SurveyReadError
        Empty file, unknown or wrong encoding, no header, unnamed or duplicate columns; while
        iterating: bytes that do not decode (naming the row), broken quoting.
    """
    name = str(member or source or path)
    if path.stat().st_size == 0:
        raise SurveyReadError(f"{name}: the file is empty")
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    given = encoding is not None
    if encoding is not None:
        try:
            encoding = normalise_codec(encoding)
        except ValueError as exc:
            raise SurveyReadError(f"{name}: {exc}") from exc
    else:
        encoding = detect_encoding(path)
        if encoding is None:
            raise SurveyReadError(
                f"{name}: the text is neither UTF-8 nor GB18030/GBK; "
                "re-save it as UTF-8 or pass --encoding"
            )
    # Sniff from the lines before any undecodable bytes; reading the records then reports
    # those bytes with their row number.
    sample: list[str] = []
    lines = iter_lines(path, encoding)
    try:
        for line in itertools.islice(lines, _SNIFF_LINES):
            sample.append(line)
    except DecodeFailure:
        pass
    finally:
        lines.close()
    while sum(map(len, sample)) > _SNIFF_CHARS and len(sample) > 2:
        sample.pop()
    delimiter = _sniff_delimiter(sample)
    records = _records(path, encoding, delimiter, name, given)
    try:
        header = tabular.find_header(records, name)
    finally:
        records.close()
    info = SourceInfo(
        path=source or path,
        member=member,
        format="csv",
        encoding=encoding,
        crs=None,
        columns=header.columns,
        geometry=False,
        warnings=header.warnings,
    )

    def data() -> Iterator[RowBatch]:
        body = _records(path, encoding, delimiter, name, given, after=header.row)
        yield from tabular.batches(body, header.columns, batch_rows)

    return info, data()
