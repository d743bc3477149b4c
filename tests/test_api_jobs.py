"""Long jobs over the HTTP API on the demo city: coverage and what-if runs, placement
proposals and acceptance (202 + job URL, progress, result link, problem details naming the
field), the bounded worker, jobs failed by a restart, and each principal's view (its own jobs,
its jurisdiction's rows). Real PostGIS, real HTTP server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
from sqlalchemy import text

from api import app as api_app
from api.jobs import JOBS, JobFailed, JobRunner, fraction_of
from settings import Settings
from store import jobs as store_jobs
from store.scope import Principal, Scope
from store.tokens import create_token
from tests.fake_cameras import GatewayThread
from tests.test_api_features import CLEARANCE, Reply, Town, call, make_town

# coarse placement (one lens, 90-degree steps, sparse sites and demand): the same code paths
FAST = {"cameras": 3, "lenses": ["12mm"], "azimuth_step_deg": 90.0, "pole_spacing_m": 60.0,
        "facade_spacing_m": 60.0, "spacing_m": 8.0, "reach_m": 80.0}  # fmt: skip


@pytest.fixture(scope="module")
def town(city_url: str) -> Iterator[Town]:
    for t in make_town(city_url):
        with t.engine.begin() as conn:
            for unit in ("city", "a", "b"):
                t.tokens[f"admin:{unit}"] = create_token(
                    conn, f"j-admin-{unit}-{uuid.uuid4().hex[:6]}", user_name=f"admin {unit}",
                    role="admin", jurisdiction_code=None if unit == "city" else t.codes[unit],
                    clearance=CLEARANCE)  # fmt: skip
        yield t


def wait_job(town: Town, location: str, token: str, timeout_s: float = 240) -> dict[str, Any]:
    """Poll a job until it ends; its last state, with every phase seen in ``phases``."""
    url = urljoin(town.api.base, location)
    phases: list[tuple[str, float]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        r = call("GET", url, token)
        assert r.status == 200, r.body
        prog = r.body["progress"]
        if prog["phase"] and (not phases or phases[-1][0] != prog["phase"]):
            phases.append((prog["phase"], prog["fraction"]))
        if r.body["status"] in ("done", "failed"):
            return {**r.body, "phases": phases}
        assert time.monotonic() < deadline, r.body
        time.sleep(0.05)


def start(town: Town, path: str, token: str, body: Any = None) -> Reply:
    return call("POST", town.url(path), token, body if body is not None else {})


def audit_rows(town: Town, action: str, target: str) -> list[Any]:
    return town.sql("SELECT actor, outcome FROM audit_log WHERE action = :a AND target = :t "
                    "ORDER BY seq", a=action, t=target)  # fmt: skip


def token_subject(town: Town, key: str) -> str:
    with town.engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM api_tokens WHERE token_sha256 = "
                                 "encode(sha256(convert_to(:t, 'UTF8')), 'hex')"),
                            {"t": town.tokens[key]}).scalar_one()  # fmt: skip
    return f"token:{name}"


def camera_of(town: Town, unit: str) -> Any:
    return town.sql("SELECT device_id, ST_X(geom) x, ST_Y(geom) y FROM cameras "
                    "WHERE jurisdiction_id = ANY(:u) AND azimuth_deg IS NOT NULL "
                    "ORDER BY device_id LIMIT 1", u=town.units[unit])[0]  # fmt: skip


# -- coverage runs ---------------------------------------------------------------------------
def test_a_coverage_run_is_a_job_with_progress_and_a_result_link(town: Town) -> None:
    r = start(town, "/coverage/runs", town.tokens["planner:city"], {"target_height_m": 0})
    assert r.status == 202, r.body
    location = r.headers["Location"]
    assert location == f"/jobs/{r.body['id']}" and r.body["status"] in ("queued", "running")
    job = wait_job(town, location, town.tokens["planner:city"])
    assert job["status"] == "done" and job["error"] is None, job
    assert job["progress"] == {"phase": "done", "fraction": 1.0}
    fractions = [f for _, f in job["phases"]]
    assert fractions == sorted(fractions)  # progress never goes back
    run_id = job["result"]["run_id"]
    result = next(lk["href"] for lk in job["links"] if lk["rel"] == "result")
    assert result == f"/coverage/runs/{run_id}"
    got = call("GET", urljoin(town.api.base, result), town.tokens["investigator:city"])
    assert got.status == 200 and got.body["id"] == run_id and not got.body["what_if"]
    assert got.body["totals"]["cameras"] == town.sql("SELECT count(*) FROM cameras")[0][0]
    stored = town.sql("SELECT count(*) FROM coverage_stats WHERE run_id = :r", r=run_id)[0][0]
    assert len(got.body["assessment"]) == stored > 0
    # the run wrote its one coverage.run entry under the token that started it
    assert [tuple(a) for a in audit_rows(town, "coverage.run", str(run_id))] == [
        (token_subject(town, "planner:city"), "ok")]


def test_a_district_what_if_run_and_what_each_district_reads_of_it(town: Town) -> None:
    cam = camera_of(town, "a")
    what_if = {"move": {cam.device_id: {"azimuth_deg": 90.0}},
               "add": [{"device_id": "what-if-1", "lon": cam.x, "lat": cam.y,
                        "azimuth_deg": 180.0, "mount_height_m": 5.0}]}  # fmt: skip
    r = start(town, "/coverage/runs", town.tokens["planner:a"], {"what_if": what_if})
    assert r.status == 202, r.body
    job = wait_job(town, r.headers["Location"], town.tokens["planner:a"])
    assert job["status"] == "done", job
    run_id = job["result"]["run_id"]
    url = town.url(f"/coverage/runs/{run_id}")
    city = call("GET", url, town.tokens["investigator:city"]).body
    assert city["what_if"] and city["parameters"]["what_if"]["move"] == what_if["move"]
    b = call("GET", url, town.tokens["investigator:b"]).body
    assert b["what_if"] and "totals" not in b and isinstance(b["parameters"]["what_if"], str)
    # district b's rows only: its jurisdictions' and its key areas' rows, no city-wide classes
    b_codes = {r[0] for r in town.sql("SELECT code FROM jurisdictions WHERE id = ANY(:u)",
                                      u=town.units["b"])}  # fmt: skip
    b_areas = {str(r[0]) for r in town.sql("SELECT id FROM key_areas WHERE jurisdiction_id = "
                                           "ANY(:u)", u=town.units["b"])}  # fmt: skip
    assert b["assessment"]
    for row in b["assessment"]:
        assert row["scope"] != "key_area_class"
        assert row["area_key"] in (b_codes if row["scope"] == "jurisdiction" else b_areas), row
    assert len(city["assessment"]) > len(b["assessment"])
    # the inventory was not changed by the what-if
    assert town.sql("SELECT count(*) FROM cameras WHERE device_id = 'what-if-1'")[0][0] == 0


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"target_height_m": "high"}, 422, "target_height_m"),
    ({"target_height_m": 99}, 422, "target_height_m"),
    ({"unknown_azimuth": "guess"}, 422, "unknown_azimuth"),
    ({"colour": "red"}, 422, "colour"),
    ({"what_if": []}, 422, "what_if"),
    ({"what_if": {"add": [{"device_id": "x", "lon": 7.42}]}}, 422, "what_if.add[0].lat"),
    ({"what_if": {"add": [{"device_id": "x", "lon": 7.42, "lat": 43.73, "zoom": 2}]}}, 422,
     "what_if.add[0].zoom"),
    ({"what_if": {"move": {"123": {"azimuth_deg": "north"}}}}, 422, "what_if.move.123.azimuth_deg"),
    ({"what_if": {"remove": ["00000000000000000000"]}}, 422, "what_if.remove[0]"),
    (b"{not json", 400, "body"),
])  # fmt: skip
def test_a_bad_run_body_is_a_problem_naming_the_field_and_starts_nothing(
    town: Town, body: Any, status: int, field: str
) -> None:
    before = town.sql("SELECT count(*) FROM api_jobs")[0][0]
    r = start(town, "/coverage/runs", town.tokens["planner:city"], body)
    assert r.status == status and r.problem, r.body
    assert field in r.body["invalid_params"], r.body
    assert town.sql("SELECT count(*) FROM api_jobs")[0][0] == before


def test_a_district_what_if_cannot_touch_or_place_cameras_in_another_district(
    town: Town,
) -> None:
    theirs = camera_of(town, "b")
    planner_a = town.tokens["planner:a"]
    before = town.sql("SELECT count(*) FROM api_jobs")[0][0]
    for what_if, status, field in (
        ({"remove": [theirs.device_id]}, 422, "what_if.remove[0]"),
        ({"move": {theirs.device_id: {"tilt_deg": 20}}}, 422, f"what_if.move.{theirs.device_id}"),
        ({"add": [{"device_id": "n", "lon": theirs.x, "lat": theirs.y}]}, 403,
         "what_if.add[0].lon"),
    ):  # fmt: skip
        r = start(town, "/coverage/runs", planner_a, {"what_if": what_if})
        assert r.status == status and field in r.body["invalid_params"], r.body
    assert town.sql("SELECT count(*) FROM api_jobs")[0][0] == before


def test_runs_are_paged_and_roles_are_checked(town: Town) -> None:
    token = town.tokens["investigator:city"]
    n_runs = town.sql("SELECT count(*) FROM coverage_runs")[0][0]
    assert n_runs >= 2
    url, ids = town.url("/coverage/runs", limit=1), []
    while url:
        r = call("GET", url, token)
        assert r.status == 200 and len(r.body["runs"]) <= 1
        ids += [run["id"] for run in r.body["runs"]]
        url = next((urljoin(town.api.base, lk["href"]) for lk in r.body["links"]
                    if lk["rel"] == "next"), "")  # fmt: skip
    assert ids == sorted(ids, reverse=True) and len(ids) == n_runs
    # assessment rows page by keyset without loss or repeat
    run_id = ids[0]
    url, rows = town.url(f"/coverage/runs/{run_id}", limit=7), []
    while url:
        r = call("GET", url, token)
        rows += r.body["assessment"]
        url = next((urljoin(town.api.base, lk["href"]) for lk in r.body["links"]
                    if lk["rel"] == "next"), "")  # fmt: skip
    stored = town.sql("SELECT id FROM coverage_stats WHERE run_id = :r ORDER BY id", r=run_id)
    assert [row["id"] for row in rows] == [s[0] for s in stored]
    assert call("GET", town.url("/coverage/runs", limit="x"), token).body["invalid_params"] == [
        "limit"]
    assert call("GET", town.url("/coverage/runs/999999"), token).status == 404
    # roles: a viewer may not read results, an investigator may not start runs
    assert call("GET", town.url("/coverage/runs"), town.tokens["viewer:city"]).status == 403
    assert start(town, "/coverage/runs", town.tokens["investigator:city"]).status == 403
    assert start(town, "/coverage/runs", None).status == 401


# -- jobs: privacy, worker, failures, restart ------------------------------------------------
def test_a_principal_sees_only_its_own_jobs_and_an_admin_all(town: Town) -> None:
    mine = Principal("token:jobs-privacy-a", "u", "planner")
    with town.engine.begin() as conn:
        job_id = store_jobs.create_job(conn, mine, "coverage.run", {})
        store_jobs.fail(conn, job_id, {"title": "test", "status": 500, "detail": "x"})
    url = town.url(f"/jobs/{job_id}")
    assert call("GET", url, town.tokens["planner:a"]).status == 404  # another token
    assert call("GET", url, town.tokens["admin:city"]).status == 200
    listed = call("GET", town.url("/jobs", limit=100), town.tokens["planner:b"]).body["jobs"]
    assert job_id not in {j["id"] for j in listed}
    assert all(j["owner"] == token_subject(town, "planner:b") for j in listed)
    listed = call("GET", town.url("/jobs", limit=100), town.tokens["admin:city"]).body["jobs"]
    assert job_id in {j["id"] for j in listed}
    assert call("GET", town.url("/jobs/abc"), town.tokens["admin:city"]).status == 404
    assert call("GET", url, None).status == 401


def test_the_worker_runs_one_job_at_a_time_and_reports_failures_as_problems(town: Town) -> None:
    runner = JobRunner(town.engine, workers=1)
    who = Principal("token:worker-test", "u", "planner", Scope())
    gate = threading.Event()

    def blocked(progress: Any) -> dict[str, Any]:
        progress("read")
        gate.wait(30)
        progress("write")
        return {"href": "/coverage/runs/1"}

    def bad(progress: Any) -> dict[str, Any]:
        raise ValueError("remove: unknown device id 123")

    def refused(progress: Any) -> dict[str, Any]:
        raise JobFailed(422, "Cannot propose", "nothing to cover", ["jurisdiction"])

    def broken(progress: Any) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    weights = {"read": 1.0, "write": 1.0}
    try:
        first = runner.submit(who, "coverage.run", {}, blocked, weights)
        others = [runner.submit(who, "coverage.run", {}, w, weights) for w in (bad, refused,
                                                                                broken)]
        deadline = time.monotonic() + 10
        while town.sql("SELECT phase FROM api_jobs WHERE id = :i", i=first)[0][0] != "read":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        states = dict(town.sql("SELECT id, status FROM api_jobs WHERE id = ANY(:i)",
                               i=[first, *others]))  # fmt: skip
        assert states == {first: "running", **{o: "queued" for o in others}}
        gate.set()
        for j in (first, *others):
            runner.wait(j, 30)
        with town.engine.connect() as conn:
            jobs = {j: store_jobs.get_job(conn, Principal("x", "x", "admin"), j)
                    for j in (first, *others)}  # fmt: skip
    finally:
        gate.set()
        runner.close()
    assert jobs[first]["status"] == "done" and jobs[first]["fraction"] == 1.0
    errors = [jobs[o]["error"] for o in others]
    assert [jobs[o]["status"] for o in others] == ["failed"] * 3
    assert [(e["status"], e["title"]) for e in errors] == [
        (422, "Cannot run"), (422, "Cannot propose"), (500, "Job failed")]
    assert "unknown device id 123" in errors[0]["detail"]
    assert errors[1]["invalid_params"] == ["jurisdiction"]
    assert "disk on fire" in errors[2]["detail"]


def test_fraction_follows_the_phase_weights() -> None:
    share = fraction_of({"read": 1.0, "work": 2.0, "write": 1.0})
    assert share("read") == 0.0
    assert share("work (10 x 20)") == 0.25
    assert share("something else") == 0.25  # unknown: keeps the last share
    assert share("write") == 0.75


def test_a_restarted_api_reports_its_interrupted_jobs_as_failed(town: Town) -> None:
    who = Principal(f"token:restart-{uuid.uuid4().hex[:6]}", "u", "planner")
    with town.engine.begin() as conn:
        running = store_jobs.create_job(conn, who, "coverage.run", {})
        store_jobs.mark_running(conn, running)
        queued = store_jobs.create_job(conn, who, "placement.propose", {})
    api = GatewayThread(lambda: api_app.create_app(Settings(), town.engine)).start()
    try:
        assert api.app is not None and isinstance(api.app[JOBS], JobRunner)
        rows = dict(town.sql("SELECT id, status FROM api_jobs WHERE id = ANY(:i)",
                             i=[running, queued]))  # fmt: skip
        assert rows == {running: "failed", queued: "failed"}
        with town.engine.connect() as conn:
            job = store_jobs.get_job(conn, who, running)
        assert job is not None and job["error"]["detail"] == store_jobs.INTERRUPTED
    finally:
        api.stop()


# -- placement -------------------------------------------------------------------------------
def test_a_district_proposal_its_sites_and_their_acceptance(town: Town) -> None:
    planner_a, planner_b = town.tokens["planner:a"], town.tokens["planner:b"]
    # a district plans for its own units only
    r = start(town, "/placement/proposals", planner_b, {**FAST, "jurisdiction": town.codes["a"]})
    assert r.status == 403 and r.body["invalid_params"] == ["jurisdiction"]
    r = start(town, "/placement/proposals", planner_a, {**FAST, "jurisdiction": "nowhere"})
    assert r.status == 422 and r.body["invalid_params"] == ["jurisdiction"]
    r = start(town, "/placement/proposals", planner_a, {**FAST, "cameras": 0})
    assert r.status == 422 and r.body["invalid_params"] == ["cameras"]
    r = start(town, "/placement/proposals", planner_a, {**FAST, "lenses": ["zoom"]})
    assert r.status == 422 and r.body["invalid_params"] == ["lenses"]
    assert start(town, "/placement/proposals", town.tokens["investigator:a"]).status == 403
    r = start(town, "/placement/proposals", planner_a, FAST)  # default: its own district
    assert r.status == 202, r.body
    job = wait_job(town, r.headers["Location"], planner_a, timeout_s=300)
    assert job["status"] == "done", job
    assert job["parameters"]["jurisdiction"] == town.codes["a"]
    pid = job["result"]["proposal_id"]
    url = town.url(f"/placement/proposals/{pid}")
    got = call("GET", url, planner_a)
    assert got.status == 200 and got.body["jurisdiction_code"] == town.codes["a"]
    a_codes = {r[0] for r in town.sql("SELECT code FROM jurisdictions WHERE id = ANY(:u)",
                                      u=town.units["a"])}  # fmt: skip
    sites = got.body["sites"]
    assert sites and {s["jurisdiction_code"] for s in sites} <= a_codes
    assert [tuple(a) for a in audit_rows(town, "placement.propose", str(pid))] == [
        (token_subject(town, "planner:a"), "ok")]
    # district b neither reads nor accepts it
    assert call("GET", url, planner_b).status == 404
    assert call("POST", f"{url}/accept", planner_b, {"ranks": [1]}).status == 404
    assert call("GET", url, town.tokens["admin:city"]).status == 200
    # a accepts rank 1: one camera, one entry; again: 409; an unknown rank: 422
    r = call("POST", f"{url}/accept", planner_a, {"ranks": [sites[0]["rank"]]})
    assert r.status == 200, r.body
    (added,) = r.body["accepted"]
    assert town.sql("SELECT count(*) FROM cameras WHERE device_id = :d",
                    d=added["device_id"])[0][0] == 1  # fmt: skip
    assert len(audit_rows(town, "placement.accept", str(pid))) == 1
    r = call("POST", f"{url}/accept", planner_a, {"ranks": [sites[0]["rank"]]})
    assert r.status == 409 and r.problem
    r = call("POST", f"{url}/accept", planner_a, {"ranks": [999]})
    assert r.status == 422 and r.body["invalid_params"] == ["ranks"]
    r = call("POST", f"{url}/accept", planner_a, {"ranks": "all"})
    assert r.status == 422 and r.body["invalid_params"] == ["ranks"]
    assert len(audit_rows(town, "placement.accept", str(pid))) == 1


def test_the_openapi_document_describes_every_route(town: Town) -> None:
    """Every (method, route) of the app is in the document served at /api (collection routes
    once per collection), with the 401/403/429 answers of a guarded route."""
    from store.features import COLLECTIONS

    assert town.api.app is not None
    doc = call("GET", town.url("/api")).body
    for r in town.api.app.router.routes():
        if r.method == "HEAD" or r.resource is None:
            continue
        path = r.resource.canonical
        paths = [path]  # collection routes: templated, or once per collection
        if "{collectionId}" in path and path not in doc["paths"]:
            paths = [path.replace("{collectionId}", cid) for cid in COLLECTIONS]
        ops = [doc["paths"].get(p, {}).get(r.method.lower()) for p in paths]
        if path.startswith("/collections/{collectionId}/items") and r.method != "GET":
            ops = [o for o in ops if o is not None]  # writes: the writable collections only
        assert ops and all(ops), (r.method, path)
        if (r.method, path) in api_app.ROUTE_ACTIONS:
            assert all({"401", "403", "429"} <= set(o["responses"]) for o in ops), path
