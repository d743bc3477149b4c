"""Decoding jobs of the gateway: a JPEG from a keyframe, and the health probe of one camera.

Both block (PyAV); the gateway runs them in worker threads.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.error

from gateway import fmp4


class SnapshotError(ValueError):
    """The keyframe could not be decoded into a picture."""


def jpeg_from_keyframe(init: bytes, fragment: bytes, quality: int = 5) -> bytes:
    """Decode the keyframe in ``fragment`` (with the decoder setup of ``init``) into a JPEG.

    ``quality`` is the MJPEG quantiser (2 best .. 31 worst). Only this one frame is decoded:
    the stream itself is never transcoded.
    """
    info = fmp4.track_info(init)
    name = "h264" if info.codec.startswith("avc") else "hevc"
    dec: Any = av.CodecContext.create(name, "r")
    dec.extradata = fmp4.avc_config(init)
    frames = list(dec.decode(av.Packet(fmp4.sample_data(fragment))))
    frames += list(dec.decode(None))
    if not frames:
        raise SnapshotError("the keyframe decoded to no picture")
    frame = frames[0].reformat(format="yuvj420p")
    enc = av.CodecContext.create("mjpeg", "w")
    enc.width, enc.height = frame.width, frame.height
    enc.pix_fmt = "yuvj420p"
    enc.time_base = Fraction(1, 25)
    enc.options = {"qmin": str(quality), "qmax": str(quality)}
    packets = list(enc.encode(frame)) + list(enc.encode(None))
    return b"".join(bytes(p) for p in packets)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF marker.

    Raises
    ------
    SnapshotError
        When ``data`` is not a JPEG with a frame header.
    """
    if data[:2] != b"\xff\xd8":
        raise SnapshotError("not a JPEG (no SOI marker)")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise SnapshotError(f"bad JPEG marker at {i}")
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            h = int.from_bytes(data[i + 5 : i + 7], "big")
            w = int.from_bytes(data[i + 7 : i + 9], "big")
            return w, h
        i += 2 + length
    raise SnapshotError("JPEG without a frame header")


@dataclass(frozen=True)
class Probe:
    """What a probe found: ``online``, ``offline`` (no answer) or ``fault`` (answered, unusable)."""

    status: str
    reason: str | None
    codec: str | None = None
    width_px: int | None = None
    height_px: int | None = None
    probe_ms: float | None = None


OFFLINE_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}


def probe(url: str, timeout_s: float) -> Probe:
    """Connect (RTSP DESCRIBE/SETUP/PLAY over TCP) and wait for the first video packet.

    ``url`` may carry credentials; no message returned contains it.
    """
    t0 = time.monotonic()
    try:
        container = av.open(
            url,
            container_options={"rtsp_transport": "tcp", "analyzeduration": "0",
                               "probesize": "4096"},
            timeout=(timeout_s, timeout_s),
        )  # fmt: skip
    except av.error.HTTPUnauthorizedError:
        return Probe("fault", "the camera refused the credentials (RTSP 401)")
    except av.error.HTTPForbiddenError:
        return Probe("fault", "the camera refused access (RTSP 403)")
    except av.error.HTTPNotFoundError:
        return Probe("fault", "no such stream on the camera (RTSP 404)")
    except av.error.HTTPError as exc:
        return Probe("fault", f"the camera answered with an error ({type(exc).__name__})")
    except av.error.ExitError:
        return Probe("offline", f"no answer within {timeout_s:g} s")
    except OSError as exc:
        if exc.errno in OFFLINE_ERRNOS or isinstance(exc, TimeoutError | ConnectionError):
            return Probe("offline", f"{exc.strerror or type(exc).__name__}".lower())
        return Probe("fault", f"connection failed: {type(exc).__name__}")
    try:
        if not container.streams.video:
            return Probe("fault", "the stream has no video")
        vs = container.streams.video[0]
        codec = vs.codec_context.name
        w, h = vs.codec_context.width, vs.codec_context.height
        deadline = t0 + timeout_s
        for pkt in container.demux(vs):
            if pkt.size > 0:
                ms = (time.monotonic() - t0) * 1000.0
                return Probe("online", None, codec, w or None, h or None, round(ms, 1))
            if time.monotonic() > deadline:
                break
        return Probe("fault", "connected, but no video frame arrived", codec)
    except av.error.ExitError:
        return Probe("fault", f"connected, but no video frame within {timeout_s:g} s")
    except (av.error.FFmpegError, OSError) as exc:
        return Probe("fault", f"stream broke: {type(exc).__name__}")
    finally:
        container.close()
