"""Text encodings of survey files: detection (BOM, UTF-8, GB18030) and checked streaming decode.

Chinese survey files arrive as UTF-8 (with or without BOM) or in the Windows code page
(GBK, of which GB18030 is a superset). Detection looks at the first megabyte that holds any
non-ASCII byte; streaming keeps checking, so a file that switches encoding half-way is
reported at the row where it happens instead of turning into mojibake.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Generator
from pathlib import Path

__all__ = [
    "SAMPLE_BYTES",
    "DecodeFailure",
    "detect_encoding",
    "display_name",
    "iter_lines",
    "normalise_codec",
]

SAMPLE_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 20
_MIXED_MIN_CHARS = 16

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DISPLAY = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030", "gbk": "GBK"}


class DecodeFailure(Exception):
    """Bytes that do not decode in ``encoding`` (raised by :func:`iter_lines`)."""

    def __init__(self, encoding: str, reason: str) -> None:
        super().__init__(f"bytes not valid {display_name(encoding)} ({reason})")
        self.encoding = encoding


def display_name(encoding: str) -> str:
    """Human name of a codec for messages (``"utf-8-sig"`` -> ``"UTF-8"``)."""
    return _DISPLAY.get(encoding, encoding.upper())


def normalise_codec(name: str) -> str:
    """Python's canonical name for an encoding name; ValueError when Python does not know it."""
    try:
        return codecs.lookup(name.strip()).name
    except LookupError as exc:
        raise ValueError(f"unknown text encoding {name!r}") from exc


def _bom(head: bytes) -> tuple[str, int] | None:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    return None


def _decodes(sample: bytes, encoding: str, *, final: bool) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        decoder.decode(sample, final=final)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path, *, start: int = 0, end: int | None = None) -> str | None:
    """Guess the text encoding of ``path[start:end]``.

    Parameters
    ----------
    path : Path
        The file.
    start, end : int
        Byte range to look at (e.g. the records of a DBF); the BOM is looked for at ``start``.

    Returns
    -------
    str or None
        ``"utf-8-sig"``/``"utf-16"``/``"utf-32"`` when a BOM says so, ``"utf-8"`` when the
        first megabyte holding non-ASCII bytes is valid UTF-8 (or there are none, or it
        starts with plenty of valid UTF-8 before bad bytes: a mixed file, which the streaming
        decoder then reports by row), ``"gb18030"`` when it is valid GB18030, None when it
        is neither.
    """
    with open(path, "rb") as f:
        f.seek(start)
        bom = _bom(f.read(4))
        if bom is not None:
            return bom[0]
        f.seek(start)
        remaining = None if end is None else end - start
        while True:
            size = _CHUNK_BYTES if remaining is None else min(_CHUNK_BYTES, remaining)
            chunk = f.read(size) if size > 0 else b""
            if not chunk:
                return "utf-8"
            if remaining is not None:
                remaining -= len(chunk)
            if not chunk.isascii():
                break
        # The first non-ASCII byte begins a character in both encodings (their lead bytes
        # are all >= 0x80), so the sample can start right there.
        first = next(i for i, b in enumerate(chunk) if b >= 0x80)
        more = SAMPLE_BYTES - (len(chunk) - first)
        if more > 0 and (remaining is None or remaining > 0):
            chunk += f.read(more if remaining is None else min(more, remaining))
        sample = chunk[first : first + SAMPLE_BYTES]
        at_end = not f.read(1)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(sample, final=at_end)
    except UnicodeDecodeError as exc:
        # Many valid UTF-8 characters before the first bad byte: a UTF-8 file with GBK rows
        # pasted in. Reading it as UTF-8 reports the row; GB18030 would garble the rest.
        before = sample[: exc.start].decode("utf-8", errors="replace")
        if sum(1 for ch in before if ord(ch) >= 0x80) >= _MIXED_MIN_CHARS:
            return "utf-8"
    else:
        return "utf-8"
    return "gb18030" if _decodes(sample, "gb18030", final=at_end) else None


def iter_lines(path: Path, encoding: str) -> Generator[str, None, None]:
    """Decoded lines of ``path`` (newlines kept, as ``open(..., newline="")`` gives them).

    Decoding is strict and chunked; at the first undecodable bytes the lines before them are
    yielded and then :class:`DecodeFailure` is raised, so a ``csv.reader`` fed by this
    generator has consumed exactly the records before the bad one.

    A BOM at the start is dropped.
    """
    if "\n".encode(encoding) != b"\n":
        # UTF-16/32: no byte-level line splitting; the text layer checks the bytes.
        with open(path, encoding=encoding, newline="") as wide:
            try:
                yield from wide
            except UnicodeDecodeError as exc:
                raise DecodeFailure(encoding, exc.reason) from exc
        return
    base = "utf-8" if encoding == "utf-8-sig" else encoding
    with open(path, "rb") as f:
        bom = _bom(f.read(4))
        f.seek(bom[1] if bom is not None and bom[0] == "utf-8-sig" else 0)
        pending = b""
        while True:
            chunk = f.read(_CHUNK_BYTES)
            data = pending + chunk
            if not chunk:
                piece, pending = data, b""
            else:
                # b"\n" never occurs inside a multi-byte character of an ASCII-compatible
                # encoding (UTF-8, GBK/GB18030, Big5, Shift-JIS), so cutting there is safe.
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    pending = data
                    continue
                piece, pending = data[:cut], data[cut:]
            if piece:
                try:
                    text = piece.decode(base)
                except UnicodeDecodeError as exc:
                    good = piece.rfind(b"\n", 0, exc.start) + 1
                    yield from io.StringIO(piece[:good].decode(base), newline="")
                    raise DecodeFailure(encoding, exc.reason) from exc
                yield from io.StringIO(text, newline="")
            if not chunk:
                return
