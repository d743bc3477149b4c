"""Test helpers for the stream gateway: real fake RTSP cameras and a gateway in a thread.

The cameras are GStreamer's RTSP server (``gateway/fakecam.py``) run by the system Python; the
helper reads its event lines (``client``, ``media``, ``closed``) so tests can count upstream
sessions, and can kill and restart it on the same port.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from settings import PROJECT_ROOT

SYSTEM_PYTHON = "/usr/bin/python3"
FAKECAM = PROJECT_ROOT / "gateway" / "fakecam.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gstreamer_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0')"
    return (
        Path(SYSTEM_PYTHON).exists()
        and subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0
    )


class FakeCameras:
    """One fake-camera process serving ``mounts`` on 127.0.0.1:``port``."""

    def __init__(
        self,
        mounts: list[str],
        *,
        port: int | None = None,
        size: str = "320x240",
        fps: int = 15,
        user: str | None = None,
        password: str = "",
    ) -> None:
        self.mounts = mounts
        self.port = port or free_port()
        self.args = ["--size", size, "--fps", str(fps)]
        if user:
            self.args += ["--user", user, "--password", password]
        self.events: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def url(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    def start(self, timeout_s: float = 10.0) -> FakeCameras:
        cmd = [SYSTEM_PYTHON, str(FAKECAM), "--control", "--port", str(self.port), *self.args]
        for m in self.mounts:
            cmd += ["--mount", m]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        ready = threading.Event()
        proc = self.proc

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.events.append(line.strip())
                if line.startswith("ready"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout_s):
            self.stop()
            raise RuntimeError("the fake cameras did not start")
        return self

    def count(self, event: str) -> int:
        return sum(e.split()[0] == event for e in list(self.events))

    def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """Die like a camera losing power (SIGKILL: no RTSP teardown)."""
        if self.proc is not None:
            self.proc.kill()
            self._reap()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self._reap()

    def _reap(self) -> None:
        assert self.proc is not None
        self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except (OSError, ValueError):  # the reader thread may be mid-read
                    pass
        self.proc = None


class GatewayThread:
    """Serve an aiohttp app on 127.0.0.1 from its own event loop in a thread."""

    def __init__(self, make_app: Callable[[], web.Application]) -> None:
        self.make_app = make_app
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the gateway's loop and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def start(self) -> GatewayThread:
        self._thread.start()

        async def up() -> None:
            self.app = self.make_app()
            self._runner = web.AppRunner(self.app)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(20)
        return self

    def stop(self) -> None:
        async def down() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(down(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
