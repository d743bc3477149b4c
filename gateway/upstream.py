"""One upstream pull per camera, shared by every viewer: RTSP in, fragmented MP4 out (PyAV remux).

A pull runs in its own thread (PyAV blocks); its fragments are handed to the event loop, which
fans them out to viewers' bounded queues and keeps the current GOP (for late joiners) and the
last few HLS segments. Timestamps are kept on one continuous "hub" timeline across
reconnects; each viewer's timeline is rebased to start at zero at its first keyframe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import av

from gateway import fmp4

log = logging.getLogger("sightline.gateway")

MOVFLAGS = "empty_moov+default_base_moof+frag_every_frame+skip_trailer"
VIEWER_QUEUE = 90  # fragments (~6 s at 15 fps) before a slow viewer is dropped to the next key
HLS_TARGET_S = 1.0
HLS_KEEP = 8


def redact(url: str) -> str:
    """``url`` without user and password (for logs and messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class Fragment:
    """One ``moof+mdat`` (one frame) with its ``tfdt`` already on the hub timeline."""

    data: bytes
    keyframe: bool
    decode_time: int  # hub ticks
    generation: int
    received: float  # time.monotonic() when its packet left the demuxer


@dataclass(frozen=True)
class InitSegment:
    """``ftyp+moov`` of one upstream connection (a generation) and what a player needs."""

    data: bytes
    info: fmp4.TrackInfo
    generation: int
    transcoded: bool


@dataclass
class HlsSegment:
    sequence: int
    generation: int
    start: int  # hub ticks
    parts: list[bytes] = field(default_factory=list)
    duration_s: float = 0.0
    complete: bool = False


@dataclass(frozen=True)
class Status:
    """A change of the upstream state that viewers are told about."""

    state: str  # "connecting" | "live" | "reconnecting" | "stopped"
    reason: str = ""


@dataclass(eq=False)
class Viewer:
    """One WebSocket client of an upstream."""

    queue: asyncio.Queue[Fragment | InitSegment | Status] = field(
        default_factory=lambda: asyncio.Queue(VIEWER_QUEUE)
    )
    base: int | None = None  # hub tick that is this viewer's zero
    needs_key: bool = True
    dropped: int = 0

    def offer(self, item: Fragment | InitSegment | Status) -> None:
        if isinstance(item, Fragment):
            if self.needs_key and not item.keyframe:
                return
            if self.base is None:
                self.base = item.decode_time
            self.needs_key = False
        elif isinstance(item, InitSegment):
            self.needs_key = True
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A viewer that cannot keep up skips to the next keyframe rather than
            # slowing the camera down for everyone.
            self.dropped += 1
            while not self.queue.empty():
                self.queue.get_nowait()
            self.needs_key = True


class _Sink:
    """File-like object the mp4 muxer writes to; collects complete top-level boxes."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer.extend(data)
        return len(data)

    def seekable(self) -> bool:
        return False

    def take(self) -> list[bytes]:
        return fmp4.split_complete(self.buffer)


class Upstream:
    """The shared pull of one camera.

    Parameters
    ----------
    camera_id
        GB/T 28181 device id (what viewers ask for).
    url
        RTSP URL *with* credentials; it never leaves this object (logs show ``redact(url)``).
    loop
        The event loop that owns the viewers.
    reconnect_max_s
        Longest wait between reconnection attempts (back-off doubles from 0.5 s).
    transcode_h265
        Decode H.265 and re-encode H.264 (libx264 ultrafast) for browsers without HEVC.
    """

    def __init__(
        self,
        camera_id: str,
        url: str,
        loop: asyncio.AbstractEventLoop,
        *,
        reconnect_max_s: float = 10.0,
        open_timeout_s: float = 5.0,
        transcode_h265: bool = False,
    ) -> None:
        self.camera_id = camera_id
        self._url = url
        self.public_url = redact(url)
        self._loop = loop
        self._reconnect_max_s = reconnect_max_s
        self._open_timeout_s = open_timeout_s
        self._transcode_h265 = transcode_h265
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.viewers: set[Viewer] = set()
        self.init: InitSegment | None = None
        self.gop: list[Fragment] = []
        self.hls: deque[HlsSegment] = deque(maxlen=HLS_KEEP)
        self._hls_seq = 0
        self.sessions = 0  # upstream connections opened
        self.fragments = 0
        self.status = Status("connecting")
        self.last_error: str | None = None
        self.started_at = time.monotonic()
        self.lease_until = 0.0  # HLS / snapshot clients keep the pull alive until then
        self.idle_since: float | None = None
        self.keyframe_event = asyncio.Event()
        self._hub_end = 0  # hub tick just after the last fragment
        self._last_tick = 0  # duration estimate of one frame, hub ticks

    # -- lifecycle (event loop) -------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"pull-{self.camera_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the pull to stop (returns at once; the thread ends within a frame or a timeout)."""
        self._stop.set()
        self._publish(Status("stopped"))

    def join(self, timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add_viewer(self) -> Viewer:
        """A new viewer, primed with the init segment and the GOP so far (starts at a key)."""
        viewer = Viewer()
        if self.init is not None:
            viewer.offer(self.init)
            for frag in self.gop:
                viewer.offer(frag)
        if self.status.state != "live":
            viewer.offer(self.status)
        self.viewers.add(viewer)
        self.idle_since = None
        return viewer

    def remove_viewer(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    def idle(self, now: float) -> bool:
        return not self.viewers and now >= self.lease_until

    # -- fan-out (event loop) ---------------------------------------------------------------
    def _publish(self, item: Fragment | InitSegment | Status) -> None:
        if isinstance(item, InitSegment):
            self.init = item
            self.gop = []
        elif isinstance(item, Fragment):
            if item.keyframe:
                self.gop = [item]
                self.keyframe_event.set()
            elif self.gop:
                self.gop.append(item)
            self._add_to_hls(item)
            self.fragments += 1
            if self.status.state != "live":
                self.status = Status("live")
        else:
            self.status = item
        for viewer in self.viewers:
            viewer.offer(item)

    def _add_to_hls(self, frag: Fragment) -> None:
        cur = self.hls[-1] if self.hls else None
        assert self.init is not None
        ticks_per_s = self.init.info.timescale
        if cur is not None and not cur.complete:
            cur.duration_s = (frag.decode_time - cur.start) / ticks_per_s
            new_gen = frag.generation != cur.generation
            if frag.keyframe and (new_gen or cur.duration_s >= HLS_TARGET_S):
                cur.complete = True
            elif not new_gen:
                cur.parts.append(frag.data)
                return
            else:
                cur.complete = True  # a new connection mid-segment: close it, wait for a key
        if frag.keyframe:
            self._hls_seq += 1
            self.hls.append(
                HlsSegment(self._hls_seq, frag.generation, frag.decode_time, [frag.data])
            )

    def _emit(self, item: Fragment | InitSegment | Status) -> None:
        """From the pull thread: hand an item to the event loop."""
        try:
            self._loop.call_soon_threadsafe(self._publish, item)
        except RuntimeError:  # loop closed during shutdown
            self._stop.set()

    # -- the pull (its own thread) ----------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            got_frames = False
            try:
                for _ in self._pull():
                    got_frames = True
                if not self._stop.is_set():
                    raise EOFError("the camera ended the stream")
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                reason = str(exc).replace(self._url, self.public_url)
                self.last_error = f"{type(exc).__name__}: {reason}"
                if self._stop.is_set():
                    break
                if got_frames:
                    backoff = 0.5
                log.warning(
                    "camera %s (%s): upstream failed (%s); reconnecting in %.1f s",
                    self.camera_id, self.public_url, self.last_error, backoff,
                )  # fmt: skip
                self._emit(Status("reconnecting", self.last_error))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._reconnect_max_s)
        log.info("camera %s: upstream stopped", self.camera_id)

    def _open(self) -> Any:
        return av.open(
            self._url,
            container_options={
                "rtsp_transport": "tcp",
                "analyzeduration": "0",
                # Small probe: the SDP already names the codec; a long probe costs seconds.
                # (No fflags=nobuffer: it drops the probed packets, i.e. the first keyframe.)
                "probesize": "4096",
            },
            timeout=(self._open_timeout_s, self._open_timeout_s),
        )

    def _pull(self) -> Iterator[None]:
        inp = self._open()
        try:
            self.sessions += 1
            generation = self.sessions  # each connection has its own init segment
            vstream = inp.streams.video[0]
            codec = vstream.codec_context.name
            transcode = codec == "hevc" and self._transcode_h265
            log.info(
                "camera %s (%s): connected, %s %dx%d%s (session %d)",
                self.camera_id, self.public_url, codec, vstream.codec_context.width,
                vstream.codec_context.height, ", transcoding to h264" if transcode else "",
                self.sessions,
            )  # fmt: skip
            sink = _Sink()
            out = av.open(sink, "w", format="mp4", options={"movflags": MOVFLAGS})
            try:
                if transcode:
                    packets = self._transcoded(inp, vstream, out)
                else:
                    ostream = out.add_stream_from_template(vstream)
                    if codec == "hevc":
                        ostream.codec_tag = "hvc1"  # what MSE and Safari expect
                    packets = self._copied(inp, vstream, ostream)
                yield from self._mux(packets, out, sink, generation, transcode)
            finally:
                out.close()
        finally:
            inp.close()

    def _copied(self, inp: Any, vstream: Any, ostream: Any) -> Iterator[Any]:
        last_dts: int | None = None
        started = False
        for pkt in inp.demux(vstream):
            if self._stop.is_set():
                return
            if pkt.size == 0:
                continue
            if pkt.dts is None:
                # The RTSP demuxer leaves the first packets unstamped until RTP timing settles;
                # its clock starts at zero, and these streams have no B-frames before then.
                if pkt.pts is None:
                    if last_dts is not None:
                        continue
                    pkt.pts = 0
                pkt.dts = pkt.pts
            if not started:
                if not pkt.is_keyframe:
                    continue  # start every connection at a keyframe
                started = True
            if last_dts is not None and pkt.dts <= last_dts:
                continue  # a second piece of the same picture: drop rather than break the mux
            last_dts = pkt.dts
            pkt.stream = ostream
            yield pkt

    def _transcoded(self, inp: Any, vstream: Any, out: Any) -> Iterator[Any]:
        rate = vstream.average_rate or vstream.guessed_rate or Fraction(15)
        enc = out.add_stream("libx264", rate=rate)
        enc.width = vstream.codec_context.width
        enc.height = vstream.codec_context.height
        enc.pix_fmt = "yuv420p"
        enc.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(int(rate) or 15)}
        n = 0
        for pkt in self._copied(inp, vstream, vstream):
            for frame in vstream.codec_context.decode(pkt):
                frame.pts = n
                frame.time_base = Fraction(1, 1) / rate
                n += 1
                yield from enc.encode(frame.reformat(format="yuv420p"))

    def _mux(
        self, packets: Iterator[Any], out: Any, sink: _Sink, generation: int, transcoded: bool
    ) -> Iterator[None]:
        init: InitSegment | None = None
        head: list[bytes] = []
        muxed: deque[tuple[bool, float]] = deque()  # (keyframe, received) of muxed packets
        gen_first: int | None = None
        gen_offset = self._hub_end
        prev_hub: int | None = None
        for pkt in packets:
            muxed.append((bool(pkt.is_keyframe), time.monotonic()))
            out.mux(pkt)
            for box in sink.take():
                kind = box[4:8]
                if kind in (b"ftyp", b"moov"):
                    head.append(box)
                    if kind == b"moov":
                        data = b"".join(head)
                        init = InitSegment(data, fmp4.track_info(data), generation, transcoded)
                        self._emit(init)
                        head = []
                    continue
                if kind == b"moof":
                    head = [box]
                    continue
                if kind != b"mdat" or init is None or not head:
                    continue
                frag = head[0] + box
                head = []
                keyframe, received = muxed.popleft() if muxed else (False, time.monotonic())
                tfdt = fmp4.decode_time(frag)
                if gen_first is None:
                    gen_first = tfdt
                hub = gen_offset + tfdt - gen_first
                # The next connection continues where this one ends (one frame later).
                step = hub - prev_hub if prev_hub is not None else init.info.timescale // 15
                prev_hub = hub
                self._hub_end = hub + max(1, step)
                self._emit(
                    Fragment(fmp4.with_decode_time(frag, hub), keyframe, hub, generation, received)
                )
                yield
