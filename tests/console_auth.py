"""Helpers for console tests: serve the real app in a thread, make users, log a browser or an
HTTP client in through the real login form."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import requests
from playwright.sync_api import Page
from sqlalchemy import Engine, text
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from settings import Settings
from store.users import create_user

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass(frozen=True)
class User:
    name: str
    password: str
    role: str
    jurisdiction: str | None


def make_user(
    engine: Engine, role: str, jurisdiction: str | None = None, *, clearance: int = 0,
    prefix: str = "u",
) -> User:  # fmt: skip
    """A new user of ``role`` in unit ``jurisdiction`` (a code; None: whole city)."""
    name = f"{prefix}-{role}-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        pw = create_user(conn, name, role, jurisdiction_code=jurisdiction, clearance=clearance)
    return User(name, pw, role, jurisdiction)


def district_codes(engine: Engine) -> list[str]:
    """Codes of the demo city's districts, by code."""
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT code FROM jurisdictions WHERE level = 'district' ORDER BY code")).scalars())


@contextmanager
def serving(settings: Settings, engine: Engine, *, quiet: bool = True,
            app: Any = None) -> Iterator[str]:  # fmt: skip
    """Serve the console app (``app``, else a new one) on a free 127.0.0.1 port; yield its base
    URL (no trailing /). ``quiet=False`` logs a line per request (werkzeug's logger)."""
    app = app if app is not None else create_app(settings, engine)
    server = make_server("127.0.0.1", 0, app.server, threaded=True,
                         request_handler=_Quiet if quiet else WSGIRequestHandler)  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, name="console-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def login_page(page: Page, base: str, user: User, path: str = "/") -> None:
    """Log ``page`` in through the form and wait for the console (or ``path``)."""
    page.goto(f"{base}{path}")
    page.wait_for_selector("#login-form", timeout=10_000)
    page.fill("#login-name", user.name)
    page.fill("#login-password", user.password)
    page.click("#login-submit")
    page.wait_for_url(f"{base}{path}", timeout=10_000)


def login_session(base: str, user: User) -> requests.Session:
    """A requests session logged in as ``user`` (cookies set by the real form)."""
    s = requests.Session()
    form = s.get(f"{base}/login", timeout=10)
    csrf = CSRF_FIELD.search(form.text)
    assert csrf is not None
    r = s.post(f"{base}/login", data={"name": user.name, "password": user.password,
                                      "csrf": csrf.group(1), "next": "/"},
               allow_redirects=False, timeout=10)  # fmt: skip
    assert r.status_code == 303, r.text
    return s


def load_frames(engine: Engine, frames: dict[str, gpd.GeoDataFrame]) -> None:
    """Write hand-made console frames (``tests.console_frames``) into an empty, migrated store."""
    order = ("jurisdictions", "buildings", "roads", "cameras", "checkpoints", "key_areas",
             "alarm_points")  # fmt: skip
    for name in order:
        gdf = frames[name].copy()
        if name == "buildings":
            gdf["height_source"] = "survey"
        if not len(gdf):
            continue
        for col in ("parent_id", "lanes", "jurisdiction_id"):
            if col in gdf.columns:
                gdf[col] = gdf[col].astype("Int64")  # NaN made them float
        gdf = gdf.rename_geometry("geom")
        gdf.to_postgis(name, engine, if_exists="append", index=False)
