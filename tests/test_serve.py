"""`sightline serve` serves the console built from the store, and says so when it cannot."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request

from sqlalchemy import Engine

from store.cluster import free_port
from tests.console_auth import login_session, make_user
from tests.test_cli import SIGHTLINE, run


def _env(engine: Engine, port: int) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIGHTLINE_")}
    base.pop("DATABASE_URL", None)
    return {
        **base,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "SIGHTLINE_PORT": str(port),
        "SIGHTLINE_API_PORT": str(free_port()),
    }


def test_serve_prints_the_url_and_serves_the_console(demo_engine: Engine) -> None:
    port = free_port()
    env = _env(demo_engine, port)
    proc = subprocess.Popen(
        [SIGHTLINE, "serve"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == f"Sightline console: http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    body = resp.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "console did not answer within 30 s"
                time.sleep(0.2)
        assert "Sightline" in body and 'id="login-form"' in body  # sent to the login form
        # Logged in (issue 8), the layout carries the map.
        with login_session(f"http://127.0.0.1:{port}", make_user(demo_engine, "viewer")) as s:
            layout = s.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=10).text
        assert "cameras-layer" in layout
        api_line = proc.stdout.readline().strip()
        api_port = int(env["SIGHTLINE_API_PORT"])
        assert api_line == f"Sightline API: http://127.0.0.1:{api_port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health", timeout=5) as r:
                    assert json.loads(r.read()) == {"status": "ok"}
                break
            except OSError:
                assert time.monotonic() < deadline, "API did not answer within 30 s"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def test_console_port_taken_is_a_one_line_error(demo_engine: Engine) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        env = _env(demo_engine, port)
        out = run("serve", env={k: env[k] for k in ("DATABASE_URL", "SIGHTLINE_PORT")}, timeout=60)
    assert out.returncode == 1
    assert out.stderr.startswith("sightline: error:")
    assert "in use" in out.stderr.lower()
