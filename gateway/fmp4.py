"""ISO-BMFF (fragmented MP4) boxes: split a muxer's output, read the codec, rebase fragment times.

Only what the gateway needs: top-level box framing, a walk into ``moov``/``moof``, the RFC 6381
codec string (``avc1.PPCCLL`` / ``hvc1...``) for ``MediaSource.isTypeSupported``, and ``tfdt``
rewriting so that each viewer's timeline starts at zero.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"mvex", b"edts"}


class Fmp4Error(ValueError):
    """Bytes that are not the fragmented MP4 the gateway expects."""


def boxes(data: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[
    tuple[bytes, int, int]
]:  # fmt: skip
    """Yield ``(type, offset, size)`` of each box in ``data[start:end]`` (no descent).

    Raises
    ------
    Fmp4Error
        On a box whose size runs past the end.
    """
    end = len(data) if end is None else end
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, i)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, i + 8)[0]
            header = 16
        elif size == 0:
            size = end - i
        if size < header or i + size > end:
            raise Fmp4Error(f"box {kind!r} at {i} of size {size} runs past {end}")
        yield kind, i, size
        i += size


def split_complete(buffer: bytearray) -> list[bytes]:
    """Remove and return the complete top-level boxes at the start of ``buffer``."""
    out: list[bytes] = []
    i = 0
    while len(buffer) - i >= 8:
        size = struct.unpack_from(">I", buffer, i)[0]
        if size < 8:
            raise Fmp4Error(f"unsupported top-level box size {size}")
        if len(buffer) - i < size:
            break
        out.append(bytes(buffer[i : i + size]))
        i += size
    del buffer[:i]
    return out


def find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> tuple[int, int]:
    """Offset and size of the first box at ``path`` (e.g. ``[b"moof", b"traf", b"tfdt"]``).

    Raises
    ------
    Fmp4Error
        When there is no such box.
    """
    end = len(data) if end is None else end
    for kind, off, size in boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return off, size
            skip = 8
            if kind == b"stsd":
                skip = 16  # version/flags + entry count
            elif kind in (b"avc1", b"hvc1", b"hev1"):
                skip = 8 + 78  # VisualSampleEntry fields before the child boxes
            return find(data, path[1:], off + skip, off + size)
    raise Fmp4Error(f"no {b'/'.join(path).decode()} box")


@dataclass(frozen=True)
class TrackInfo:
    """What a player needs to know about the video track of an init segment."""

    codec: str  # RFC 6381, e.g. "avc1.42c015"
    timescale: int  # ticks per second of the track (mdhd)
    width_px: int
    height_px: int


def track_info(init: bytes) -> TrackInfo:
    """Codec string, timescale and size of the (single) video track of ``ftyp+moov``."""
    mdia = [b"moov", b"trak", b"mdia"]
    off, _ = find(init, [*mdia, b"mdhd"])
    version = init[off + 8]
    timescale = struct.unpack_from(">I", init, off + (28 if version == 1 else 20))[0]
    stsd = [*mdia, b"minf", b"stbl", b"stsd"]
    soff, ssize = find(init, stsd)
    entry_kind, eoff, _ = next(boxes(init, soff + 16, soff + ssize))
    width, height = struct.unpack_from(">HH", init, eoff + 8 + 24)
    if entry_kind == b"avc1":
        coff, _ = find(init, [*stsd, b"avc1", b"avcC"])
        profile, compat, level = init[coff + 9], init[coff + 10], init[coff + 11]
        codec = f"avc1.{profile:02x}{compat:02x}{level:02x}"
    elif entry_kind in (b"hvc1", b"hev1"):
        coff, _ = find(init, [*stsd, entry_kind, b"hvcC"])
        codec = _hevc_codec(entry_kind.decode(), init[coff + 8 : coff + 8 + 13])
    else:
        raise Fmp4Error(f"unsupported sample entry {entry_kind!r}")
    return TrackInfo(codec=codec, timescale=int(timescale), width_px=width, height_px=height)


def _hevc_codec(fourcc: str, rec: bytes) -> str:
    # ISO/IEC 14496-15 Annex E: hvc1.<space><profile>.<compat, bits reversed>.<tier><level>.<cons>
    space = ("", "A", "B", "C")[rec[1] >> 6]
    tier = "H" if rec[1] & 0x20 else "L"
    profile = rec[1] & 0x1F
    compat = int.from_bytes(rec[2:6], "big")
    compat_rev = int(f"{compat:032b}"[::-1], 2)
    level = rec[12]
    constraints = rec[6:12].rstrip(b"\x00")
    cons = "." + ".".join(f"{b:X}" for b in constraints) if constraints else ""
    return f"{fourcc}.{space}{profile}.{compat_rev:X}.{tier}{level}{cons}"


def decode_time(fragment: bytes) -> int:
    """``baseMediaDecodeTime`` of a ``moof`` (+ ``mdat``) fragment, in track ticks."""
    off, _ = find(fragment, [b"moof", b"traf", b"tfdt"])
    if fragment[off + 8] == 1:
        return int(struct.unpack_from(">Q", fragment, off + 12)[0])
    return int(struct.unpack_from(">I", fragment, off + 12)[0])


def with_decode_time(fragment: bytes, ticks: int) -> bytes:
    """A copy of ``fragment`` whose ``tfdt`` says ``ticks`` (same size: offsets stay valid).

    Raises
    ------
    Fmp4Error
        When ``ticks`` is negative or does not fit a version-0 ``tfdt``.
    """
    off, _ = find(fragment, [b"moof", b"traf", b"tfdt"])
    out = bytearray(fragment)
    if out[off + 8] == 1:
        struct.pack_into(">Q", out, off + 12, ticks)
    elif 0 <= ticks < 2**32:
        struct.pack_into(">I", out, off + 12, ticks)
    else:
        raise Fmp4Error(f"decode time {ticks} does not fit a version-0 tfdt")
    return bytes(out)


def sample_data(fragment: bytes) -> bytes:
    """The payload of the fragment's ``mdat`` (one access unit with one frame per fragment)."""
    for kind, off, size in boxes(fragment):
        if kind == b"mdat":
            return fragment[off + 8 : off + size]
    raise Fmp4Error("no mdat box")


def avc_config(init: bytes) -> bytes:
    """The ``avcC``/``hvcC`` record (decoder extradata) of an init segment."""
    stsd = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]
    soff, ssize = find(init, stsd)
    entry_kind, _, _ = next(boxes(init, soff + 16, soff + ssize))
    child = b"avcC" if entry_kind == b"avc1" else b"hvcC"
    off, size = find(init, [*stsd, entry_kind, child])
    return init[off + 8 : off + size]
