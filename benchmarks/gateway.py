"""Benchmark: the stream gateway against real (fake) RTSP cameras, with ffmpeg -> HLS as baseline.

    .venv/bin/python benchmarks/gateway.py [--cameras 20] [--viewers 50] [--soak-s 30]
    .venv/bin/python benchmarks/gateway.py --soak 240 [--warmup 30] [--sample-s 5]

Starts a throw-away PostGIS cluster, GStreamer fake cameras (320x240, 15 fps, 1 s GOP) and
`sightline gateway` as its own process, then measures in the same run:
- first frame after request: WebSocket opened -> first fMP4 fragment, on a cold camera (no
  pull running), vs ffmpeg -c copy -> HLS: process start -> first segment listed;
- glass-to-glass: the cameras switch black -> white (stdin command); time until a viewer has
  *decoded* a white frame (WebSocket), vs until the HLS output holds a white frame;
- CPU per stream: gateway process CPU with 1 camera x 1 viewer, vs one ffmpeg remux process;
- N cameras x M viewers (viewers in 2 client processes): fragments received, gaps (a decode
  time jump > 1.5 frames = a drop), gateway CPU;
- memory: gateway RSS at start and end of the soak and its maximum.
With ``--soak S`` it runs a memory soak instead: the same N x M viewers plus viewers that come
and go (``--churn``), RSS sampled every few seconds after a warm-up, and the slope (MB/min)
of RSS over time by least squares: flat memory is a slope near 0.
Localhost only, bounded load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import av  # noqa: E402
import sqlalchemy  # noqa: E402
from sqlalchemy import text  # noqa: E402

from gateway import fmp4  # noqa: E402
from store import access, migrate  # noqa: E402
from store.cluster import LocalCluster  # noqa: E402
from store.engine import ensure_database  # noqa: E402
from tests.fake_cameras import FakeCameras, free_port, wait_for  # noqa: E402

KEY = "bench-key"
TICK = 6000  # 90 kHz ticks per frame at 15 fps
CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ws_url(port: int, device_id: str) -> str:
    q = access.sign(KEY.encode(), device_id, "cli:bench", 3600)  # the operator: whole city
    return f"ws://127.0.0.1:{port}/streams/{device_id}/ws?" + "&".join(
        f"{k}={v}" for k, v in q.items()
    )


# -- viewer client (also run as a child process) ------------------------------------------
async def view(url: str, seconds: float) -> dict[str, Any]:
    t0 = time.monotonic()
    first = None
    n = gaps = 0
    last = None
    async with aiohttp.ClientSession() as s, s.ws_connect(url, max_msg_size=0) as ws:
        while time.monotonic() - t0 < seconds:
            try:
                msg = await ws.receive(timeout=max(0.05, seconds - (time.monotonic() - t0)))
            except TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.BINARY or msg.data[4:8] != b"moof":
                if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                continue
            if first is None:
                first = time.monotonic() - t0
            dt_ = fmp4.decode_time(msg.data)
            if last is not None and dt_ - last > 1.5 * TICK:
                gaps += 1
            last = dt_
            n += 1
    return {"first_s": first, "fragments": n, "gaps": gaps}


async def many(urls: list[str], seconds: float) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(view(u, seconds) for u in urls)))


def child() -> None:
    job = json.loads(sys.stdin.read())
    result = asyncio.run(many(job["urls"], job["seconds"]))
    Path(job["out"]).write_text(json.dumps(result))


# -- measurements ----------------------------------------------------------------------------
def luma(frame: av.VideoFrame) -> float:
    plane = frame.to_ndarray(format="gray")
    return float(plane[40:200, 40:280].mean())


async def glass_to_glass(port: int, device_id: str, cams: FakeCameras, n: int) -> list[float]:
    out: list[float] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url(port, device_id)) as ws:
        dec = None
        target = None
        t_switch = 0.0
        settle_until = time.monotonic() + 1.5
        while len(out) < n:
            msg = await ws.receive(timeout=10)
            if msg.type == aiohttp.WSMsgType.BINARY and msg.data[4:8] == b"ftyp":
                dec = av.CodecContext.create("h264", "r")
                dec.extradata = fmp4.avc_config(msg.data)
                continue
            if msg.type != aiohttp.WSMsgType.BINARY or dec is None:
                continue
            for frame in dec.decode(av.Packet(fmp4.sample_data(msg.data))):
                y = luma(frame)
                now = time.monotonic()
                if target is None and now > settle_until:
                    target = "white" if y < 128 else "black"
                    t_switch = time.monotonic()
                    cams.send(f"pattern {target}")
                elif target is not None and (y > 200 if target == "white" else y < 50):
                    out.append(now - t_switch)
                    target = None
                    settle_until = now + 0.7
    return out


def hls_baseline(cams: FakeCameras, url: str, workdir: Path, n: int) -> dict[str, Any]:
    out = workdir / "hls"
    out.mkdir()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
         "-f", "hls", "-hls_time", "1", "-hls_list_size", "4", "-hls_flags",
         "delete_segments+independent_segments", str(out / "index.m3u8")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        playlist = out / "index.m3u8"
        wait_for(lambda: playlist.exists() and ".ts" in playlist.read_text(), 15.0, 0.02)
        first = time.monotonic() - t0
        c0, w0 = cpu_s(proc.pid), time.monotonic()
        time.sleep(5.0)
        cpu_pct = 100 * (cpu_s(proc.pid) - c0) / (time.monotonic() - w0)
        lat: list[float] = []
        seen: set[str] = set()
        for _ in range(n):
            segs = [ln for ln in playlist.read_text().splitlines() if ln.endswith(".ts")]
            seen.update(segs)
            with av.open(str(out / segs[-1])) as c:
                y = [luma(f) for f in c.decode(video=0)][-1]
            target = "white" if y < 128 else "black"
            t_switch = time.monotonic()
            cams.send(f"pattern {target}")
            done = False
            while not done and time.monotonic() - t_switch < 15:
                time.sleep(0.05)
                segs = [ln for ln in playlist.read_text().splitlines() if ln.endswith(".ts")]
                for seg in segs:
                    if seg in seen:
                        continue
                    seen.add(seg)
                    try:
                        with av.open(str(out / seg)) as c:
                            ys = [luma(f) for f in c.decode(video=0)]
                    except (FileNotFoundError, av.error.FFmpegError):
                        continue
                    if any((y2 > 200) if target == "white" else (y2 < 50) for y2 in ys):
                        lat.append(time.monotonic() - t_switch)
                        done = True
            time.sleep(0.5)
        return {"first_s": first, "cpu_pct": cpu_pct, "g2g": lat}
    finally:
        proc.terminate()
        proc.wait(10)


def spawn_viewers(
    urls: list[str], seconds: float, workdir: Path, procs: int = 2
) -> list[subprocess.Popen[str]]:
    out = []
    for k in range(procs):
        p = subprocess.Popen(
            [sys.executable, __file__, "--child"], stdin=subprocess.PIPE, text=True
        )
        assert p.stdin is not None
        job = {"urls": urls[k::procs], "seconds": seconds, "out": str(workdir / f"v{k}.json")}
        p.stdin.write(json.dumps(job))
        p.stdin.close()
        out.append(p)
    return out


def churn(urls: list[str], seconds: float, hold_s: float = 2.0) -> dict[str, Any]:
    """Viewers that come and go: each url opened for ``hold_s``, again and again."""

    async def run() -> dict[str, Any]:
        t0 = time.monotonic()
        sessions = frags = 0
        while time.monotonic() - t0 < seconds - hold_s:
            got = await many(urls, hold_s)
            sessions += len(got)
            frags += sum(g["fragments"] for g in got)
        return {"sessions": sessions, "fragments": frags}

    return asyncio.run(run())


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    n = len(samples)
    if n < 2:
        return float("nan")
    mt = sum(t for t, _ in samples) / n
    mm = sum(m for _, m in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    return 60 * sum((t - mt) * (m - mm) for t, m in samples) / var


def soak(
    args: argparse.Namespace, pid: int, port: int, ids: list[str], work: Path
) -> list[tuple[str, str, str, str]]:
    """--soak S: N cameras x M viewers (+ viewers coming and going) for warm-up + S seconds;
    gateway RSS sampled every --sample-s after the warm-up; its slope should be ~0."""
    steady = [ws_url(port, d) for d in ids for _ in range(args.viewers)]
    total_s = args.warmup + args.soak
    rss0 = rss_mb(pid)
    kids = spawn_viewers(steady, total_s, work)
    churn_urls = [ws_url(port, d) for d in ids[: args.churn]]
    churner = subprocess.Popen(
        [sys.executable, __file__, "--child-churn"], stdin=subprocess.PIPE, text=True
    )
    assert churner.stdin is not None
    job = {"urls": churn_urls, "seconds": total_s, "out": str(work / "churn.json")}
    churner.stdin.write(json.dumps(job))
    churner.stdin.close()
    t0 = time.monotonic()
    c0 = cpu_s(pid)
    samples: list[tuple[float, float]] = []
    # Sampled while every viewer is connected (not during the teardown at the end).
    while any(k.poll() is None for k in kids) and time.monotonic() - t0 < total_s - 1.0:
        now = time.monotonic() - t0
        if now >= args.warmup:
            samples.append((now, rss_mb(pid)))
            if args.verbose:
                print(f"  t={now:6.1f} s  RSS {samples[-1][1]:7.1f} MB", flush=True)
        time.sleep(args.sample_s)
    cpu = 100 * (cpu_s(pid) - c0) / (time.monotonic() - t0)
    for k in kids:
        k.wait(60)
    churner.wait(60)
    results = [r for k in range(len(kids)) for r in json.loads((work / f"v{k}.json").read_text())]
    ch = json.loads((work / "churn.json").read_text())
    rss = [m for _, m in samples]
    half = samples[len(samples) // 2 :]
    gaps = sum(r["gaps"] for r in results)
    frags = [r["fragments"] for r in results]
    return [
        (f"soak: {len(ids)} cameras x {args.viewers} viewers + {len(churn_urls)} coming and "
         f"going, {args.warmup:.0f} s warm-up + {args.soak:.0f} s", "", "", ""),
        ("gateway RSS MB before viewers (baseline)", f"{rss0:.0f}", "", ""),
        ("gateway RSS MB after warm-up / end / max",
         f"{rss[0]:.0f} / {rss[-1]:.0f} / {max(rss):.0f}", "", ""),
        (f"RSS slope MB/min ({len(samples)} samples every {args.sample_s:.0f} s), "
         "all / 2nd half", f"{slope_mb_per_min(samples):+.2f} / {slope_mb_per_min(half):+.2f}",
         "", ""),
        ("gateway CPU (% of a core)", f"{cpu:.0f}", "", ""),
        ("fragments per steady viewer (min / median), drops",
         f"{min(frags)} / {statistics.median(frags):.0f}, {gaps}", "", ""),
        ("churn: sessions opened, fragments", f"{ch['sessions']}, {ch['fragments']}", "", ""),
    ]  # fmt: skip


def measure(
    args: argparse.Namespace, pid: int, port: int, ids: list[str], cams: FakeCameras, work: Path
) -> list[tuple[str, str, str, str]]:
    """Steps 1-6 of the module docstring: the table of the README."""
    # 1. first frame after request, cold cameras
    firsts = []
    for d in ids[: args.trials]:
        r = asyncio.run(view(ws_url(port, d), 1.5))
        firsts.append(r["first_s"])
    # 2. glass to glass, one viewer
    g2g = asyncio.run(glass_to_glass(port, ids[0], cams, args.trials))
    time.sleep(3.0)  # let the pulls of step 1-2 stop (grace 2 s)
    # 3. CPU of one stream, one viewer
    c0, w0 = cpu_s(pid), time.monotonic()
    asyncio.run(view(ws_url(port, ids[1]), 10.0))
    one_cpu = 100 * (cpu_s(pid) - c0) / (time.monotonic() - w0)
    time.sleep(3.0)
    # 4. + 5. N cameras x M viewers, soak
    urls = [ws_url(port, d) for d in ids for _ in range(args.viewers)]
    rss0 = rss_mb(pid)
    c0, w0 = cpu_s(pid), time.monotonic()
    kids = spawn_viewers(urls, args.soak_s, work)
    rss = []
    while any(k.poll() is None for k in kids):
        rss.append(rss_mb(pid))
        time.sleep(1.0)
    load_cpu = 100 * (cpu_s(pid) - c0) / (time.monotonic() - w0)
    results = [r for k in range(len(kids)) for r in json.loads((work / f"v{k}.json").read_text())]
    stats = {}
    # 6. baseline: ffmpeg -> HLS
    time.sleep(3.0)
    base = hls_baseline(cams, cams.url(f"cam/{args.cameras}"), work, args.trials)

    frags = [r["fragments"] for r in results]
    gaps = sum(r["gaps"] for r in results)
    expected = 15 * args.soak_s
    med = statistics.median
    rows: list[tuple[str, str, str, str]] = [
        ("first frame after request (s, median/max)",
         f"{med(firsts):.2f} / {max(firsts):.2f}",
         f"{base['first_s']:.2f}", f"{base['first_s'] / med(firsts):.1f}x"),
        ("glass-to-glass, decoded (s, median/max)",
         f"{med(g2g):.2f} / {max(g2g):.2f}",
         f"{med(base['g2g']):.2f} / {max(base['g2g']):.2f}" if base["g2g"] else "-",
         f"{med(base['g2g']) / med(g2g):.1f}x" if base["g2g"] else "-"),
        ("CPU, 1 camera x 1 viewer (% of a core)", f"{one_cpu:.1f}",
         f"{base['cpu_pct']:.1f}", f"{base['cpu_pct'] / max(one_cpu, 0.01):.2f}x"),
        (f"{args.cameras} cameras x {args.viewers} viewers, gateway CPU (% of a core)",
         f"{load_cpu:.0f} ({load_cpu / args.cameras:.1f} per camera)", "-", "-"),
        (f"  fragments per viewer in {args.soak_s:.0f} s (expected ~{expected:.0f})",
         f"min {min(frags)} median {med(frags):.0f}", "-", "-"),
        ("  drops (decode-time gaps), viewers connected",
         f"{gaps}, {sum(r['fragments'] > 0 for r in results)}/{len(results)}", "-", "-"),
        ("gateway RSS MB: idle / 5 s into soak / end / max",
         f"{rss0:.0f} / {rss[min(5, len(rss) - 1)]:.0f} / {rss[-1]:.0f} / {max(rss):.0f}",
         "-", "-"),
    ]  # fmt: skip
    _ = stats
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--viewers", type=int, default=50, help="per camera")
    ap.add_argument("--soak-s", type=float, default=30.0)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="S",
        help="instead of the table: a memory soak of S seconds after the warm-up",
    )
    ap.add_argument("--warmup", type=float, default=30.0, help="soak warm-up (s)")
    ap.add_argument("--sample-s", type=float, default=5.0, help="soak RSS sampling period (s)")
    ap.add_argument("--churn", type=int, default=10, help="soak: viewers coming and going")
    ap.add_argument("--verbose", action="store_true", help="soak: print every sample")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-churn", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child()
        return
    if args.child_churn:
        job = json.loads(sys.stdin.read())
        Path(job["out"]).write_text(json.dumps(churn(job["urls"], job["seconds"])))
        return

    work = Path(tempfile.mkdtemp(prefix="sl-gw-bench-"))
    for parent in [work, *work.parents]:
        if parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o001)
    cluster = LocalCluster(work / "pg")
    cams = FakeCameras([f"cam/{i}" for i in range(1, args.cameras + 1)])
    gw: subprocess.Popen[bytes] | None = None
    rows: list[tuple[str, str, str, str]] = []
    try:
        cluster.start()
        ensure_database(cluster)
        engine = sqlalchemy.create_engine(cluster.url())
        migrate.upgrade(engine)
        cams.start()
        ids = [f"990101000013200{i:05d}" for i in range(1, args.cameras + 1)]
        with engine.begin() as conn:
            for i, d in enumerate(ids, start=1):
                conn.execute(
                    text("INSERT INTO cameras (device_id, name, stream_ref, geom) VALUES "
                         "(:d, :n, :r, ST_SetSRID(ST_MakePoint(7.42, 43.73), 4326))"),
                    {"d": d, "n": f"bench {i}", "r": cams.url(f"cam/{i}")},
                )  # fmt: skip
        engine.dispose()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGHTLINE_")}
        env.update(DATABASE_URL=cluster.url(), SIGHTLINE_GATEWAY_PORT=str(port),
                   SIGHTLINE_STREAM_SIGNING_KEY=KEY, SIGHTLINE_STREAM_IDLE_GRACE_S="2",
                   SIGHTLINE_LOG_LEVEL="WARNING")  # fmt: skip
        gw = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "sightline"), "gateway", "--no-prober"],
            env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        assert wait_for(lambda: _up(port), 30.0, 0.2), "gateway did not start"
        pid = gw.pid

        if args.soak:
            rows = soak(args, pid, port, ids, work)
        else:
            rows = measure(args, pid, port, ids, cams, work)
    finally:
        if gw is not None:
            gw.terminate()
            gw.wait(10)
        cams.stop()
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    w = max(len(r[0]) for r in rows)
    if args.soak:  # one column: the soak's baseline is the gateway's own RSS before viewers
        for name, ours, _, _ in rows:
            print(f"{name:<{w}}  {ours}")
        return
    print(f"{'measure':<{w}}  {'gateway (WS fMP4)':<24}  {'ffmpeg -> HLS':<16}  ratio")
    for name, ours, theirs, ratio in rows:
        print(f"{name:<{w}}  {ours:<24}  {theirs:<16}  {ratio}")


def _up(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
