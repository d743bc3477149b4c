"""Stream gateway against real RTSP cameras (GStreamer fake cameras) and a real PostGIS store."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import av
import pytest
from aiohttp import web
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine, text

from gateway import fmp4, media
from gateway.app import HUB, create_app
from settings import PROJECT_ROOT, Settings
from store import access, health
from store.scope import EVERYTHING
from tests.fake_cameras import FakeCameras, GatewayThread, free_port, gstreamer_available, wait_for

pytestmark = pytest.mark.skipif(not gstreamer_available(), reason="needs python3-gi + GStreamer")

KEY = "test-signing-key"
USER, PASSWORD = "viewer", "s3cret-pw"
IDS = {
    "cam1": "99010100001320090001",
    "cam2": "99010100001320090002",
    "cam3": "99010100001320090003",
    "hevc": "99010100001320090004",
    "flaky": "99010100001320090005",
    "dead": "99010100001320090006",
    "nopath": "99010100001320090007",
}


@pytest.fixture(scope="module")
def cams() -> Iterator[FakeCameras]:
    c = FakeCameras(["cam/1", "cam/2", "cam/3", "cam/4:h265"], user=USER, password=PASSWORD)
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def flaky() -> Iterator[FakeCameras]:
    c = FakeCameras(["cam/1"], user=USER, password=PASSWORD).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def cameras(engine: Engine, cams: FakeCameras, flaky: FakeCameras) -> Iterator[dict[str, str]]:
    refs = {
        "cam1": cams.url("cam/1"), "cam2": cams.url("cam/2"), "cam3": cams.url("cam/3"),
        "hevc": cams.url("cam/4"), "flaky": flaky.url("cam/1"),
        "dead": f"rtsp://127.0.0.1:{free_port()}/cam/1", "nopath": cams.url("no/such"),
    }  # fmt: skip
    with engine.begin() as conn:
        for key, device_id in IDS.items():
            conn.execute(
                text(
                    "INSERT INTO cameras (device_id, name, stream_ref, geom) VALUES "
                    "(:d, :n, :r, ST_SetSRID(ST_MakePoint(7.42, 43.73), 4326))"
                ),
                {"d": device_id, "n": f"test {key}", "r": refs[key]},
            )
    yield IDS
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM cameras WHERE device_id = ANY(:ids)"),
                     {"ids": list(IDS.values())})  # fmt: skip


def _settings(tmp: Path, cams: FakeCameras, flaky: FakeCameras, **extra: object) -> Settings:
    creds = tmp / "camera-credentials.json"
    creds.write_text(json.dumps({
        f"127.0.0.1:{cams.port}": f"{USER}:{PASSWORD}",
        f"127.0.0.1:{flaky.port}": f"{USER}:{PASSWORD}",
    }))  # fmt: skip
    return Settings(
        pg_dir=tmp / "pg",
        stream_signing_key=KEY,
        stream_idle_grace_s=1.0,
        stream_reconnect_max_s=1.0,
        camera_credentials_file=creds,
        health_timeout_s=3.0,
        **extra,
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, engine: Engine, cams: FakeCameras,
    flaky: FakeCameras, cameras: dict[str, str],
) -> Iterator[GatewayThread]:  # fmt: skip
    settings = _settings(tmp_path_factory.mktemp("gw"), cams, flaky)
    gw = GatewayThread(lambda: create_app(settings, engine, prober=False)).start()
    yield gw
    gw.stop()


def _q(camera_id: str, ttl_s: float = 60, subject: str = "cli:test", key: str = KEY) -> str:
    params = access.sign(key.encode(), camera_id, subject, ttl_s)
    return "?" + "&".join(f"{k}={v}" for k, v in params.items())


@dataclass
class Received:
    inits: list[dict[str, object]] = field(default_factory=list)
    init_data: list[bytes] = field(default_factory=list)
    fragments: list[tuple[float, bytes]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    opened: float = 0.0


async def _watch(url: str, until: float, got: Received, frames: int = 10_000) -> None:
    got.opened = time.monotonic()
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        while time.monotonic() < until and len(got.fragments) < frames:
            try:
                msg = await ws.receive(timeout=max(0.05, until - time.monotonic()))
            except TimeoutError:
                break
            if msg.type == aiohttp.WSMsgType.TEXT:
                m = json.loads(msg.data)
                if m["type"] == "init":
                    got.inits.append(m)
                else:
                    got.statuses.append(m["state"])
            elif msg.type == aiohttp.WSMsgType.BINARY:
                if msg.data[4:8] == b"ftyp":
                    got.init_data.append(msg.data)
                else:
                    got.fragments.append((time.monotonic(), msg.data))
            else:
                break


def watch(url: str, seconds: float, frames: int = 10_000) -> Received:
    got = Received()
    asyncio.run(_watch(url, time.monotonic() + seconds, got, frames))
    return got


def ws_url(gw: GatewayThread, camera_id: str) -> str:
    return f"ws://127.0.0.1:{gw.port}/streams/{camera_id}/ws{_q(camera_id)}"


def _decode(init: bytes, fragments: list[bytes]) -> list[av.VideoFrame]:
    dec = av.CodecContext.create("h264", "r")
    dec.extradata = fmp4.avc_config(init)
    frames: list[av.VideoFrame] = []
    for frag in fragments:
        frames += dec.decode(av.Packet(fmp4.sample_data(frag)))
    return frames


def stats(gw: GatewayThread) -> dict[str, object]:
    assert gw.app is not None
    app = gw.app
    result: dict[str, object] = gw.call(lambda: app[HUB].stats())
    return result


# ------------------------------------------------------------------------------------------
def test_websocket_sends_valid_fmp4_from_a_keyframe_in_under_a_second(
    gateway: GatewayThread, cameras: dict[str, str]
) -> None:
    got = watch(ws_url(gateway, cameras["cam1"]), 3.0, frames=20)
    assert got.inits and got.inits[0]["codec"] == "avc1.42c015"
    assert (got.inits[0]["width"], got.inits[0]["height"]) == (320, 240)
    info = fmp4.track_info(got.init_data[0])
    assert (info.width_px, info.height_px, info.timescale) == (320, 240, 90000)
    first_s = got.fragments[0][0] - got.opened
    assert first_s < 1.0, f"first frame after {first_s:.2f} s"
    frags = [f for _, f in got.fragments]
    for f in frags:
        assert [k for k, _, _ in fmp4.boxes(f)] == [b"moof", b"mdat"]
    times = [fmp4.decode_time(f) for f in frags]
    assert times[0] == 0 and all(b > a for a, b in zip(times, times[1:], strict=False))
    # 15 fps: 6000 ticks of 90 kHz per frame
    assert times[5] == pytest.approx(5 * 6000, abs=10)
    frames = _decode(got.init_data[0], frags)
    assert len(frames) >= 18 and (frames[0].width, frames[0].height) == (320, 240)
    assert frames[0].key_frame


def test_two_viewers_share_one_upstream_and_a_late_joiner_starts_at_a_keyframe(
    gateway: GatewayThread, cams: FakeCameras, cameras: dict[str, str]
) -> None:
    before = cams.count("client")
    url = ws_url(gateway, cameras["cam2"])
    a, b = Received(), Received()

    async def both() -> None:
        t0 = time.monotonic()
        first = asyncio.create_task(_watch(url, t0 + 3.0, a))
        await asyncio.sleep(1.3)  # join mid-GOP
        await _watch(url, t0 + 3.0, b)
        await first

    asyncio.run(both())
    assert len(a.fragments) >= 30 and len(b.fragments) >= 15
    assert cams.count("client") - before == 1  # the camera saw one session
    cam = stats(gateway)["cameras"][cameras["cam2"]]  # type: ignore[index]
    assert cam["sessions"] == 1
    late = [f for _, f in b.fragments]
    assert fmp4.decode_time(late[0]) == 0
    assert _decode(b.init_data[0], late[:1])[0].key_frame
    assert b.fragments[0][0] - b.opened < 0.5  # the cached GOP starts it at once


def test_pull_stops_after_the_grace_period_when_the_last_viewer_leaves(
    gateway: GatewayThread, cams: FakeCameras, cameras: dict[str, str]
) -> None:
    closed = cams.count("closed")
    watch(ws_url(gateway, cameras["cam3"]), 1.0, frames=5)
    assert cameras["cam3"] in stats(gateway)["cameras"]  # type: ignore[operator]
    assert wait_for(lambda: cameras["cam3"] not in stats(gateway)["cameras"], 5.0)  # type: ignore[operator]
    assert wait_for(lambda: cams.count("closed") > closed, 5.0)  # the camera saw it end


def test_camera_killed_and_restarted_viewer_gets_frames_again(
    gateway: GatewayThread, flaky: FakeCameras, cameras: dict[str, str]
) -> None:
    got = Received()

    async def run() -> None:
        t0 = time.monotonic()
        task = asyncio.create_task(_watch(ws_url(gateway, cameras["flaky"]), t0 + 12.0, got))
        assert await asyncio.to_thread(wait_for, lambda: len(got.fragments) >= 10, 4.0)
        await asyncio.to_thread(flaky.kill)
        n_before = len(got.fragments)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(flaky.start)
        ok = await asyncio.to_thread(wait_for, lambda: len(got.fragments) >= n_before + 15, 9.0)
        task.cancel()
        assert ok, f"no frames after the restart ({len(got.fragments)} vs {n_before})"

    asyncio.run(run())
    assert "reconnecting" in got.statuses
    assert [m["generation"] for m in got.inits] == [1, 2]
    times = [fmp4.decode_time(f) for _, f in got.fragments]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))  # one timeline


def test_unsigned_expired_and_foreign_urls_are_refused(
    gateway: GatewayThread, cameras: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    cid = cameras["cam1"]
    base = f"{gateway.base}/streams/{cid}"
    expired = access.sign(KEY.encode(), cid, "cli:test", 60, now=time.time() - 3600)
    cases = {
        "unsigned": f"{base}/ws",
        "expired": f"{base}/ws?" + "&".join(f"{k}={v}" for k, v in expired.items()),
        "other camera": f"{base}/ws{_q(cameras['cam2'])}",
        "other key": f"{base}/snapshot.jpg{_q(cid, key='not-the-key')}",
        "other subject": f"{base}/ws{_q(cid).replace('sub=cli:test', 'sub=cli:mallory')}",
        "unknown user": f"{base}/ws{_q(cid, subject='user:nobody-here')}",
        "not a subject": f"{base}/snapshot.jpg{_q(cid, subject='console')}",
    }

    async def status(url: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            return r.status, await r.text()

    with caplog.at_level(logging.DEBUG):
        for name, url in cases.items():
            code, body = asyncio.run(status(url))
            assert code == 403, name
        code, body = asyncio.run(status(f"{base}/ws"))
        assert "unsigned" in body
        code, body = asyncio.run(status(cases["expired"]))
        assert "expired" in body
        code, body = asyncio.run(status(cases["unknown user"]))
        assert "user:nobody-here is unknown, disabled or revoked" in body
        watch(ws_url(gateway, cid), 0.5, frames=2)
    assert PASSWORD not in caplog.text and USER + ":" not in caplog.text


def test_hls_playlist_and_segments_play(gateway: GatewayThread, cameras: dict[str, str]) -> None:
    cid = cameras["cam1"]
    url = f"{gateway.base}/streams/{cid}/hls/index.m3u8{_q(cid)}"

    async def get(u: str) -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as s, s.get(u) as r:
            return r.status, await r.read()

    code, body = asyncio.run(get(url))
    assert code == 200, body
    playlist = body.decode()
    assert playlist.startswith("#EXTM3U") and "#EXT-X-MAP:URI=" in playlist
    segs = [ln for ln in playlist.splitlines() if ln and not ln.startswith("#")]
    assert len(segs) >= 2
    code, seg = asyncio.run(get(f"{gateway.base}/streams/{cid}/hls/{segs[0]}"))
    assert code == 200 and seg[4:8] == b"moof"
    # A real HLS client (FFmpeg's) plays it.
    with av.open(url, timeout=10) as player:
        frames = []
        for frame in player.decode(video=0):
            frames.append(frame)
            if len(frames) >= 20:
                break
    assert (frames[0].width, frames[0].height) == (320, 240)


def test_snapshot_is_a_jpeg_of_the_camera_size(
    gateway: GatewayThread, cameras: dict[str, str]
) -> None:
    cid = cameras["cam1"]

    async def get() -> tuple[int, str, bytes]:
        url = f"{gateway.base}/streams/{cid}/snapshot.jpg{_q(cid)}"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            return r.status, r.content_type, await r.read()

    code, ctype, body = asyncio.run(get())
    assert (code, ctype) == (200, "image/jpeg")
    assert media.jpeg_size(body) == (320, 240)
    assert body.endswith(b"\xff\xd9")


def test_h265_camera_is_passed_through_with_its_codec(
    gateway: GatewayThread, cameras: dict[str, str]
) -> None:
    got = watch(ws_url(gateway, cameras["hevc"]), 3.0, frames=5)
    assert str(got.inits[0]["codec"]).startswith("hvc1.") and not got.inits[0]["transcoded"]
    assert len(got.fragments) == 5


def test_h265_is_transcoded_to_h264_when_enabled(
    tmp_path: Path, engine: Engine, cams: FakeCameras, flaky: FakeCameras,
    cameras: dict[str, str],
) -> None:  # fmt: skip
    settings = _settings(tmp_path, cams, flaky, transcode_h265=True)
    gw = GatewayThread(lambda: create_app(settings, engine, prober=False)).start()
    try:
        got = watch(ws_url(gw, cameras["hevc"]), 4.0, frames=10)
    finally:
        gw.stop()
    assert str(got.inits[0]["codec"]).startswith("avc1.") and got.inits[0]["transcoded"]
    frames = _decode(got.init_data[0], [f for _, f in got.fragments])
    assert frames and (frames[0].width, frames[0].height) == (320, 240)


def test_prober_marks_live_online_dead_offline_and_broken_fault(
    gateway: GatewayThread, engine: Engine, cameras: dict[str, str]
) -> None:
    assert gateway.app is not None
    hub = gateway.app[HUB]
    keys = ("cam1", "dead", "nopath")
    with engine.connect() as conn:
        todo = health.cameras_to_probe(conn, [cameras[k] for k in keys])
    t0 = time.monotonic()
    fut = asyncio.run_coroutine_threadsafe(hub.probe(todo), gateway.loop)
    results = {r.camera_id: r for r in fut.result(20)}
    took = time.monotonic() - t0
    by_key = {k: results[next(c.id for c in todo if c.device_id == cameras[k])] for k in keys}
    assert by_key["cam1"].status == "online" and by_key["cam1"].codec == "h264"
    assert by_key["dead"].status == "offline" and "refused" in (by_key["dead"].reason or "")
    assert by_key["nopath"].status == "fault" and "404" in (by_key["nopath"].reason or "")
    assert took < 5.0
    with engine.connect() as conn:
        faults = {f["device_id"]: f for f in health.faults(conn, EVERYTHING)}
        assert {cameras["dead"], cameras["nopath"]} <= set(faults)
        assert faults[cameras["dead"]]["since"] is not None
        status = dict(conn.execute(
            text("SELECT device_id, status FROM cameras WHERE device_id = ANY(:i)"),
            {"i": [cameras[k] for k in keys]},
        ).all())  # fmt: skip
        assert status[cameras["dead"]] == "offline" and status[cameras["cam1"]] == "online"
        assert health.history(conn, cameras["dead"])[0]["status"] == "offline"


# -- the browser -----------------------------------------------------------------------------
PAGE = """<!doctype html><html><body>
<div id="panel"><video id="v" muted autoplay playsinline data-stream="{ws}"></video></div>
<script src="/player.js"></script></body></html>"""


@pytest.fixture(scope="module")
def page_server(gateway: GatewayThread, cameras: dict[str, str]) -> Iterator[str]:
    def make() -> web.Application:
        app = web.Application()

        async def page(request: web.Request) -> web.Response:
            cid = request.match_info["cid"]
            ws = f"ws://127.0.0.1:{gateway.port}/streams/{cid}/ws{_q(cid)}"
            return web.Response(text=PAGE.format(ws=ws), content_type="text/html")

        async def player(request: web.Request) -> web.FileResponse:
            return web.FileResponse(PROJECT_ROOT / "assets" / "player.js")

        app.router.add_get("/page/{cid}", page)
        app.router.add_get("/player.js", player)
        return app

    srv = GatewayThread(make).start()
    yield srv.base
    srv.stop()


def _chromium():  # type: ignore[no-untyped-def]
    p = sync_playwright().start()
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
    )
    return p, browser


@pytest.mark.browser
def test_chromium_plays_the_live_stream(page_server: str, cameras: dict[str, str]) -> None:
    p, browser = _chromium()
    try:
        page = browser.new_page()
        page.goto(f"{page_server}/page/{cameras['cam1']}")
        page.wait_for_function("document.getElementById('v').currentTime > 0.2", timeout=5000)
        t0 = page.evaluate("document.getElementById('v').currentTime")
        # keeps playing: 1.5 s more of video, allowing a busy machine a few stalls
        page.wait_for_function(f"document.getElementById('v').currentTime > {t0 + 1.5}",
                               timeout=8000)  # fmt: skip
        t1 = page.evaluate("document.getElementById('v').currentTime")
        size = page.evaluate("[document.getElementById('v').videoWidth, "
                             "document.getElementById('v').videoHeight]")  # fmt: skip
        lag = page.evaluate(
            "(() => { const v = document.getElementById('v'); const b = v.buffered;"
            " return b.end(b.length - 1) - v.currentTime; })()"
        )
    finally:
        browser.close()
        p.stop()
    assert t1 - t0 > 1.5, (t0, t1)
    assert size == [320, 240]
    assert lag < 1.0  # stays near the live edge (the benchmark measures latency itself)


@pytest.mark.browser
def test_chromium_says_clearly_that_it_cannot_play_h265(
    page_server: str, cameras: dict[str, str]
) -> None:
    p, browser = _chromium()
    try:
        page = browser.new_page()
        page.goto(f"{page_server}/page/{cameras['hevc']}")
        page.wait_for_selector(".sl-video-message[data-kind='unsupported']", timeout=5000)
        text = page.inner_text(".sl-video-message")
    finally:
        browser.close()
        p.stop()
    assert "H.265" in text and "SIGHTLINE_TRANSCODE_H265" in text
