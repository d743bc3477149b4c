"""Issue 8 in the REAL console: login, sessions, CSRF, roles and jurisdiction scoping.

The console app on the Monaco demo city (its own database, with a coverage run) served over
HTTP in a thread; users are made in the store and log in through the real form (requests, and
Chromium for the two-district check). Every expectation about what a district may see is
computed here in SQL, not by the code under test. The enumeration tests walk the app's real
callback map and URL map and fail when a callback or route is added without being classified
here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine, create_engine, text

from analysis import trajectory as atraj
from analysis.coverage_run import run_coverage
from app import create_app
from pages import auth
from settings import Settings
from store import coverage
from store.access import PERMISSIONS
from store.audit import verify_chain
from store.scope import EVERYTHING
from store.users import MAX_FAILURES
from tests.console_auth import CSRF_FIELD, User, login_page, login_session, make_user, serving

KEY = "console-security-test-key"
ROLES = ("admin", "planner", "commander", "investigator", "viewer")
UPDATE = "/_dash-update-component"
HASH = re.compile(r"@[0-9a-f]{64}")

# Every callback of the console (callback_map key without allow_duplicate's @hash) and the
# action it needs. Clientside ones never reach the server; their components are only on the
# pages of roles with the action.
CALLBACKS: dict[str, tuple[str, bool]] = {
    "video-panel.children": ("video", True),
    "..point-title.children...point-cameras-list.children...open-grid.disabled..."
    "point-panel.hidden...point-cameras.data...click-point-layer.children..": ("coverage", True),
    "..video-grid-tiles.children...video-grid-tiles.style...video-grid-title.children..."
    "video-grid.hidden..": ("video", True),
    "..coverage-levels-layer.data...blind-spots-layer.data...road-coverage-layer.data..."
    "entry-roads-layer.data...legend-0.children...legend-1.children...legend-2.children..."
    "legend-3.children..": ("coverage", True),
    "..health-changes.data...health-state.data...fault-list.children...legend.children..":
        ("health", True),
    "..cameras-layer.hideout...cameras-layer.cluster...camera-shown.children..": ("view", False),
    "point-panel.hidden": ("coverage", False),
    "..legend-0.hidden...legend-1.hidden...legend-2.hidden...legend-3.hidden..":
        ("coverage", False),
    "cameras-layer.hideout": ("health", False),
    # Area tools (issue 7): selection, patrol, assessment, what-if.
    "..sel-title.children...sel-stats.children...sel-cameras.children...sel-open-grid.disabled..."
    "sel-data.data...sel-area-layer.children..": ("view", True),
    "..video-grid.hidden...video-grid-tiles.children...video-grid-tiles.style..."
    "video-grid-title.children..": ("video", True),
    "..patrol-picked.data...patrol-picked-list.children..": ("video", True),
    "..patrol-picked-list.children...patrol-picked.data..": ("video", True),  # tiled pages
    "..patrol-message.children...patrol-list.options...patrol-list.value..": ("video", True),
    "..patrol-state.data...video-grid-tiles.children...video-grid-tiles.style..."
    "video-grid-title.children...video-grid.hidden...video-grid.className...patrol-tick.disabled..."
    "patrol-tick.interval...patrol-highlight.children...patrol-status.children..": ("video", True),
    "assessment-table.children": ("coverage", True),
    "..wi-move-camera.data...wi-move-label.children..": ("analyse", True),
    "..wi-job.data...wi-poll.disabled...wi-status.children...wi-progress.value...wi-result.children..."
    "wi-layer.children..": ("analyse", True),
    # A large city's camera tiles (pages/device_tiles.py): draw them, recolour on deltas.
    "camera-tiles-sink.data": ("view", False),
    "camera-tiles-live.data": ("health", False),
    # Trajectory (issue 9, pages/trajectory.py): the form check, the query, click details, the
    # clicked camera's video (video-panel.children above), playback in the browser.
    "traj-query.disabled": ("trajectory", False),
    "..traj-layer.children...traj-corridors.children...traj-data.data...traj-slider.max..."
    "traj-slider.value...traj-slider.disabled...traj-play.disabled...traj-table.children..."
    "traj-exports.children...traj-status.children..": ("trajectory", True),
    "traj-details.children": ("trajectory", True),
    "..traj-tick.disabled...traj-play.children...traj-slider.value..": ("trajectory", False),
    "..traj-slider.value...traj-tick.disabled...traj-play.children..": ("trajectory", False),
    "..traj-cursor.center...traj-cursor.pathOptions...traj-clock.children...traj-hops.hideout..":
        ("trajectory", False),
}  # fmt: skip

# Every Flask route (endpoint), an example path, and who may use it.
ROUTES: dict[str, tuple[str, str, str]] = {
    # endpoint: (method, example path, "public" | "session" | action)
    "login": ("GET", "/login", "public"),
    "_dash_assets.static": ("GET", "/assets/sightline.css", "public"),
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>":
        ("GET", "/_dash-component-suites/dash_leaflet/async-GeoJSON.js", "public"),
    "/_favicon.ico": ("GET", "/_favicon.ico", "public"),
    "logout": ("POST", "/logout", "session"),
    "/": ("GET", "/", "view"),
    "/<path:path>": ("GET", "/some/page", "view"),
    "/_dash-layout": ("GET", "/_dash-layout", "view"),
    "/_dash-dependencies": ("GET", "/_dash-dependencies", "view"),
    "/_reload-hash": ("GET", "/_reload-hash", "view"),
    "static": ("GET", "/static/x.css", "view"),
    "/_dash-update-component": ("POST", UPDATE, "callback"),
    "audit": ("GET", "/audit", "admin"),
    "export_assessment": ("GET", "/export/assessment.csv", "export"),
    "device_tiles": ("GET", "/device-tiles/cameras/0/0/0.json", "view"),
    "export_trajectory": ("GET", "/trajectory/export/no-such-key/csv", "export"),
}  # fmt: skip
HTML_PAGES = {"/", "/<path:path>", "audit"}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Env:
    base: str
    engine: Engine
    app: Any
    run_id: int
    a: str  # district codes
    b: str
    a_ids: list[int]
    b_ids: list[int]
    users: dict[str, User] = field(default_factory=dict)
    logs: _Collect = field(default_factory=_Collect)


def _subtree(engine: Engine, code: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "WITH RECURSIVE t AS (SELECT id FROM jurisdictions WHERE code = :c UNION ALL "
            "SELECT j.id FROM jurisdictions j JOIN t ON j.parent_id = t.id) SELECT id FROM t"),
            {"c": code}).scalars())  # fmt: skip


@pytest.fixture(scope="module")
def env(city_url: str) -> Iterator[Env]:
    engine = create_engine(city_url)
    with engine.connect() as conn:
        run_id = coverage.latest_run(conn)
        codes = list(conn.execute(text(
            "SELECT code FROM jurisdictions WHERE level = 'district' ORDER BY code")).scalars())
    if run_id is None:
        run_id = run_coverage(engine, workers=2).run_id
    assert run_id is not None
    settings = Settings(basemap_url=None, stream_signing_key=KEY,
                        gateway_url="http://127.0.0.1:9")  # type: ignore[call-arg]  # fmt: skip
    # The district with most cameras first: the IDOR checks need cameras on both sides.
    a, b = codes[1], codes[0]
    logs = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(logs)
    root.setLevel(logging.DEBUG)
    stack = ExitStack()
    try:
        app = create_app(settings, engine, trajectory_service=atraj)
        base = stack.enter_context(serving(settings, engine, quiet=False, app=app))
        e = Env(base, engine, app, run_id, a, b, _subtree(engine, a), _subtree(engine, b),
                logs=logs)  # fmt: skip
        for role in ROLES:
            e.users[role] = make_user(engine, role, a, prefix="a")
        e.users["commander-b"] = make_user(engine, "commander", b, prefix="b")
        e.users["city-admin"] = make_user(engine, "admin", None, prefix="c", clearance=10)
        yield e
    finally:
        stack.close()
        root.removeHandler(logs)
        root.setLevel(old_level)
        engine.dispose()


# -- helpers ------------------------------------------------------------------------------------
def _txt(r: requests.Response) -> str:
    """A response body as text with JSON's escapes undone (Dash writes ``/`` as ``\\u002f``), so
    that looking for a URL or a token cannot miss it."""
    if r.headers.get("Content-Type", "").startswith("application/json"):
        return json.dumps(r.json(), ensure_ascii=False)
    return r.text


def _csrf(s: requests.Session) -> str:
    return str(s.cookies.get(auth.CSRF_COOKIE) or "")


def _outputs(key: str) -> list[dict[str, str]]:
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    return [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]


def _body(app: Any, key: str, values: dict[str, Any]) -> dict[str, Any]:
    """A Dash callback request for ``key`` with ``values`` ("id.prop" -> value) as the browser
    sends it (the first given input is the one that changed)."""
    cb = app.callback_map[key]
    outs = _outputs(key)

    def deps(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": d["id"], "property": d["property"],
                 "value": values.get(f"{d['id']}.{d['property']}")} for d in items]  # fmt: skip

    inputs = deps(cb["inputs"])
    changed = [f"{d['id']}.{d['property']}" for d in inputs if f"{d['id']}.{d['property']}"
               in values][:1]  # fmt: skip
    return {"output": key, "outputs": outs if key.startswith("..") else outs[0],
            "inputs": inputs, "state": deps(cb["state"]), "changedPropIds": changed}  # fmt: skip


def _post(s: requests.Session, env: Env, key: str, values: dict[str, Any],
          csrf: str | None = None) -> requests.Response:  # fmt: skip
    headers = {"X-CSRFToken": _csrf(s) if csrf is None else csrf}
    return s.post(f"{env.base}{UPDATE}", json=_body(env.app, key, values), headers=headers,
                  timeout=30)  # fmt: skip


def _key(prefix: str, app: Any) -> str:
    (key,) = [k for k in app.callback_map if k.startswith(prefix) and "callback" in
              app.callback_map[k]]  # fmt: skip
    return key


def _cameras(engine: Engine, jids: list[int], clearance: int = 0) -> dict[str, tuple[float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras WHERE "
                                 "jurisdiction_id = ANY(:j) AND access_level <= :c"),
                            {"j": jids, "c": clearance}).all()  # fmt: skip
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def _feature(device_id: str, lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"device_id": device_id, "name": "x"}}  # fmt: skip


def _audit(engine: Engine, after: int, action: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT actor, role, target, outcome, details FROM audit_log "
                                 "WHERE seq > :s AND action = :a ORDER BY seq"),
                            {"s": after, "a": action}).all()  # fmt: skip


def _head(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_log")).scalar_one())


def _login_post(env: Env, name: str, password: str) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    form = s.get(f"{env.base}/login", timeout=10)
    m = CSRF_FIELD.search(form.text)
    assert m is not None
    r = s.post(f"{env.base}/login", data={"name": name, "password": password,
                                          "csrf": m.group(1)},
               allow_redirects=False, timeout=10)  # fmt: skip
    return s, r


def _camera_layer(layout: Any) -> list[str]:
    """Device ids of the camera layer's features in a /_dash-layout document."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == "cameras-layer":
                found.extend(f["properties"]["device_id"] for f in props["data"]["features"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(layout)
    return found


# -- login --------------------------------------------------------------------------------------
def test_login_sets_strict_cookies_and_is_audited_once(env: Env) -> None:
    user = env.users["viewer"]
    before = _head(env.engine)
    s, r = _login_post(env, user.name, user.password)
    with s:
        assert r.status_code == 303 and r.headers["Location"] == "/"
        cookies = {c.split("=", 1)[0]: c for c in r.raw.headers.getlist("Set-Cookie")}
        session, csrf = cookies[auth.SESSION_COOKIE], cookies[auth.CSRF_COOKIE]
        assert "HttpOnly" in session and "SameSite=Strict" in session
        assert "Max-Age=43200" in session and "Secure" not in session  # cookie_secure False
        assert "HttpOnly" not in csrf and "SameSite=Strict" in csrf
        assert s.get(f"{env.base}/_dash-layout", timeout=30).status_code == 200
    entries = _audit(env.engine, before, "login")
    assert [(e.actor, e.outcome) for e in entries] == [(f"user:{user.name}", "ok")]


def test_wrong_password_and_unknown_user_are_refused_and_audited_once(env: Env) -> None:
    user = make_user(env.engine, "viewer", env.a)
    before = _head(env.engine)
    s, r = _login_post(env, user.name, user.password + "x")
    s.close()
    assert r.status_code == 401 and "wrong user name or password" in _txt(r)
    assert auth.SESSION_COOKIE not in r.headers.get("Set-Cookie", "")
    long_name = "n" * 100
    s, r2 = _login_post(env, long_name, "whatever-password")
    s.close()
    assert r2.status_code == 401 and "wrong user name or password" in _txt(r2)
    entries = _audit(env.engine, before, "login")
    assert [(e.actor, e.outcome) for e in entries] == [("anonymous", "refused")] * 2
    first, second = (json.loads(e.details) for e in entries)
    assert first["name"] == user.name and first["reason"] == "wrong password (1 in a row)"
    assert second["name"] == "n" * 64 and second["reason"] == "unknown user"


def test_locked_account_is_refused_even_with_the_right_password(env: Env) -> None:
    user = make_user(env.engine, "commander", env.a)
    for _ in range(MAX_FAILURES):
        s, r = _login_post(env, user.name, "wrong-password-1")
        s.close()
        assert r.status_code == 401
    s, r = _login_post(env, user.name, user.password)
    s.close()
    assert r.status_code == 401
    assert "account locked after 5 failed logins" in _txt(r)
    assert auth.SESSION_COOKIE not in r.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(("next_path", "goes_to"), [
    ("/audit?action=login", "/audit?action=login"), ("//evil.example/", "/"),
    ("/\\evil.example", "/"), ("/\t/evil.example", "/"), ("https://evil.example/", "/"),
])  # fmt: skip
def test_login_goes_back_only_to_a_local_path(env: Env, next_path: str, goes_to: str) -> None:
    user = env.users["viewer"]
    with requests.Session() as s:
        m = CSRF_FIELD.search(s.get(f"{env.base}/login", timeout=10).text)
        assert m is not None
        r = s.post(f"{env.base}/login", data={"name": user.name, "password": user.password,
                                              "csrf": m.group(1), "next": next_path},
                   allow_redirects=False, timeout=10)  # fmt: skip
        assert r.status_code == 303 and r.headers["Location"] == goes_to


def test_secure_cookies_behind_tls_and_a_new_login_replaces_the_old_session(env: Env) -> None:
    user = make_user(env.engine, "viewer", env.a)
    app = create_app(Settings(basemap_url=None, cookie_secure=True), env.engine)  # type: ignore[call-arg]
    client = app.server.test_client()
    form = client.get("/login")
    assert "Secure" in form.headers["Set-Cookie"]
    m = CSRF_FIELD.search(form.get_data(as_text=True))
    assert m is not None
    r = client.post("/login", data={"name": user.name, "password": user.password,
                                    "csrf": m.group(1)})  # fmt: skip
    cookies = r.headers.getlist("Set-Cookie")
    assert r.status_code == 303 and all("Secure" in c for c in cookies), cookies
    with login_session(env.base, user) as s:
        first = s.cookies.get(auth.SESSION_COOKIE)
        m = CSRF_FIELD.search(s.get(f"{env.base}/login", timeout=10).text)
        assert m is not None
        s.post(f"{env.base}/login", data={"name": user.name, "password": user.password,
                                          "csrf": m.group(1)}, timeout=30)  # fmt: skip
        assert s.cookies.get(auth.SESSION_COOKIE) != first
        assert s.get(f"{env.base}/_dash-layout", timeout=30).status_code == 200
    with requests.Session() as old:
        old.cookies.set(auth.SESSION_COOKIE, first)
        assert old.get(f"{env.base}/_dash-layout", timeout=10).status_code == 401


def test_login_form_without_its_token_is_refused(env: Env) -> None:
    user = env.users["viewer"]
    before = _head(env.engine)
    with requests.Session() as s:
        r = s.post(f"{env.base}/login", data={"name": user.name, "password": user.password},
                   allow_redirects=False, timeout=10)  # fmt: skip
        assert r.status_code == 403 and auth.SESSION_COOKIE not in s.cookies
    (entry,) = _audit(env.engine, before, "login")
    assert (entry.actor, entry.outcome) == ("anonymous", "refused")
    assert json.loads(entry.details)["reason"] == "login form token missing or wrong"


def test_expired_or_idle_session_is_refused(env: Env) -> None:
    user = make_user(env.engine, "commander", env.a)
    for column in ("expires_at", "last_seen_at"):
        with login_session(env.base, user) as s:
            assert s.get(f"{env.base}/_dash-layout", timeout=30).status_code == 200
            with env.engine.begin() as conn:
                conn.execute(text(
                    f"UPDATE user_sessions SET {column} = now() - interval '1 day' "  # noqa: S608
                    "WHERE user_id = (SELECT id FROM users WHERE name = :n)"), {"n": user.name})
            r = s.get(f"{env.base}/", allow_redirects=False, timeout=10)
            assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=")
            assert s.get(f"{env.base}/_dash-layout", timeout=10).status_code == 401
            health = _key("..health-changes", env.app)
            assert _post(s, env, health, {"health-poll.n_intervals": 1}).status_code == 401


def test_logout_ends_the_session_once_and_needs_the_csrf_header(env: Env) -> None:
    user = make_user(env.engine, "viewer", env.a)
    with login_session(env.base, user) as s:
        before = _head(env.engine)
        assert s.post(f"{env.base}/logout", timeout=10).status_code == 403  # no header
        assert s.get(f"{env.base}/_dash-layout", timeout=30).status_code == 200
        cookie = s.cookies.get(auth.SESSION_COOKIE)
        r = s.post(f"{env.base}/logout", headers={"X-CSRFToken": _csrf(s)}, timeout=10)
        assert r.status_code == 200
        assert _audit(env.engine, before, "logout") == [
            (f"user:{user.name}", "viewer", f"user:{user.name}", "ok", json.dumps(
                {"client": "127.0.0.1"}, separators=(",", ":")))]  # fmt: skip
        # The old cookie is dead even if a client kept it.
        with requests.Session() as old:
            old.cookies.set(auth.SESSION_COOKIE, cookie)
            assert old.get(f"{env.base}/_dash-layout", timeout=10).status_code == 401


def test_callback_post_without_or_with_a_wrong_csrf_token_is_refused(env: Env) -> None:
    with login_session(env.base, env.users["commander"]) as s:
        health = _key("..health-changes", env.app)
        values = {"health-poll.n_intervals": 1, "health-state.data": {"cursor": 0}}
        assert _post(s, env, health, values, csrf="").status_code == 403
        assert _post(s, env, health, values, csrf=_csrf(s)[:-1] + "x").status_code == 403
        assert _post(s, env, health, values).status_code == 200


def test_no_secret_in_any_response_or_log(env: Env) -> None:
    user = make_user(env.engine, "admin", env.a, prefix="secret")
    bodies: list[str] = []
    s, r = _login_post(env, user.name, user.password)
    with s:
        bodies.append(_txt(r))
        session, csrf = s.cookies.get(auth.SESSION_COOKIE), _csrf(s)
        assert session and csrf
        for path in ("/", "/_dash-layout", "/_dash-dependencies", "/audit", "/login"):
            bodies.append(_txt(s.get(f"{env.base}{path}", timeout=30)))
        cam, (lon, lat) = next(iter(_cameras(env.engine, env.a_ids).items()))
        video = _post(s, env, "video-panel.children",
                      {"cameras-layer.clickData": _feature(cam, lon, lat)})  # fmt: skip
        assert "/streams/" in _txt(video)  # a real answer, checked too
        bodies.append(_txt(video))
        point = _key("..point-title", env.app)
        bodies.append(_txt(_post(s, env, point, {"map.clickData": {"latlng": {"lat": lat,
                                                                          "lng": lon}}})))
        bodies.append(_post(s, env, _key("..health-changes", env.app),
                            {"health-poll.n_intervals": 1, "health-state.data": {}}).text)
        bodies.append(_txt(_post(s, env, _key("..health-changes", env.app),
                                 {"health-poll.n_intervals": 2, "health-state.data": {}})))
        bodies.append(s.post(f"{env.base}/logout", headers={"X-CSRFToken": csrf},
                             timeout=10).text)  # fmt: skip
    secrets = {"password": user.password, "session": session, "csrf": csrf}
    with env.engine.connect() as conn:
        audit_text = " ".join(conn.execute(text("SELECT details || target FROM audit_log"))
                              .scalars())  # fmt: skip
    assert env.logs.lines, "the app's log output was not captured"
    logged = "\n".join(env.logs.lines)
    for what, secret in secrets.items():
        assert secret is not None
        assert not [b for b in bodies if secret in b], f"{what} in a response body"
        assert secret not in logged, f"{what} in the log"
        assert secret not in audit_text, f"{what} in the audit log"


# -- two districts ------------------------------------------------------------------------------
def test_two_districts_see_different_devices_and_not_each_others_streams(
    env: Env, artefacts_dir: Path
) -> None:
    a_cams = _cameras(env.engine, env.a_ids)
    b_cams = _cameras(env.engine, env.b_ids)
    assert a_cams and b_cams and not set(a_cams) & set(b_cams)
    count_js = ("() => { let n = document.querySelectorAll('path.sl-camera').length;"
                " document.querySelectorAll('.sl-camera-cluster [data-count]')"
                ".forEach((el) => { n += Number(el.dataset.count); }); return n; }")  # fmt: skip
    seen: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            for who, expected in (("commander", a_cams), ("commander-b", b_cams)):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                login_page(page, env.base, env.users[who])
                page.wait_for_function(f"() => ({count_js})() === {len(expected)}",
                                       timeout=30_000)  # fmt: skip
                user_text = page.inner_text("#who")
                assert env.users[who].name in user_text
                page.screenshot(path=str(artefacts_dir / f"console-district-{who}.png"))
                layout = page.request.get(f"{env.base}/_dash-layout").json()
                seen[who] = _camera_layer(layout)
                assert sorted(seen[who]) == sorted(expected)
                # The district-A commander asks for a district-B camera's video: no URL.
                if who == "commander":
                    csrf = next(c["value"] for c in context.cookies()
                                if c["name"] == auth.CSRF_COOKIE)  # fmt: skip
                    b_id, (lon, lat) = next(iter(b_cams.items()))
                    r = page.request.post(
                        f"{env.base}{UPDATE}", headers={"X-CSRFToken": csrf},
                        data=_body(env.app, "video-panel.children",
                                   {"cameras-layer.clickData": _feature(b_id, lon, lat)}),
                    )  # fmt: skip
                    answer = json.dumps(r.json(), ensure_ascii=False)
                    assert r.status == 200 and "/streams/" not in answer and "sig=" not in answer
                    assert "not a camera you may watch" in answer
                    a_id, (lon, lat) = next(iter(a_cams.items()))
                    r = page.request.post(
                        f"{env.base}{UPDATE}", headers={"X-CSRFToken": csrf},
                        data=_body(env.app, "video-panel.children",
                                   {"cameras-layer.clickData": _feature(a_id, lon, lat)}),
                    )  # fmt: skip
                    answer = json.dumps(r.json(), ensure_ascii=False)
                    assert f"/streams/{a_id}/ws?" in answer
                    assert f"sub=user:{env.users[who].name}" in answer
                if who == "commander-b":  # the logout button ends the session
                    page.click("#logout-button")
                    page.wait_for_url(f"{env.base}/login", timeout=10_000)
                    assert page.request.get(f"{env.base}/_dash-layout").status == 401
                assert errors == []
                context.close()
        finally:
            browser.close()
    assert set(seen["commander"]).isdisjoint(seen["commander-b"])


def test_an_open_page_goes_to_the_login_form_when_its_session_ends(env: Env) -> None:
    user = make_user(env.engine, "commander", env.a)  # the health poll calls the server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            page = browser.new_page()
            login_page(page, env.base, user)
            page.wait_for_selector("path.sl-camera", state="attached", timeout=30_000)
            with env.engine.begin() as conn:
                conn.execute(text("UPDATE user_sessions SET expires_at = now() WHERE user_id = "
                                  "(SELECT id FROM users WHERE name = :n)"), {"n": user.name})
            page.wait_for_url(f"{env.base}/login?next=%2F", timeout=15_000)
            assert page.is_visible("#login-form")
        finally:
            browser.close()


# -- enumeration: every callback and route, every role, district A asking for district B --------
def test_every_callback_and_route_is_classified(env: Env) -> None:
    app = env.app
    keys = {HASH.sub("", k) for k in app.callback_map}
    assert keys == set(CALLBACKS), "classify the new or removed callback in CALLBACKS"
    registered = {HASH.sub("", k): a for k, a in auth.callback_actions(app).items()}
    assert registered == {k: a for k, (a, _server) in CALLBACKS.items()}
    for k, v in app.callback_map.items():
        assert ("callback" in v) == CALLBACKS[HASH.sub("", k)][1], k
    endpoints = {r.endpoint for r in app.server.url_map.iter_rules()}
    assert endpoints == set(ROUTES), "classify the new or removed route in ROUTES"
    assert {e: n for e, n in auth.ROUTES.items()} == {e: r[2] for e, r in ROUTES.items()}
    for action in {a for a, _ in CALLBACKS.values()} | {r[2] for r in ROUTES.values()}:
        assert action in PERMISSIONS or action in ("public", "session", "callback")


def _sample_values(env: Env) -> dict[str, dict[str, Any]]:
    """A plausible request per server callback, about a district-A camera."""
    cam, (lon, lat) = next(iter(_cameras(env.engine, env.a_ids).items()))
    return {
        "video-panel.children": {"cameras-layer.clickData": _feature(cam, lon, lat)},
        _key("..point-title", env.app): {"map.clickData": {"latlng": {"lat": lat, "lng": lon}}},
        _key("..video-grid-tiles", env.app): {
            "open-grid.n_clicks": 1,
            "point-cameras.data": {"lon": lon, "lat": lat, "cameras": [
                {"device_id": cam, "name": "x", "dori_level": "detect"}]}},
        _key("..coverage-levels", env.app): {
            "layers-control.overlays": ["Coverage (DORI)"], "planner-run.data": env.run_id},
        _key("..health-changes", env.app): {"health-poll.n_intervals": 1,
                                            "health-state.data": {"cursor": 0}},
    }  # fmt: skip


def test_no_session_is_refused_everywhere(env: Env) -> None:
    with requests.Session() as s:
        for key, values in _sample_values(env).items():
            r = s.post(f"{env.base}{UPDATE}", json=_body(env.app, key, values), timeout=10)
            assert r.status_code == 401, key
        for endpoint, (method, path, need) in ROUTES.items():
            r = s.request(method, f"{env.base}{path}", allow_redirects=False, timeout=30)
            if need == "public":
                assert r.status_code in (200, 404), endpoint  # 404: /static has no files
                continue
            if endpoint in HTML_PAGES:
                assert r.status_code == 303 and "/login?next=" in r.headers["Location"], endpoint
            else:
                assert r.status_code == 401, endpoint
    # An unknown callback is refused even to a logged-in admin.
    with login_session(env.base, env.users["admin"]) as s:
        body = _body(env.app, "video-panel.children", {})
        clientside = [k for k, v in env.app.callback_map.items() if "callback" not in v]
        assert clientside
        for output in ("made-up.children", *clientside):
            body["output"] = output
            r = s.post(f"{env.base}{UPDATE}", json=body, headers={"X-CSRFToken": _csrf(s)},
                       timeout=10)  # fmt: skip
            assert r.status_code == 403, output


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_what_it_may_not_do(env: Env, role: str) -> None:
    samples = _sample_values(env)
    with login_session(env.base, env.users[role]) as s:
        for key, values in samples.items():
            action = CALLBACKS[HASH.sub("", key)][0]
            r = _post(s, env, key, values)
            if role in PERMISSIONS[action]:
                assert r.status_code in (200, 204), (role, key, _txt(r)[:200])
            else:
                assert r.status_code == 403, (role, key)
        for endpoint, (method, path, need) in ROUTES.items():
            if need in PERMISSIONS and method == "GET":
                r = s.get(f"{env.base}{path}", allow_redirects=False, timeout=30)
                ok = role in PERMISSIONS[need]
                assert (r.status_code in (200, 404)) if ok else r.status_code == 403, endpoint
        # The page carries only the panels of the role's actions.
        layout = s.get(f"{env.base}/_dash-layout", timeout=30).text
        assert ('"video-panel"' in layout) == (role in PERMISSIONS["video"])
        assert ('"point-panel"' in layout) == (role in PERMISSIONS["coverage"])
        assert ('"health-poll"' in layout) == (role in PERMISSIONS["health"])
        assert ('"audit-link"' in layout) == (role in PERMISSIONS["admin"])


def _point_seen_only_in_b(env: Env) -> tuple[float, float, set[str]]:
    """A point inside district B seen by district-B cameras (from the stored polygons)."""
    with env.engine.connect() as conn:
        row = conn.execute(text("""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_PointOnSurface(v.geom) AS p FROM coverage_visible v
                JOIN cameras c ON c.id = v.camera_id
                WHERE v.run_id = :r AND c.jurisdiction_id = ANY(:b) AND c.access_level = 0
                  AND NOT ST_IsEmpty(v.geom) ORDER BY v.id) q
            WHERE EXISTS (SELECT 1 FROM jurisdictions j WHERE j.id = ANY(:b)
                          AND ST_Covers(j.geom, q.p)) LIMIT 1
        """), {"r": env.run_id, "b": env.b_ids}).one()  # fmt: skip
        lon, lat = float(row[0]), float(row[1])
        seeing = conn.execute(text(
            "SELECT DISTINCT v.camera_ref FROM coverage_visible v JOIN cameras c ON "
            "c.id = v.camera_id WHERE v.run_id = :r AND c.jurisdiction_id = ANY(:b) AND "
            "ST_Covers(v.geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
            {"r": env.run_id, "b": env.b_ids, "x": lon, "y": lat}).scalars()  # fmt: skip
        return lon, lat, set(seeing)


def test_district_a_gets_nothing_of_district_b(env: Env) -> None:
    b_cams = _cameras(env.engine, env.b_ids, clearance=10)
    b_id, (blon, blat) = next(iter(b_cams.items()))
    lon, lat, b_seeing = _point_seen_only_in_b(env)
    assert b_seeing
    with env.engine.connect() as conn:
        city = {c["device_id"] for c in coverage.cameras_seeing(conn, env.run_id, lon, lat,
                                                                 EVERYTHING)}  # fmt: skip
        b_key_areas = set(conn.execute(text("SELECT id FROM key_areas WHERE jurisdiction_id = "
                                            "ANY(:b)"), {"b": env.b_ids}).scalars())  # fmt: skip
    assert b_seeing <= city  # the whole city would be told about them
    with login_session(env.base, env.users["admin"]) as s:  # district A's admin: every action
        # The page: no district-B camera.
        layout = s.get(f"{env.base}/_dash-layout", timeout=30).text
        assert not [d for d in b_cams if d in layout]
        # Video of a district-B camera (any clearance), alone or in the grid: no URL.
        r = _post(s, env, "video-panel.children",
                  {"cameras-layer.clickData": _feature(b_id, blon, blat)})  # fmt: skip
        assert r.status_code == 200 and "/streams/" not in _txt(r)
        grid = _key("..video-grid-tiles", env.app)
        r = _post(s, env, grid, {"open-grid.n_clicks": 1, "point-cameras.data": {
            "lon": lon, "lat": lat,
            "cameras": [{"device_id": d, "name": "x", "dori_level": "detect"} for d in b_cams]}})
        assert r.status_code == 200 and "/streams/" not in _txt(r)
        # Which cameras see a point in district B: none of district B's.
        point = _key("..point-title", env.app)
        r = _post(s, env, point, {"map.clickData": {"latlng": {"lat": lat, "lng": lon}}})
        assert r.status_code == 200
        assert not [d for d in b_seeing if d in _txt(r)]
        # Planner layers: no blind spot of a district-B key area.
        planner = _key("..coverage-levels", env.app)
        r = _post(s, env, planner, {"layers-control.overlays": [
            "Coverage (DORI)", "Blind spots", "Road coverage", "Entry roads without checkpoint"],
            "planner-run.data": env.run_id})  # fmt: skip
        assert r.status_code == 200
        blind = r.json()["response"]["blind-spots-layer"]["data"]["features"]
        assert blind and not [f for f in blind if f["properties"].get("key_area_id")
                              in b_key_areas]  # fmt: skip
        # Health: one camera of each district went offline; A hears only of its own.
        a_id = next(iter(_cameras(env.engine, env.a_ids)))
        probed = [a_id, b_id]
        with env.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO camera_health (camera_id, status, since, checked_at, reason) "
                "SELECT id, 'offline', now(), now(), 'test' FROM cameras "
                "WHERE device_id = ANY(:d)"), {"d": probed})
            conn.execute(text(
                "INSERT INTO camera_health_events (camera_id, at, status, previous_status) "
                "SELECT id, now(), 'offline', 'online' FROM cameras WHERE device_id = ANY(:d)"),
                {"d": probed})  # fmt: skip
        try:
            r = _post(s, env, _key("..health-changes", env.app),
                      {"health-poll.n_intervals": 1, "health-state.data": {"cursor": 0}})
        finally:
            with env.engine.begin() as conn:
                for table in ("camera_health_events", "camera_health"):
                    conn.execute(text(
                        f"DELETE FROM {table} WHERE camera_id IN (SELECT id FROM cameras "  # noqa: S608
                        "WHERE device_id = ANY(:d))"), {"d": probed})  # fmt: skip
        answer = r.json()["response"]
        assert answer["health-changes"]["data"] == {a_id: "offline"}
        assert a_id in json.dumps(answer["fault-list"])
        assert not [d for d in b_cams if d in _txt(r)]


# -- the audit view ---------------------------------------------------------------------------
def test_audit_view_is_for_admins_and_each_view_is_audited_once(env: Env) -> None:
    before = _head(env.engine)
    with login_session(env.base, env.users["city-admin"]) as s:
        with env.engine.connect() as conn:
            chain_ok = verify_chain(conn).ok
        r = s.get(f"{env.base}/audit", timeout=30)
        assert r.status_code == 200
        assert ("Hash chain intact" if chain_ok else "Hash chain BROKEN") in _txt(r)
        seqs = [int(x) for x in re.findall(r'data-seq="(\d+)"', _txt(r))]
        assert seqs == sorted(seqs, reverse=True) and seqs[0] >= before  # newest first
        r = s.get(f"{env.base}/audit", params={"action": "login"}, timeout=30)
        actions = set(re.findall(r'data-action="([^"]+)"', _txt(r)))
        assert actions == {"login"}
        r = s.get(f"{env.base}/audit", params={"before": seqs[1]}, timeout=30)
        older = [int(x) for x in re.findall(r'data-seq="(\d+)"', _txt(r))]
        assert older[: len(seqs) - 2] == seqs[2:]  # the next page starts below the given entry
    views = _audit(env.engine, before, "audit.view")
    assert len(views) == 3 and {v.actor for v in views} == {f"user:{env.users['city-admin'].name}"}
    before = _head(env.engine)
    with login_session(env.base, env.users["commander"]) as s:
        assert s.get(f"{env.base}/audit", timeout=10).status_code == 403
    assert _audit(env.engine, before, "audit.view") == []


# -- area tools (issue 7): selection, patrol, assessment, what-if -----------------------------
def _tool_samples(env: Env) -> dict[str, dict[str, Any]]:
    """A plausible request per area-tool callback, about district A."""
    cams = _cameras(env.engine, env.a_ids)
    cam, (lon, lat) = next(iter(cams.items()))
    with env.engine.connect() as conn:
        a_geom = json.loads(conn.execute(text(
            "SELECT ST_AsGeoJSON(geom) FROM jurisdictions WHERE code = :c"), {"c": env.a}
        ).scalar_one())  # fmt: skip
    poly = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
            "coordinates": a_geom["coordinates"][0]}}  # fmt: skip
    return {
        _key("..sel-title", env.app): {"draw-control.geojson": {"features": [poly]}},
        _key("..video-grid.hidden", env.app): {"sel-open-grid.n_clicks": 1,
                                               "sel-data.data": {"cameras": [cam]}},
        _key("..patrol-picked.data", env.app): {"patrol-clear.n_clicks": 1},
        _key("..patrol-message", env.app): {"patrol-save.n_clicks": 1, "patrol-name.value": "p",
                                            "patrol-interval.value": 10,
                                            "patrol-picked.data": [cam]},
        _key("..patrol-state", env.app): {"patrol-stop.n_clicks": 1},
        "assessment-table.children": {"assessment-table.id": "assessment-table"},
        _key("..wi-move-camera", env.app): {"cameras-layer.clickData": _feature(cam, lon, lat),
                                            "wi-mode.value": "move"},
        _key("..wi-job", env.app): {"wi-poll.n_intervals": 1, "wi-job.data": None},
        _key("..traj-layer", env.app): _traj_values("NOBODY-1"),
        "traj-details.children": {"traj-sightings.clickData": _feature(cam, lon, lat)},
    }  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_only_the_area_tools_of_its_actions(env: Env, role: str) -> None:
    with login_session(env.base, env.users[role]) as s:
        for key, values in _tool_samples(env).items():
            action = CALLBACKS[HASH.sub("", key)][0]
            r = _post(s, env, key, values)
            if role in PERMISSIONS[action]:
                assert r.status_code in (200, 204), (role, key, _txt(r)[:300])
            else:
                assert r.status_code == 403, (role, key)
        layout = s.get(f"{env.base}/_dash-layout", timeout=30).text
        assert '"sel-section"' in layout
        assert ('"patrol-section"' in layout) == (role in PERMISSIONS["video"])
        assert ('"assessment-section"' in layout) == (role in PERMISSIONS["coverage"])
        assert ('"assessment-export"' in layout) == (role in PERMISSIONS["export"] and
                                                     role in PERMISSIONS["coverage"])
        assert ('"what-if-section"' in layout) == (role in PERMISSIONS["analyse"])
        assert ('"traj-section"' in layout) == (role in PERMISSIONS["trajectory"])


def test_district_a_gets_nothing_of_district_b_from_the_area_tools(env: Env) -> None:
    from store import patrols
    from store.users import principal_of_name

    b_cams = _cameras(env.engine, env.b_ids, clearance=10)
    b_ids = sorted(b_cams)
    b_id, (blon, blat) = next(iter(b_cams.items()))
    with env.engine.connect() as conn:
        b_geom = json.loads(conn.execute(text(
            "SELECT ST_AsGeoJSON(geom) FROM jurisdictions WHERE code = :c"), {"c": env.b}
        ).scalar_one())  # fmt: skip
        b_codes = set(conn.execute(text("SELECT code FROM jurisdictions WHERE id = ANY(:b)"),
                                   {"b": env.b_ids}).scalars())  # fmt: skip
        b_principal = principal_of_name(conn, env.users["commander-b"].name)
    assert b_principal is not None
    with env.engine.begin() as conn:
        b_patrol = patrols.save(conn, b_principal, "B patrol", b_ids[:4], 5)

    def leaks(r: requests.Response) -> list[str]:
        assert r.status_code == 200, _txt(r)[:300]
        body = _txt(r)
        return [d for d in b_ids if d in body] + (["stream URL"] if "/streams/" in body else [])

    b_poly = {"type": "Polygon", "coordinates": b_geom["coordinates"][0]}
    line = {"type": "LineString", "coordinates": [list(b_cams[d]) for d in b_ids[:5]]}
    with login_session(env.base, env.users["admin"]) as s:  # district A's admin: every action
        # Selection: B's jurisdiction is refused; a polygon over B holds none of B's cameras.
        sel = _key("..sel-title", env.app)
        r = _post(s, env, sel, {"sel-jurisdiction.value": env.b_ids[0]})
        assert not leaks(r) and "outside your jurisdiction" in _txt(r)
        r = _post(s, env, sel, {"draw-control.geojson": {"features": [
            {"type": "Feature", "properties": {}, "geometry": b_poly}]}})
        assert not leaks(r)
        # The grid of a selection the browser claims holds B's cameras: no URL.
        r = _post(s, env, _key("..video-grid.hidden", env.app),
                  {"sel-open-grid.n_clicks": 1, "sel-data.data": {"cameras": b_ids}})
        assert not leaks(r)
        # Patrol: picking, the area's or the route's cameras of B are dropped.
        pick = _key("..patrol-picked.data", env.app)
        r = _post(s, env, pick, {"cameras-layer.clickData": _feature(b_id, blon, blat),
                                 "patrol-pick.value": ["on"], "patrol-picked.data": []})
        assert not leaks(r)
        r = _post(s, env, pick, {"patrol-from-area.n_clicks": 1,
                                 "sel-data.data": {"cameras": b_ids}})
        assert not leaks(r)
        r = _post(s, env, pick, {"patrol-from-route.n_clicks": 1, "draw-control.geojson": {
            "features": [{"type": "Feature", "properties": {}, "geometry": line}]}})
        assert r.status_code in (200, 204) and not [d for d in b_ids if d in _txt(r)]
        # Saving B's cameras: refused, nothing stored; listing: not B's patrol.
        before = _count_patrols(env)
        save = _key("..patrol-message", env.app)
        r = _post(s, env, save, {"patrol-save.n_clicks": 1, "patrol-name.value": "steal",
                                 "patrol-interval.value": 10, "patrol-picked.data": b_ids})
        assert not leaks(r) and "no camera of your jurisdiction" in _txt(r)
        assert _count_patrols(env) == before
        r = _post(s, env, save, {"patrol-message.id": "patrol-message"})
        assert "B patrol" not in _txt(r)
        r = _post(s, env, save, {"patrol-delete.n_clicks": 1, "patrol-list.value": b_patrol.id})
        assert "no such patrol" in _txt(r) and _count_patrols(env) == before
        # Running B's patrol by its id: no such patrol, no stream.
        run = _key("..patrol-state", env.app)
        r = _post(s, env, run, {"patrol-run.n_clicks": 1, "patrol-list.value": b_patrol.id})
        assert not leaks(r) and "no such patrol" in _txt(r)
        r = _post(s, env, run, {"patrol-tick.n_intervals": 3,
                                "patrol-state.data": {"patrol": b_patrol.id, "step": 0}})
        assert not leaks(r)
        # Assessment: A's jurisdictions only, in the table and the export.
        r = _post(s, env, "assessment-table.children",
                  {"assessment-table.id": "assessment-table"})
        codes = set(re.findall(r'"data-code": "([^"]+)"', _txt(r)))
        assert codes and not codes & b_codes
        head = _head(env.engine)
        r = s.get(f"{env.base}/export/assessment.csv", timeout=30)
        assert r.status_code == 200
        rows = r.content.decode("utf-8-sig").splitlines()
        exported = {line.split(",")[1] for line in rows[1:]}
        assert exported == codes
        (entry,) = _audit(env.engine, head, "export")
        assert entry.actor == f"user:{env.users['admin'].name}" and entry.outcome == "ok"
        # What-if: moving B's camera or placing one in B is refused.
        choose = _key("..wi-move-camera", env.app)
        r = _post(s, env, choose, {"cameras-layer.clickData": _feature(b_id, blon, blat),
                                   "wi-mode.value": "move"})
        assert "not a camera of your jurisdiction" in _txt(r)
        wi = _key("..wi-job", env.app)
        marker = {"type": "Feature", "properties": {},
                  "geometry": {"type": "Point", "coordinates": [blon, blat]}}
        for values in ({"wi-mode.value": "add"}, {"wi-mode.value": "move",
                                                  "wi-move-camera.data": b_id}):
            r = _post(s, env, wi, {"wi-run.n_clicks": 1, "draw-control.geojson":
                                   {"features": [marker]}, **values})
            assert "jurisdiction" in _txt(r) and not _audit(env.engine, head, "coverage.run")


def _count_patrols(env: Env) -> int:
    with env.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM patrols")).scalar_one())


def _traj_values(ref: str, case_ref: str = "CASE-SEC-1") -> dict[str, Any]:
    return {"traj-query.n_clicks": 1, "traj-object.value": ref,
            "traj-from.value": "2026-10-01T00:00:00Z", "traj-to.value": "2026-10-02T00:00:00Z",
            "traj-case.value": case_ref, "traj-purpose.value": "security test"}  # fmt: skip


def test_district_a_gets_nothing_of_district_b_sightings(env: Env, tmp_path: Path) -> None:
    """An object seen alternately by district A's and district B's cameras: A's investigator
    gets A's sightings only (the query's answer, the export); B's exports stay B's."""
    import datetime as dt

    import pandas as pd

    from importers import sighting_demo
    from importers.sightings import import_sightings
    from store.scope import cli_principal

    a_ids = sorted(_cameras(env.engine, env.a_ids))[:3]
    b_ids = sorted(_cameras(env.engine, env.b_ids))[:3]
    assert len(a_ids) == len(b_ids) == 3
    ref = "IDOR-TRAJ-1"
    t0 = dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)
    devices = [d for pair in zip(a_ids, b_ids, strict=True) for d in pair]
    df = pd.DataFrame({"device_id": devices, "object_ref": ref, "direction": None,
                       "confidence": 0.9,
                       "seen_at": [t0 + dt.timedelta(minutes=2 * i) for i in range(6)]})
    sighting_demo.write_csv(df[["device_id", "seen_at", "object_ref", "direction",
                                "confidence"]], tmp_path / "s.csv")  # fmt: skip
    import_sightings(env.engine, tmp_path / "s.csv", cli_principal())
    key = _key("..traj-layer", env.app)
    try:
        with login_session(env.base, env.users["investigator"]) as s:
            head = _head(env.engine)
            r = _post(s, env, key, _traj_values(ref))
            body = _txt(r)
            assert r.status_code == 200 and f"{ref}: 3 sightings" in body
            assert all(d in body for d in a_ids) and not [d for d in b_ids if d in body]
            (entry,) = _audit(env.engine, head, "trajectory.query")
            assert entry.actor == f"user:{env.users['investigator'].name}"
            assert json.loads(entry.details)["sightings"] == 3
            export = re.search(r"/trajectory/export/[A-Za-z0-9_-]+/csv", body)
            assert export is not None
            csv_text = s.get(f"{env.base}{export.group(0)}", timeout=30).text
            assert all(d in csv_text for d in a_ids) and not [d for d in b_ids if d in csv_text]
            # without a case reference: refused, one refused entry, nothing of the object
            head = _head(env.engine)
            r = _post(s, env, key, _traj_values(ref, case_ref=" "))
            assert "refused (case_ref)" in _txt(r) and not [d for d in devices if d in _txt(r)]
            assert [e.outcome for e in _audit(env.engine, head, "trajectory.query")] == \
                ["refused"]  # fmt: skip
        # another user (B's commander may export, not query) cannot use A's export key
        with login_session(env.base, env.users["commander-b"]) as s:
            r = s.get(f"{env.base}{export.group(0)}", timeout=30)
            assert r.status_code == 404 and not [d for d in devices if d in r.text]
            assert _post(s, env, key, _traj_values(ref)).status_code == 403
    finally:
        with env.engine.begin() as conn:
            conn.execute(text("DELETE FROM sightings WHERE object_ref = :o"), {"o": ref})
