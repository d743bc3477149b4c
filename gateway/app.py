"""The stream gateway's aiohttp application: signed /streams/{camera_id} URLs to live video.

Routes (each needs ``?exp=&sub=&sig=`` from :func:`store.access.sign`; the subject must be a
user or token that may still watch that camera, :func:`store.access.may_view`):

- ``GET /streams/{id}/ws``: WebSocket; a JSON ``init`` message (codec, size), the init segment,
  then one ``moof+mdat`` per frame (binary), and JSON ``status`` messages (reconnecting, live).
- ``GET /streams/{id}/hls/index.m3u8`` (+ ``init-{gen}.mp4``, ``{seq}.m4s``): HLS, fMP4.
- ``GET /streams/{id}/snapshot.jpg``: the latest keyframe as a JPEG.

``GET /health/faults`` (signed for :data:`store.access.FAULTS_RESOURCE`; action ``health``):
the cameras of the subject's scope the last probe did not find online, longest-standing
first, and its cameras per status (JSON).

``GET /stats`` (signed for :data:`STATS_RESOURCE`; action ``admin``) reports pulls and viewers
(no addresses). ``GET /health`` says the process is up (no data). Upstream pulls are shared
per camera and stop ``stream_idle_grace_s`` after their last viewer leaves.

Who a signed URL speaks for: ``user:<name>`` and ``token:<name>`` are looked up in the store
(a disabled user or revoked token loses access within :data:`ACCESS_TTL_S`, open WebSockets
included); ``cli:<os user>`` is the operator at the server's shell, who signs with the server's
own key and is treated as the whole city (whoever holds the key can sign any subject anyway).
Every opening of a stream is one ``stream.open`` audit entry: one per signed grant, whichever of
WebSocket, HLS (playlist and segments) or snapshot it is used for (a refused grant: one entry,
outcome ``denied``). It is written in a worker thread, in a transaction of its own, before the
first byte of video; when it cannot be written the stream stays shut (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway import credentials, fmp4, media
from gateway.upstream import Fragment, InitSegment, Status, Upstream
from settings import Settings
from store import access, audit, health
from store.scope import EVERYTHING, Principal

log = logging.getLogger("sightline.gateway")

CAMERA_ID = r"{camera_id:[0-9]{20}}"
CORS = {"Access-Control-Allow-Origin": "*"}
STATS_RESOURCE = "gateway/stats"
"""What a signed ``GET /stats`` URL is bound to (in place of a camera id)."""
ACCESS_TTL_S = 5.0
"""How long a (subject, camera) decision is trusted: HLS segment fetches do not ask the store
each time, and a disabled user or revoked token loses its streams within this time."""


@dataclass
class _Cached:
    camera: health.CameraStream | None
    at: float


@dataclass(frozen=True)
class Decision:
    """Whether a signed URL's subject may watch a camera, and why not."""

    principal: Principal | None
    allowed: bool
    reason: str = ""


def operator(subject: str) -> Principal | None:
    """The operator's principal for a ``cli:<os user>`` subject (whole city), else None.

    The CLI on the server signs with the server's key; whoever can read that key can sign any
    subject, so trusting ``cli:`` subjects as the operator gives nothing away.
    """
    kind, _, name = subject.partition(":")
    if kind != "cli" or not name:
        return None
    return Principal(subject, name, "admin", EVERYTHING)


def resolve(conn: Connection, subject: str) -> Principal | None:
    """The principal of a verified subject: the operator, an enabled user or an unrevoked
    token; None otherwise."""
    return operator(subject) or access.principal_of_subject(conn, subject)


def _failed(task: asyncio.Future[Any]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


class Hub:
    """The registry of upstream pulls, camera lookups and the idle reaper."""

    def __init__(
        self, settings: Settings, engine: Engine, probe_only: list[str] | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.probe_only = probe_only
        self.key = access.signing_key(settings)
        self.credentials = credentials.load(settings)
        self.upstreams: dict[str, Upstream] = {}
        self.sessions_total = 0
        self._cameras: dict[str, _Cached] = {}
        self.probe_pool = ThreadPoolExecutor(settings.health_concurrency, "probe")
        self.access_ttl_s = ACCESS_TTL_S
        self._decisions: dict[tuple[str, str], tuple[float, asyncio.Future[Decision]]] = {}
        # signed grant (subject, camera, exp, sig) -> its stream.open audit write
        self._opened: dict[tuple[str, str, str, str], asyncio.Future[None]] = {}

    # -- who may watch ----------------------------------------------------------------------
    def _decide_now(self, subject: str, camera_id: str) -> Decision:
        with self.engine.connect() as conn:
            principal = resolve(conn, subject)
            if principal is None:
                return Decision(None, False, f"{subject} is unknown, disabled or revoked")
            if not access.allowed(principal, "video"):
                roles = ", ".join(sorted(access.PERMISSIONS["video"]))
                return Decision(principal, False,
                                f"role {principal.role!r} may not watch video (needs {roles})")
            if not access.may_view(conn, principal, camera_id):
                return Decision(principal, False,
                                f"{subject} may not view camera {camera_id}: it is not in "
                                f"{principal.scope.describe()}")  # fmt: skip
            return Decision(principal, True)

    async def decide(self, subject: str, camera_id: str) -> Decision:
        """Whether ``subject`` may watch ``camera_id``; asks the store at most once per
        :attr:`access_ttl_s` per (subject, camera), concurrent askers sharing one query."""
        key = (subject, camera_id)
        now = time.monotonic()
        hit = self._decisions.get(key)
        if hit is None or now - hit[0] >= self.access_ttl_s or _failed(hit[1]):
            task = asyncio.ensure_future(asyncio.to_thread(self._decide_now, subject, camera_id))
            hit = (now, task)
            self._decisions[key] = hit
        return await asyncio.shield(hit[1])

    def _record_open(self, principal: Principal | None, subject: str, camera_id: str,
                     route: str, expires: str, outcome: str) -> None:  # fmt: skip
        with self.engine.begin() as conn:  # the advisory lock is held only for this insert
            audit.record(conn, principal, "stream.open", camera_id, outcome=outcome,
                         actor=None if principal else subject,
                         details={"route": route, "expires": int(expires)})  # fmt: skip

    async def audit_open(self, decision: Decision, subject: str, camera_id: str, route: str,
                         query: Mapping[str, str]) -> None:  # fmt: skip
        """One ``stream.open`` entry per signed grant (a playlist and its segments are one
        opening); concurrent requests of a grant share the write. Raises when it failed."""
        key = (subject, camera_id, query["exp"], query["sig"])
        task = self._opened.get(key)
        if task is None or _failed(task):
            outcome = "ok" if decision.allowed else "denied"
            task = asyncio.ensure_future(asyncio.to_thread(
                self._record_open, decision.principal, subject, camera_id, route,
                query["exp"], outcome))  # fmt: skip
            self._opened[key] = task
        await asyncio.shield(task)

    def forget_stale(self) -> None:
        """Drop decisions older than their TTL and audited grants past their expiry."""
        now, wall = time.monotonic(), time.time()
        for key, (at, task) in list(self._decisions.items()):
            if now - at >= self.access_ttl_s and task.done():
                del self._decisions[key]
        for grant, write in list(self._opened.items()):
            if int(grant[2]) < wall and write.done():
                del self._opened[grant]

    async def drain_audit(self) -> None:
        """Wait for audit writes still running (at shutdown)."""
        pending = [t for t in self._opened.values() if not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def url_of(self, camera: health.CameraStream) -> str | None:
        """The RTSP URL (with login) of a camera; None when it has no live stream."""
        return credentials.stream_url(self.settings, self.credentials, camera)

    async def camera(self, camera_id: str) -> health.CameraStream | None:
        cached = self._cameras.get(camera_id)
        if cached is not None and time.monotonic() - cached.at < 30.0:
            return cached.camera

        def lookup() -> health.CameraStream | None:
            with self.engine.connect() as conn:
                return health.camera_stream(conn, camera_id)

        cam = await asyncio.to_thread(lookup)
        self._cameras[camera_id] = _Cached(cam, time.monotonic())
        return cam

    def upstream(self, camera: health.CameraStream, url: str) -> Upstream:
        up = self.upstreams.get(camera.device_id)
        if up is None:
            up = Upstream(
                camera.device_id, url, asyncio.get_running_loop(),
                reconnect_max_s=self.settings.stream_reconnect_max_s,
                transcode_h265=self.settings.transcode_h265,
            )  # fmt: skip
            self.upstreams[camera.device_id] = up
            up.start()
        return up

    async def reap(self) -> None:
        """Stop pulls that have had no viewer for the grace period (runs forever)."""
        grace = self.settings.stream_idle_grace_s
        last_forget = time.monotonic()
        while True:
            now = time.monotonic()
            if now - last_forget > 10.0:
                self.forget_stale()
                last_forget = now
            for camera_id, up in list(self.upstreams.items()):
                if not up.idle(now):
                    up.idle_since = None
                elif up.idle_since is None:
                    up.idle_since = now
                elif now - up.idle_since >= grace:
                    log.info("camera %s: no viewer for %.0f s, stopping the pull", camera_id, grace)
                    self.sessions_total += up.sessions
                    up.stop()
                    del self.upstreams[camera_id]
            await asyncio.sleep(min(0.25, max(grace / 4, 0.05)))

    def stop_all(self) -> None:
        for up in self.upstreams.values():
            up.stop()
        for up in self.upstreams.values():
            up.join(2.0)
        self.upstreams.clear()
        self.probe_pool.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        live = {
            cid: {
                "sessions": up.sessions,
                "viewers": len(up.viewers),
                "fragments": up.fragments,
                "state": up.status.state,
                "dropped": sum(v.dropped for v in up.viewers),
                "codec": up.init.info.codec if up.init else None,
            }  # fmt: skip
            for cid, up in self.upstreams.items()
        }
        total = self.sessions_total + sum(u.sessions for u in self.upstreams.values())
        return {"pulls": len(live), "sessions_total": total, "cameras": live}

    # -- health ---------------------------------------------------------------------------
    async def probe(self, cameras: list[health.CameraStream]) -> list[health.ProbeResult]:
        """Probe ``cameras`` (at most ``health_concurrency`` at once) and record the results.

        A camera the gateway is pulling live right now counts as online without a second
        connection to it.
        """
        loop = asyncio.get_running_loop()
        timeout = self.settings.health_timeout_s

        async def one(cam: health.CameraStream) -> health.ProbeResult:
            now = dt.datetime.now(dt.UTC)
            up = self.upstreams.get(cam.device_id)
            if up is not None and up.status.state == "live" and up.init is not None:
                info = up.init.info
                codec = "h264" if info.codec.startswith("avc") else "hevc"
                if up.init.transcoded:
                    codec = "hevc"  # what the camera sends
                return health.ProbeResult(
                    cam.id, "online", now, None, codec, info.width_px, info.height_px, 0.0
                )
            url = self.url_of(cam)
            if url is None:
                return health.ProbeResult(cam.id, "fault", now, "no RTSP stream reference")
            p = await loop.run_in_executor(self.probe_pool, media.probe, url, timeout)
            return health.ProbeResult(
                cam.id, p.status, now, p.reason, p.codec, p.width_px, p.height_px, p.probe_ms
            )

        results = list(await asyncio.gather(*(one(c) for c in cameras)))

        def save() -> None:
            with self.engine.begin() as conn:
                health.record_probes(conn, results)

        await asyncio.to_thread(save)
        return results

    async def probe_forever(self) -> None:
        # Let the cameras (and, in the demo, the fake cameras) come up before the first round.
        await asyncio.sleep(min(5.0, self.settings.health_interval_s))
        while True:
            t0 = time.monotonic()
            try:

                def todo() -> list[health.CameraStream]:
                    with self.engine.connect() as conn:
                        return health.cameras_to_probe(conn, self.probe_only)

                cams = await asyncio.to_thread(todo)
                results = await self.probe(cams)
                bad = sum(r.status != "online" for r in results)
                log.info(
                    "health: probed %d cameras in %.1f s, %d not online",
                    len(results), time.monotonic() - t0, bad,
                )  # fmt: skip
            except Exception:  # noqa: BLE001 - keep probing; the next round may work
                log.exception("health probe round failed")
            await asyncio.sleep(max(0.0, self.settings.health_interval_s - (time.monotonic() - t0)))


HUB = web.AppKey("hub", Hub)
M_ARENA_MAX = -8  # glibc mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process; False where that is not glibc.

    Every pull and probe thread otherwise gets an arena of its own. In 4-minute soaks with a
    flat Python heap, two arenas gave ~6 MB less RSS and less creep in the second half
    (+0.26 against +0.46 MB/min; README, soak figures). Call once at start, before the threads.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def _subject(hub: Hub, resource: str, query: Mapping[str, str]) -> str:
    try:
        return access.verify(hub.key, resource, query)
    except access.StreamAccessError as exc:
        raise web.HTTPForbidden(text=str(exc), headers=CORS) from exc


def _unavailable(what: str, exc: Exception) -> web.HTTPServiceUnavailable:
    log.error("%s: %s", what, exc)
    return web.HTTPServiceUnavailable(text=f"{what}; try again", headers=CORS)


@dataclass(frozen=True)
class Grant:
    """A checked stream request: the camera, its RTSP URL and who watches it."""

    hub: Hub
    camera: health.CameraStream
    url: str
    subject: str


async def _grant(request: web.Request, route: str) -> Grant:
    """Check the signed URL, that its subject may watch the camera now, and find the camera;
    audit the opening (once per grant). 403/404/503 with a reason otherwise."""
    hub = request.app[HUB]
    camera_id = request.match_info["camera_id"]
    subject = _subject(hub, camera_id, request.query)
    try:
        decision = await hub.decide(subject, camera_id)
    except SQLAlchemyError as exc:
        raise _unavailable("the access check could not reach the store", exc) from exc
    try:
        if not decision.allowed:
            await hub.audit_open(decision, subject, camera_id, route, request.query)
            raise web.HTTPForbidden(text=decision.reason, headers=CORS)
        _, cam = await asyncio.gather(
            hub.audit_open(decision, subject, camera_id, route, request.query),
            hub.camera(camera_id),
        )  # fmt: skip
    except SQLAlchemyError as exc:
        if not decision.allowed:  # refused either way; the failed entry is in the log
            raise web.HTTPForbidden(text=decision.reason, headers=CORS) from exc
        raise _unavailable("the audit log could not be written, so the stream stays shut",
                           exc) from exc  # fmt: skip
    if cam is None:
        raise web.HTTPNotFound(text=f"no camera {camera_id}", headers=CORS)
    url = hub.url_of(cam)
    if url is None:
        raise web.HTTPNotFound(text=f"camera {camera_id} has no live stream", headers=CORS)
    return Grant(hub, cam, url, subject)


def _init_message(init: InitSegment) -> str:
    info = init.info
    return json.dumps({
        "type": "init", "codec": info.codec, "mime": f'video/mp4; codecs="{info.codec}"',
        "width": info.width_px, "height": info.height_px, "generation": init.generation,
        "transcoded": init.transcoded,
    })  # fmt: skip


def _status_message(status: Status) -> str:
    # The reason can name the camera's address: the browser gets the state and the kind only.
    kind = status.reason.split(":", 1)[0] if status.reason else ""
    return json.dumps({"type": "status", "state": status.state, "reason": kind})


async def _keep_checking(grant: Grant, ws: web.WebSocketResponse) -> None:
    """Close the WebSocket once its subject may no longer watch the camera (user disabled,
    token revoked, camera moved out of scope): checked every ``access_ttl_s``. A store that
    cannot be reached does not cut a stream that was allowed when it opened."""
    hub = grant.hub
    while True:
        await asyncio.sleep(hub.access_ttl_s)
        try:
            decision = await hub.decide(grant.subject, grant.camera.device_id)
        except SQLAlchemyError as exc:
            log.warning("camera %s: access re-check failed: %s", grant.camera.device_id, exc)
            continue
        if not decision.allowed:
            log.info("camera %s: %s", grant.camera.device_id, decision.reason)
            await ws.send_str(json.dumps({"type": "status", "state": "stopped",
                                          "reason": "access"}))  # fmt: skip
            await ws.close(code=4403, message=b"access withdrawn")
            return


async def ws_stream(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request, "ws")
    hub, cam, url = grant.hub, grant.camera, grant.url
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1 << 16)
    await ws.prepare(request)
    up = hub.upstream(cam, url)
    viewer = up.add_viewer()

    async def send() -> None:
        while True:
            item = await viewer.queue.get()
            if isinstance(item, Fragment):
                base = viewer.base or 0
                await ws.send_bytes(fmp4.with_decode_time(item.data, item.decode_time - base))
            elif isinstance(item, InitSegment):
                await ws.send_str(_init_message(item))
                await ws.send_bytes(item.data)
            else:
                await ws.send_str(_status_message(item))
                if item.state == "stopped":
                    return

    sender = asyncio.create_task(send())
    checker = asyncio.create_task(_keep_checking(grant, ws))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        for task in (sender, checker):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        up.remove_viewer(viewer)
    return ws


async def _live(up: Upstream, timeout_s: float) -> None:
    if not up.gop:
        up.keyframe_event.clear()
        try:
            await asyncio.wait_for(up.keyframe_event.wait(), timeout_s)
        except TimeoutError as exc:
            raise web.HTTPServiceUnavailable(
                text="the camera sent no picture in time; try again", headers=CORS
            ) from exc


async def snapshot(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request, "snapshot")
    hub, cam, url = grant.hub, grant.camera, grant.url
    up = hub.upstream(cam, url)
    up.lease_until = max(up.lease_until, time.monotonic() + 1.0)
    await _live(up, hub.settings.health_timeout_s)
    assert up.init is not None
    jpeg = await asyncio.to_thread(media.jpeg_from_keyframe, up.init.data, up.gop[0].data)
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={**CORS, "Cache-Control": "no-store"}
    )


def _query(request: web.Request) -> str:
    return "?" + urlencode({k: request.query[k] for k in ("exp", "sub", "sig")})


async def hls_playlist(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request, "hls")
    hub, cam, url = grant.hub, grant.camera, grant.url
    up = hub.upstream(cam, url)
    up.lease_until = max(up.lease_until, time.monotonic() + 6.0)
    deadline = time.monotonic() + hub.settings.health_timeout_s + 2.0
    while sum(s.complete for s in up.hls) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # a first request waits for two segments rather than 404
    segments = [s for s in up.hls if s.complete][-6:]
    if not segments or up.init is None:
        raise web.HTTPServiceUnavailable(text="no video from the camera yet", headers=CORS)
    q = _query(request)
    target = max(1, round(max(s.duration_s for s in segments) + 0.5))
    lines = [
        "#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{segments[0].sequence}",
    ]  # fmt: skip
    gen = None
    for seg in segments:
        if seg.generation != gen:
            if gen is not None:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f'#EXT-X-MAP:URI="init-{seg.generation}.mp4{q}"')
            gen = seg.generation
        lines += [f"#EXTINF:{seg.duration_s:.3f},", f"{seg.sequence}.m4s{q}"]
    return web.Response(
        text="\n".join(lines) + "\n",
        content_type="application/vnd.apple.mpegurl",
        headers={**CORS, "Cache-Control": "no-store"},
    )


async def hls_file(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request, "hls")
    hub, cam, url = grant.hub, grant.camera, grant.url
    up = hub.upstream(cam, url)
    up.lease_until = max(up.lease_until, time.monotonic() + 6.0)
    name = request.match_info["name"]
    if name.startswith("init-"):
        if up.init is None or name != f"init-{up.init.generation}.mp4":
            raise web.HTTPNotFound(text="that init segment is gone", headers=CORS)
        return web.Response(body=up.init.data, content_type="video/mp4", headers=CORS)
    seq = int(name.removesuffix(".m4s"))
    for seg in up.hls:
        if seg.sequence == seq and seg.complete:
            return web.Response(body=b"".join(seg.parts), content_type="video/iso.segment",
                                headers=CORS)  # fmt: skip
    raise web.HTTPNotFound(text=f"segment {seq} is gone", headers=CORS)


def _json_default(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _principal_for(conn: Connection, subject: str, action: str) -> Principal:
    """The principal of a verified subject that may do ``action``; 403 otherwise."""
    principal = resolve(conn, subject)
    if principal is None:
        raise web.HTTPForbidden(text=f"{subject} is unknown, disabled or revoked", headers=CORS)
    try:
        access.check(principal, action)
    except access.AccessDenied as exc:
        raise web.HTTPForbidden(text=str(exc), headers=CORS) from exc
    return principal


async def health_faults(request: web.Request) -> web.StreamResponse:
    """The fault list of the subject's scope: ``{"faults": [...], "not_online": n,
    "counts": {status: n}}``."""
    hub = request.app[HUB]
    subject = _subject(hub, access.FAULTS_RESOURCE, request.query)
    try:
        limit = int(request.query.get("limit", "500"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text="limit must be an integer", headers=CORS) from exc

    def read() -> dict[str, Any]:
        with hub.engine.connect() as conn:
            scope = _principal_for(conn, subject, "health").scope
            counts = health.status_counts(conn, scope)
            return {
                "faults": health.faults(conn, scope, max(0, limit)),
                "not_online": sum(n for s, n in counts.items() if s != "online"),
                "counts": health.camera_status_counts(conn, scope),
            }

    body = await asyncio.to_thread(read)
    return web.Response(
        text=json.dumps(body, default=_json_default), content_type="application/json",
        headers={**CORS, "Cache-Control": "no-store"},
    )  # fmt: skip


async def stats(request: web.Request) -> web.StreamResponse:
    """Pulls and viewers of the whole gateway (camera ids included): admins only."""
    hub = request.app[HUB]
    subject = _subject(hub, STATS_RESOURCE, request.query)

    def who() -> Principal:
        with hub.engine.connect() as conn:
            return _principal_for(conn, subject, "admin")

    await asyncio.to_thread(who)
    return web.json_response(hub.stats(), headers={"Cache-Control": "no-store"})


async def alive(request: web.Request) -> web.StreamResponse:
    """GET /health: the process answers (no data, no credentials needed)."""
    return web.json_response({"status": "ok"})


def create_app(
    settings: Settings, engine: Engine, *, prober: bool = True, probe_only: list[str] | None = None
) -> web.Application:
    """The gateway application.

    ``prober``: run the periodic health probe in the background; ``probe_only``: probe just
    these cameras (device ids; None: every camera with a stream).
    """
    app = web.Application()
    app[HUB] = Hub(settings, engine, probe_only)

    async def background(app: web.Application) -> AsyncIterator[None]:
        hub = app[HUB]
        tasks = [asyncio.create_task(hub.reap())]
        if prober:
            tasks.append(asyncio.create_task(hub.probe_forever()))
        yield
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await hub.drain_audit()
        await asyncio.to_thread(hub.stop_all)

    app.cleanup_ctx.append(background)
    app.router.add_get(f"/streams/{CAMERA_ID}/ws", ws_stream)
    app.router.add_get(f"/streams/{CAMERA_ID}/snapshot.jpg", snapshot)
    app.router.add_get(f"/streams/{CAMERA_ID}/hls/index.m3u8", hls_playlist)
    app.router.add_get(f"/streams/{CAMERA_ID}/hls/{{name:(init-[0-9]+\\.mp4|[0-9]+\\.m4s)}}",
                       hls_file)  # fmt: skip
    app.router.add_get("/health/faults", health_faults)
    app.router.add_get("/stats", stats)
    app.router.add_get("/health", alive)
    return app
