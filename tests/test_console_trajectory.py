"""Issue 9 in the REAL console: a trajectory query from the map for a case — routed hops
(flagged ones red), numbered sightings, unseen corridors, the time slider and playback, click
for the device and its live stream, the hops table and audited exports.

A demo city of its own in PostGIS with a coverage run and generated sightings
(``importers.sighting_demo``, seeded), headless Chromium, the app built with the real service
(``analysis.trajectory``). Checked independently: what the browser draws equals
``analysis.trajectory.query`` called directly; the routed roads are the generator's ground
truth; the audit log holds exactly one ``trajectory.query`` entry per console query; a
district investigator sees only the sightings of its district's devices (SQL over the
jurisdiction tree).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from analysis import trajectory as atraj
from app import create_app
from importers import sighting_demo
from importers.sightings import import_sightings
from store import sightings as ss
from store.cluster import LocalCluster
from store.scope import EVERYTHING, cli_principal
from store.users import principal_of_name
from tests import console_tools as ct
from tests.console_auth import User, district_codes, login_session, make_user
from tests.test_sightings_import import own_city

pytestmark = pytest.mark.browser

T0, T1 = "2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z"
HOPS_JS = """() => {
    const m = document.getElementById("map").sightlineMap;
    const out = {hops: [], sightings: [], corridors: 0, cursor: null};
    m.eachLayer((l) => {
        const p = l.feature && l.feature.properties;
        if (p && p.kind === "hop") {
            out.hops.push({hop: p.hop, flags: p.flags, road_ids: p.road_ids,
                           path: l.feature.geometry.coordinates,
                           color: l.options.color});
        } else if (p && p.kind === "sighting") {
            out.sightings.push({n: p.n, device_id: p.device_id, seen_at: p.seen_at});
        } else if (p && p.road_id !== undefined && l.options.dashArray === "6 6") {
            out.corridors += 1;
        }
        if (l.options && l.options.className === "sl-traj-cursor") {
            const c = l.getLatLng();
            out.cursor = [c.lng, c.lat, l.options.opacity];
        }
    });
    out.hops.sort((a, b) => a.hop - b.hop);
    out.sightings.sort((a, b) => a.n - b.n);
    return out;
}"""


@dataclass
class Env:
    engine: Engine
    fleet: list[sighting_demo.Vehicle]
    city: ct.Browser
    city_user: User
    district: ct.Browser
    district_user: User
    district_code: str
    base: str


@pytest.fixture(scope="module")
def town(pg_cluster: LocalCluster) -> Iterator[Engine]:
    yield from own_city(pg_cluster, "console_traj", coverage=True)


@pytest.fixture(scope="module")
def env(town: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with town.connect() as conn:
        f = ss.network_frames(conn, EVERYTHING)
    df, fleet = sighting_demo.generate(f.roads, f.devices, f.visible, vehicles=6, seed=3)
    path = tmp_path_factory.mktemp("demo") / "s.csv"
    sighting_demo.write_csv(df, path)
    import_sightings(town, path, cli_principal())
    city_user = make_user(town, "investigator", prefix="traj")
    code = _busiest_district(town)
    district_user = make_user(town, "investigator", code, prefix="traj")
    app = create_app(ct.settings(), town, trajectory_service=atraj)
    with ct.console(town, [city_user, district_user], app=app) as (c, d):
        yield Env(town, fleet, c, city_user, d, district_user, code, c.base)


def _district_devices(engine: Engine, code: str) -> set[str]:
    """Device ids of cameras and checkpoints in district ``code`` or its sub-units."""
    with engine.connect() as conn:
        return set(conn.execute(text("""
            WITH RECURSIVE j AS (SELECT id FROM jurisdictions WHERE code = :c
                                 UNION SELECT k.id FROM jurisdictions k
                                 JOIN j ON k.parent_id = j.id)
            SELECT device_id FROM cameras WHERE jurisdiction_id IN (SELECT id FROM j)
            UNION SELECT device_id FROM checkpoints WHERE jurisdiction_id IN (SELECT id FROM j)
        """), {"c": code}).scalars())  # fmt: skip


def _busiest_district(engine: Engine) -> str:
    with engine.connect() as conn:
        counts = {c: int(conn.execute(text(
            "SELECT count(*) FROM sightings s LEFT JOIN cameras c ON c.id = s.camera_id "
            "LEFT JOIN checkpoints k ON k.id = s.checkpoint_id "
            "WHERE coalesce(c.device_id, k.device_id) = ANY(:d)"),
            {"d": sorted(_district_devices(engine, c))}).scalar_one())
            for c in district_codes(engine)}  # fmt: skip
    return max(counts, key=lambda c: counts[c])


def _entries(engine: Engine, action: str, target: str | None = None) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT actor, outcome, details::jsonb->>'case_ref', details::jsonb->>'field' "
            "FROM audit_log WHERE action = :a AND (CAST(:t AS text) IS NULL OR target = :t) "
            "ORDER BY seq"), {"a": action, "t": target})]  # fmt: skip


def _fill(b: ct.Browser, ref: str, case_ref: str = "CASE-CONSOLE-9",
          purpose: str = "console test") -> None:  # fmt: skip
    page = b.page
    ct.open_tool(page, "traj")
    for sel, value in (("#traj-object", ref), ("#traj-from", T0), ("#traj-to", T1),
                       ("#traj-case", case_ref), ("#traj-purpose", purpose)):  # fmt: skip
        page.fill(sel, value)


def _query(b: ct.Browser, ref: str) -> dict[str, Any]:
    _fill(b, ref)
    b.page.wait_for_selector("#traj-query:not([disabled])", timeout=5_000)
    b.page.click("#traj-query")
    b.page.wait_for_function(
        "(ref) => (document.getElementById('traj-status').textContent || '').startsWith(ref)",
        arg=ref, timeout=30_000)  # fmt: skip
    b.page.wait_for_timeout(300)
    return dict(b.page.evaluate(HOPS_JS))


def _direct(engine: Engine, who_name: str | None, ref: str) -> dict[str, Any]:
    with engine.begin() as conn:
        who = cli_principal() if who_name is None else principal_of_name(conn, who_name)
        assert who is not None
        res = atraj.query(conn, who, ref, T0, T1, "CASE-DIRECT", "the test's own check")
    assert isinstance(res, dict)
    return res


def _truth(engine: Engine, v: sighting_demo.Vehicle, seen: list[dict[str, Any]]
           ) -> tuple[set[int], set[int]]:  # fmt: skip
    """The generator's roads: all of its trips, and each trip trimmed to its first and last
    sighting (what a routed trajectory can know)."""
    with engine.connect() as conn:
        net = atraj.network(conn)
    g = net.graph.graph
    every: set[int] = set()
    trimmed: set[int] = set()
    for trip in v.trips:
        every |= set(trip.road_ids)
        lo, hi = trip.times_s[0] - 30, trip.times_s[-1] + 30
        mine = [s for s in seen if lo <= dt.datetime.fromisoformat(s["seen_at"]).timestamp() <= hi
                and s["device_id"] in net.device_nodes]  # fmt: skip
        if len(mine) < 2:
            continue
        first = net.device_nodes[mine[0]["device_id"]]
        last = net.device_nodes[mine[-1]["device_id"]]
        i, j = trip.nodes.index(first), len(trip.nodes) - 1 - trip.nodes[::-1].index(last)
        trimmed |= {g.edges[a, b]["road_id"]
                    for a, b in zip(trip.nodes[i:j], trip.nodes[i + 1 : j + 1], strict=True)}
    return every, trimmed


def test_query_draws_the_routed_trajectory_with_flags_and_corridors(
    env: Env, artefacts_dir: Path
) -> None:
    v = max(env.fleet, key=lambda x: (len(x.trips), x.object_ref))
    before = _entries(env.engine, "trajectory.query", v.object_ref)
    drawn = _query(env.city, v.object_ref)
    after = _entries(env.engine, "trajectory.query", v.object_ref)
    # exactly one entry for the console query, by the user, with the case reference
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert after[-1][:3] == (f"user:{env.city_user.name}", "ok", "CASE-CONSOLE-9")
    # the same principal (its scope: jurisdiction and clearance), the backend called directly
    direct = _direct(env.engine, env.city_user.name, v.object_ref)
    assert len(drawn["hops"]) == len(direct["hops"]) >= 2
    assert [h["flags"] for h in drawn["hops"]] == [h["flags"] for h in direct["hops"]]
    # a one-node route (two sightings on one graph node) is drawn as that node twice
    assert [h["path"] for h in drawn["hops"]] == \
        [h["path"] * (2 if len(h["path"]) == 1 else 1) for h in direct["hops"]]  # fmt: skip
    assert [s["device_id"] for s in drawn["sightings"]] == \
        [s["device_id"] for s in direct["sightings"]]  # fmt: skip
    flagged = [h for h in drawn["hops"] if h["flags"]]
    assert all(h["color"] == "#d7301f" for h in flagged)
    assert all(h["color"] != "#d7301f" for h in drawn["hops"] if not h["flags"])
    if len(v.trips) > 1:  # parked between trips: a long gap with its unseen corridor
        assert any("long_gap" in h["flags"] for h in drawn["hops"])
        assert drawn["corridors"] == len(direct["corridor_roads"]) > 0
    # the table: one row per hop, flags as drawn
    rows = env.city.page.eval_on_selector_all(
        "#traj-table tr.sl-traj-row", "(rs) => rs.map((r) => r.dataset.flags)")
    assert rows == [",".join(h["flags"]) for h in direct["hops"]]
    # the route is the generator's ground truth
    every, trimmed = _truth(env.engine, v, direct["sightings"])
    got = {r for h in drawn["hops"] for r in h["road_ids"]}
    recall, precision = len(trimmed & got) / len(trimmed), len(got & every) / len(got)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    env.city.page.screenshot(path=str(artefacts_dir / "console-trajectory.png"))
    assert env.city.errors == []


def test_the_slider_and_play_move_the_cursor_along_the_route(
    env: Env, artefacts_dir: Path
) -> None:
    v = max(env.fleet, key=lambda x: (len(x.trips), x.object_ref))
    drawn = _query(env.city, v.object_ref)
    page = env.city.page
    handle = "#traj-slider [role=slider]"
    page.focus(handle)
    page.keyboard.press("End")
    page.wait_for_timeout(400)
    end = page.evaluate(HOPS_JS)["cursor"]
    last = drawn["hops"][-1]["path"][-1]
    assert end[2] == 1 and abs(end[0] - last[0]) < 1e-6 and abs(end[1] - last[1]) < 1e-6
    assert page.inner_text("#traj-clock").endswith(f"hop {len(drawn['hops'])}")
    # the current hop (the last) is highlighted
    colors = [h["color"] for h in page.evaluate(HOPS_JS)["hops"]]
    assert colors[-1] == "#ffb000" and "#ffb000" not in colors[:-1]
    page.keyboard.press("Home")
    page.wait_for_timeout(400)
    start = page.evaluate(HOPS_JS)["cursor"]
    first = drawn["hops"][0]["path"][0]
    assert abs(start[0] - first[0]) < 1e-6 and abs(start[1] - first[1]) < 1e-6
    clock0 = page.inner_text("#traj-clock")
    page.click("#traj-play")
    page.wait_for_timeout(2_000)
    moved = page.evaluate(HOPS_JS)["cursor"]
    assert (moved[0], moved[1]) != (start[0], start[1]) and page.inner_text("#traj-clock") != clock0
    # the cursor stays on the drawn route (a vertex segment of some hop)
    assert _near_route(moved[:2], drawn["hops"]) < 1e-6
    page.screenshot(path=str(artefacts_dir / "console-trajectory-playback.png"))
    page.click("#traj-play")  # pause
    # a click on a row of the hops table puts the cursor in that hop
    page.click("#traj-table tr.sl-traj-row[data-hop='2']")
    page.wait_for_function(
        "() => (document.getElementById('traj-clock').textContent || '').endsWith('hop 3')",
        timeout=5_000)  # fmt: skip
    assert page.evaluate(HOPS_JS)["hops"][2]["color"] == "#ffb000"
    assert "Play" in page.inner_text("#traj-play")


def test_the_cursor_is_where_the_time_puts_it_on_the_route(env: Env) -> None:
    """At a time inside a hop the cursor is at that share of the hop's time along its routed
    path — checked with shapely in UTM 32N (metres), not the browser's arithmetic."""
    import shapely
    from pyproj import Transformer

    v = max(env.fleet, key=lambda x: (len(x.trips), x.object_ref))
    drawn = _query(env.city, v.object_ref)
    direct = _direct(env.engine, env.city_user.name, v.object_ref)
    times = [dt.datetime.fromisoformat(x["seen_at"]).timestamp() for x in direct["sightings"]]
    start = min(times)
    to_utm = Transformer.from_crs(4326, ct.METRIC_CRS, always_xy=True)
    to_deg = Transformer.from_crs(ct.METRIC_CRS, 4326, always_xy=True)
    page = env.city.page
    box = page.locator("#traj-slider input[type=number]")
    checked = 0
    for h, d in zip(direct["hops"], drawn["hops"], strict=True):
        t0, t1 = times[h["from_sighting"]], times[h["to_sighting"]]
        if len(h["path"]) < 3 or t1 - t0 < 20 or checked >= 3:
            continue
        value = int(round((t0 + t1) / 2 - start))
        share = (start + value - t0) / (t1 - t0)
        line = shapely.LineString([to_utm.transform(x, y) for x, y in h["path"]])
        p = line.interpolate(share, normalized=True)
        want = to_deg.transform(p.x, p.y)
        box.fill(str(value))
        box.press("Enter")
        page.wait_for_function(
            "(n) => (document.getElementById('traj-clock').textContent || '').endsWith('hop ' + n)",
            arg=d["hop"] + 1, timeout=5_000)  # fmt: skip
        page.wait_for_timeout(200)
        got = page.evaluate(HOPS_JS)["cursor"]
        assert abs(got[0] - want[0]) < 2e-6 and abs(got[1] - want[1]) < 2e-6, (got, want)
        checked += 1
    assert checked == 3


def _near_route(p: list[float], hops: list[dict[str, Any]]) -> float:
    best = 1.0
    for h in hops:
        for (x0, y0), (x1, y1) in zip(h["path"][:-1], h["path"][1:], strict=True):
            dx, dy = x1 - x0, y1 - y0
            d2 = dx * dx + dy * dy
            u = 0.0 if d2 == 0 else max(0.0, min(1.0, ((p[0] - x0) * dx + (p[1] - y0) * dy) / d2))
            best = min(best, ((p[0] - x0 - u * dx) ** 2 + (p[1] - y0 - u * dy) ** 2) ** 0.5)
    return best


def test_clicking_a_sighting_shows_the_device_and_its_stream(env: Env) -> None:
    v = max(env.fleet, key=lambda x: (len(x.trips), x.object_ref))
    _query(env.city, v.object_ref)
    direct = _direct(env.engine, env.city_user.name, v.object_ref)
    page = env.city.page
    for want in ("camera", "checkpoint"):
        s = next((x for x in direct["sightings"] if x["device_kind"] == want), None)
        if s is None:
            continue
        ct.set_view(page, s["lat"], s["lon"], 19)
        page.mouse.click(*ct.to_page(page, s["lon"], s["lat"]))  # a real click on its number
        page.wait_for_selector(f"#traj-details [data-device='{s['device_id']}']",
                               timeout=10_000)  # fmt: skip
        if want == "camera":  # its live stream (or why not) in the video panel
            page.wait_for_function(
                "(d) => (document.getElementById('video-panel').textContent || '').includes(d)",
                arg=s["device_id"], timeout=10_000)  # fmt: skip
            assert page.query_selector("#video-panel #video-player, #video-panel .sl-video-"
                                       "refused") is not None  # fmt: skip
    assert env.city.errors == []


def test_clicking_a_flagged_hop_names_its_flag(env: Env, artefacts_dir: Path) -> None:
    v = max(env.fleet, key=lambda x: (len(x.trips), x.object_ref))
    drawn = _query(env.city, v.object_ref)
    direct = _direct(env.engine, env.city_user.name, v.object_ref)
    page = env.city.page
    k, hop = next((k, h) for k, h in enumerate(drawn["hops"]) if h["flags"]
                  and len(h["path"]) > 2)  # fmt: skip
    # a real click on a vertex in the middle of the hop's route
    lon, lat = hop["path"][len(hop["path"]) // 2]
    ct.set_view(page, lat, lon, 19)
    page.mouse.click(*ct.to_page(page, lon, lat))
    to = direct["sightings"][direct["hops"][k]["to_sighting"]]["device_id"]
    page.wait_for_selector(f"#traj-details [data-device='{to}']", timeout=10_000)
    text_ = page.inner_text("#traj-details")
    assert all(f in text_ for f in hop["flags"]) and "km/h" in text_
    # the trajectory's click is not also a click on the map (the first-response point panel)
    assert page.is_hidden("#point-panel")
    page.screenshot(path=str(artefacts_dir / "console-trajectory-hop.png"))


def _kind(engine: Engine, device_id: str) -> str:
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM cameras WHERE device_id = :d"),
                         {"d": device_id}).scalar_one()  # fmt: skip
    return "camera" if n else "checkpoint"


def test_without_a_case_reference_nothing_is_queried(env: Env) -> None:
    v = env.fleet[0]
    page = env.city.page
    before = _entries(env.engine, "trajectory.query")
    _fill(env.city, v.object_ref, case_ref="  ")
    page.wait_for_timeout(300)
    assert page.is_disabled("#traj-query")  # the form refuses to submit
    page.click("#traj-query", force=True)
    page.fill("#traj-case", "CASE-X")
    page.fill("#traj-purpose", "")
    page.wait_for_timeout(300)
    assert page.is_disabled("#traj-query")
    assert _entries(env.engine, "trajectory.query") == before
    # the server refuses too (a forged callback), with one refused entry as the backend does
    s = login_session(env.base, env.city_user)
    r = _post_query(s, env.base, v.object_ref, case_ref="")
    assert r.status_code == 200 and "refused (case_ref)" in r.text
    after = _entries(env.engine, "trajectory.query")
    assert after[len(before):] == [(f"user:{env.city_user.name}", "refused", "", "case_ref")]


def test_a_bad_window_is_refused_in_the_panel_and_audited_once(env: Env) -> None:
    page = env.city.page
    before = _entries(env.engine, "trajectory.query", "BAD-WINDOW-1")
    _fill(env.city, "BAD-WINDOW-1")
    page.fill("#traj-to", "soon")
    page.click("#traj-query")
    page.wait_for_function(
        "() => (document.getElementById('traj-status').textContent || '').includes('refused')",
        timeout=15_000)  # fmt: skip
    assert "refused (to)" in page.inner_text("#traj-status")
    after = _entries(env.engine, "trajectory.query", "BAD-WINDOW-1")
    assert after[len(before):] == [(f"user:{env.city_user.name}", "refused", "CASE-CONSOLE-9",
                                    "to")]  # fmt: skip


def test_the_unseen_corridors_are_a_layer_to_switch_off(env: Env) -> None:
    v = max(env.fleet, key=lambda x: (len(x.trips), x.object_ref))
    drawn = _query(env.city, v.object_ref)
    assert drawn["corridors"] > 0
    page = env.city.page
    box = page.locator(".leaflet-control-layers-overlays label",
                       has_text="Unseen corridors").locator("input")
    box.uncheck()
    page.wait_for_timeout(300)
    assert page.evaluate(HOPS_JS)["corridors"] == 0 and page.evaluate(HOPS_JS)["hops"]
    box.check()
    page.wait_for_timeout(300)
    assert page.evaluate(HOPS_JS)["corridors"] == drawn["corridors"]


QUERY_OUTPUT = ("..traj-layer.children...traj-corridors.children...traj-data.data..."
                "traj-slider.max...traj-slider.value...traj-slider.disabled...traj-play.disabled"
                "...traj-table.children...traj-exports.children...traj-status.children..")


def _post_query(s: Any, base: str, ref: str, *, case_ref: str = "CASE-HTTP",
                purpose: str = "http test") -> Any:  # fmt: skip
    values = {"traj-query": ("n_clicks", 1), "traj-object": ("value", ref),
              "traj-from": ("value", T0), "traj-to": ("value", T1),
              "traj-case": ("value", case_ref), "traj-purpose": ("value", purpose)}  # fmt: skip
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in QUERY_OUTPUT.strip(".").split("...")]  # fmt: skip
    body = {"output": QUERY_OUTPUT, "outputs": outputs,
            "inputs": [{"id": "traj-query", "property": "n_clicks", "value": 1}],
            "changedPropIds": ["traj-query.n_clicks"],
            "state": [{"id": k, "property": p, "value": val} for k, (p, val) in values.items()
                      if k != "traj-query"]}  # fmt: skip
    return s.post(f"{base}/_dash-update-component", json=body,
                  headers={"X-CSRFToken": s.cookies.get("_csrf_token")}, timeout=30)


def test_a_district_investigator_sees_only_its_district(env: Env) -> None:
    mine = _district_devices(env.engine, env.district_code)
    # a vehicle seen both inside and outside the district
    v = next(x for x in env.fleet
             if {s["device_id"] for s in _direct(env.engine, None, x.object_ref)["sightings"]}
             - mine and mine & {s["device_id"]
                                for s in _direct(env.engine, None, x.object_ref)["sightings"]})
    whole = _direct(env.engine, None, v.object_ref)
    drawn = _query(env.district, v.object_ref)
    expected = [s["device_id"] for s in whole["sightings"] if s["device_id"] in mine]
    assert [s["device_id"] for s in drawn["sightings"]] == expected
    assert len(expected) < len(whole["sightings"])
    direct = _direct(env.engine, env.district_user.name, v.object_ref)
    assert len(drawn["hops"]) == len(direct["hops"])
    # the city user's result cannot be exported by the district user (its key is not theirs)
    _query(env.city, v.object_ref)
    href = env.city.page.get_attribute("#traj-export-csv", "href")
    assert href
    s = login_session(env.base, env.district_user)
    r = s.get(f"{env.base}{href}", timeout=10)
    assert r.status_code == 404 and v.object_ref not in r.text


def test_exports_download_and_are_audited(env: Env, artefacts_dir: Path) -> None:
    v = max(env.fleet, key=lambda x: (len(x.trips), x.object_ref))
    drawn = _query(env.city, v.object_ref)
    page = env.city.page
    before = len(_entries(env.engine, "export"))
    files = {}
    for fmt in ("geojson", "gpx", "csv"):
        with page.expect_download(timeout=15_000) as dl:
            page.click(f"#traj-export-{fmt}")
        files[fmt] = artefacts_dir / f"console-trajectory.{fmt}"
        dl.value.save_as(files[fmt])
    gj = json.loads(files["geojson"].read_text(encoding="utf-8"))
    assert gj["properties"]["case_ref"] == "CASE-CONSOLE-9"
    assert sum(f["properties"]["kind"] == "hop" for f in gj["features"]) == len(drawn["hops"])
    assert files["gpx"].read_text().count("<wpt ") == len(drawn["sightings"])
    assert files["csv"].read_bytes().decode("utf-8-sig").count("\n") == len(drawn["sightings"]) + 1
    exports = _entries(env.engine, "export")[before:]
    assert [(a, o, c) for a, o, c, _ in exports] == \
        [(f"user:{env.city_user.name}", "ok", "CASE-CONSOLE-9")] * 3  # fmt: skip


def test_the_summary_says_when_only_a_first_page_came_back() -> None:
    from pages.trajectory import summary

    r = {"object_ref": "X-1", "sightings": [{}] * 1000, "hops": [], "flags": {"long_gap": 2},
         "corridor_roads": [], "next_after": "2026-11-02T10:00:00+00:00"}
    assert "only the first 1000 sightings" in summary(r) and "long_gap 2" in summary(r)
    assert "only the first" not in summary({**r, "next_after": None})


def test_a_hop_without_a_route_is_drawn_between_its_devices() -> None:
    from layers.trajectory import drawn_path

    a, b = {"lon": 7.41, "lat": 43.73}, {"lon": 7.42, "lat": 43.74}
    assert drawn_path({"path": []}, a, b) == [[7.41, 43.73], [7.42, 43.74]]  # no_route
    assert drawn_path({"path": [[7.0, 43.0]]}, a, b) == [[7.0, 43.0], [7.0, 43.0]]
    assert drawn_path({"path": [[7.0, 43.0], [7.1, 43.1]]}, a, b) == [[7.0, 43.0], [7.1, 43.1]]
