"""Fake RTSP cameras for tests, benchmarks and the demo: GStreamer's RTSP server, one process.

Run by the *system* Python (``/usr/bin/python3``: Debian's python3-gi and
gir1.2-gst-rtsp-server-1.0), not the project venv; it imports nothing of ours::

    /usr/bin/python3 gateway/fakecam.py --port 8554 --mount demo/1 --mount demo/2:h265

serves ``rtsp://127.0.0.1:8554/demo/1`` (H.264) and ``.../demo/2`` (H.265). A camera's
pipeline runs only while a client pulls it, so idle fake cameras cost no CPU.

It prints one line per event on stdout (``ready PORT``, ``client``, ``closed``,
``media MOUNT``) so that a
test can count upstream sessions. With ``--control`` it reads commands on stdin (and stops when
stdin closes): ``pattern white`` / ``pattern black`` switch every live picture (used to
measure glass-to-glass latency).
"""

from __future__ import annotations

import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ENCODERS = {
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max={gop} bframes=0 "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1",
    "h265": "x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} "
    "! rtph265pay name=pay0 pt=96 config-interval=-1",
}


def _out(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8554)
    p.add_argument("--mount", action="append", default=[],
                   help="PATH[:h264|h265], repeatable (default: cam/1)")  # fmt: skip
    p.add_argument("--size", default="320x240", help="WIDTHxHEIGHT (default 320x240)")
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--gop", type=int, default=0, help="frames per keyframe (default: fps)")
    p.add_argument("--user", help="require RTSP basic auth with this user")
    p.add_argument("--password", default="")
    p.add_argument(
        "--control",
        action="store_true",
        help="read commands on stdin; stop when stdin closes (for a parent process)",
    )
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    gop = args.gop or args.fps

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    sources: list[Gst.Element] = []
    pattern = {"value": "ball"}

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        basic = GstRtspServer.RTSPAuth.make_basic(args.user, args.password)
        auth.add_basic(basic, token)
        server.set_auth(auth)

    for spec in args.mount or ["cam/1"]:
        path, _, codec = spec.partition(":")
        codec = codec or "h264"
        launch = (
            f"( videotestsrc name=src is-live=true pattern={pattern['value']} "
            f"! video/x-raw,format=I420,width={width},height={height},framerate={args.fps}/1 "
            f'! timeoverlay font-desc="Sans 12" '
            f"! {ENCODERS[codec].format(gop=gop)} )"
        )
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(False)
        if args.user:
            factory.add_role_from_structure(
                Gst.Structure.new_from_string(
                    "user, media.factory.access=(boolean)true, "
                    "media.factory.construct=(boolean)true"
                )
            )

        def configured(_f: object, media: GstRtspServer.RTSPMedia, mount: str = path) -> None:
            src = media.get_element().get_by_name("src")
            src.set_property("pattern", pattern["value"])
            sources.append(src)
            _out(f"media {mount}")

        factory.connect("media-configure", configured)
        server.get_mount_points().add_factory("/" + path.strip("/"), factory)

    def connected(_server: object, client: GstRtspServer.RTSPClient) -> None:
        _out("client")
        client.connect("closed", lambda *_: _out("closed"))

    server.connect("client-connected", connected)
    if server.attach(None) == 0:
        print(f"fakecam: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()

    def set_pattern(value: str) -> bool:
        pattern["value"] = value
        for src in sources:
            src.set_property("pattern", value)
        _out(f"pattern {value}")
        return False

    def read_stdin() -> None:
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "pattern" and arg:
                GLib.idle_add(set_pattern, arg)
            elif cmd == "quit":
                break
        GLib.idle_add(loop.quit)

    if args.control:
        threading.Thread(target=read_stdin, daemon=True).start()
    _out(f"ready {args.port}")
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
