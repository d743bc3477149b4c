"""Analysis over the HTTP API: coverage and what-if runs, placement proposals and their
acceptance, and reading coverage runs' results, each inside the token's jurisdiction.

Starting a run or a proposal answers 202 with the job (:mod:`api.jobs`); the run itself writes
its ``coverage.run`` / ``placement.propose`` audit entry under the token, as the CLI does. A
district token's what-if may change only cameras of its district and add cameras inside it;
its proposals are for its own units; its view of a run is its units' assessment rows.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import Connection

from api.app import ENGINE, ROUTE_ACTIONS, problem
from api.auth import authorized, require
from api.devices import Invalid
from api.jobs import JOBS, BadParam, JobFailed, accepted, json_dumps, page_params
from store import jobs as store_jobs
from store import results
from store.scope import Principal

RUN_FIELDS = {"what_if", "target_height_m", "unknown_azimuth"}
WHAT_IF_NUMBERS = ("azimuth_deg", "tilt_deg", "mount_height_m", "focal_length_mm", "hfov_deg",
                   "sensor_width_mm", "sensor_height_mm", "resolution_w_px", "resolution_h_px")
"""Camera fields a what-if may set on an added or moved camera (numbers)."""
ASSESSMENT_KINDS = ("key_area", "key_area_class", "jurisdiction")
MAX_ASSESSMENT_PAGE = 1000


# -- bodies ----------------------------------------------------------------------------------
async def _json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object of the body ({} when empty)."""
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise Invalid(400, "the body is not JSON", ["body"]) from None
    if not isinstance(data, dict):
        raise Invalid(400, "the body must be a JSON object", ["body"])
    return data


def _number(data: Mapping[str, Any], key: str, where: str, lo: float, hi: float) -> float:
    v = data[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise Invalid(422, f"{where}{key} must be a number", [f"{where}{key}"])
    if not lo <= float(v) <= hi:
        raise Invalid(422, f"{where}{key} must be in [{lo:g}, {hi:g}], got {v}", [f"{where}{key}"])
    return float(v)


def _unknown(data: Mapping[str, Any], known: set[str] | tuple[str, ...], where: str) -> None:
    extra = sorted(set(data) - set(known))
    if extra:
        raise Invalid(422, f"unknown field(s) {', '.join(where + k for k in extra)}; known: "
                      f"{', '.join(sorted(known))}", [where + k for k in extra])  # fmt: skip


def _camera_fields(cam: Mapping[str, Any], where: str, *, added: bool) -> None:
    known = {"lon", "lat", *WHAT_IF_NUMBERS} | ({"device_id", "name", "camera_type"}
                                               if added else set())  # fmt: skip
    _unknown(cam, known, where)
    for key in ("lon", "lat"):
        if key in cam:
            _number(cam, key, where, -180 if key == "lon" else -90, 180 if key == "lon" else 90)
    for key in WHAT_IF_NUMBERS:
        if key in cam and cam[key] is not None:
            _number(cam, key, where, -360, 100_000)


def parse_what_if(data: Any) -> dict[str, Any]:
    """A what-if object ({"add": [...], "move": {id: {...}}, "remove": [id]}, the format of
    :func:`analysis.coverage_run.load_what_if`), checked field by field.

    Raises
    ------
    api.devices.Invalid
        422 naming the first bad field (``what_if.add[2].lon`` ...).
    """
    if not isinstance(data, dict):
        raise Invalid(422, 'what_if must be an object with "add", "move" and/or "remove"',
                      ["what_if"])  # fmt: skip
    _unknown(data, ("add", "move", "remove"), "what_if.")
    add, move, remove = data.get("add", []), data.get("move", {}), data.get("remove", [])
    if not isinstance(add, list):
        raise Invalid(422, "what_if.add must be a list of cameras", ["what_if.add"])
    if not isinstance(move, dict):
        raise Invalid(422, "what_if.move must map device ids to changes", ["what_if.move"])
    if not isinstance(remove, list) or not all(isinstance(d, str) for d in remove):
        raise Invalid(422, "what_if.remove must be a list of device ids", ["what_if.remove"])
    for i, cam in enumerate(add):
        where = f"what_if.add[{i}]."
        if not isinstance(cam, dict):
            raise Invalid(422, f"what_if.add[{i}] must be an object", [f"what_if.add[{i}]"])
        for key in ("device_id", "lon", "lat"):
            if key not in cam:
                raise Invalid(422, f"{where}{key} is required", [where + key])
        if not isinstance(cam["device_id"], str) or not cam["device_id"]:
            raise Invalid(422, f"{where}device_id must be a text", [where + "device_id"])
        _camera_fields(cam, where, added=True)
    for device_id, change in move.items():
        where = f"what_if.move.{device_id}."
        if not isinstance(change, dict):
            raise Invalid(422, f"what_if.move.{device_id} must be an object",
                          [f"what_if.move.{device_id}"])  # fmt: skip
        _camera_fields(change, where, added=False)
    return {"add": add, "move": move, "remove": remove}


def check_what_if_scope(conn: Connection, principal: Principal, what_if: dict[str, Any]) -> None:
    """A what-if may change only cameras the principal sees and add or move cameras only
    inside its jurisdiction (403 naming the field otherwise)."""
    scope = principal.scope
    ids = [*what_if["remove"], *what_if["move"]]
    if ids:
        mine = results.cameras_in_scope(conn, ids, scope)
        for i, d in enumerate(what_if["remove"]):
            if d not in mine:
                raise Invalid(422, f"what_if.remove[{i}]: no camera {d!r} in your jurisdiction",
                              [f"what_if.remove[{i}]"])  # fmt: skip
        for d in what_if["move"]:
            if d not in mine:
                raise Invalid(422, f"what_if.move: no camera {d!r} in your jurisdiction",
                              [f"what_if.move.{d}"])  # fmt: skip
    places = [(f"what_if.add[{i}]", (c["lon"], c["lat"])) for i, c in enumerate(what_if["add"])]
    places += [(f"what_if.move.{d}", (c["lon"], c["lat"])) for d, c in what_if["move"].items()
               if "lon" in c and "lat" in c]  # fmt: skip
    inside = results.points_in_scope(conn, [p for _, p in places], scope)
    for (name, _), ok in zip(places, inside, strict=True):
        if not ok:
            raise Invalid(403, f"{name}: the place is outside your jurisdiction "
                          f"{scope.root_code}", [f"{name}.lon", f"{name}.lat"])  # fmt: skip


def parse_run(data: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters of a coverage run body (see :data:`RUN_FIELDS`)."""
    _unknown(data, RUN_FIELDS, "")
    out: dict[str, Any] = {"target_height_m": 0.0, "unknown_azimuth": "skip", "what_if": None}
    if data.get("target_height_m") is not None:
        out["target_height_m"] = _number(data, "target_height_m", "", 0.0, 10.0)
    if "unknown_azimuth" in data:
        if data["unknown_azimuth"] not in ("skip", "ring"):
            raise Invalid(422, 'unknown_azimuth must be "skip" or "ring"', ["unknown_azimuth"])
        out["unknown_azimuth"] = data["unknown_azimuth"]
    if data.get("what_if") is not None:
        out["what_if"] = parse_what_if(data["what_if"])
    return out


# -- coverage runs ---------------------------------------------------------------------------
COVERAGE_WEIGHTS: dict[str, float] = {}


def _coverage_weights() -> dict[str, float]:
    if not COVERAGE_WEIGHTS:
        from analysis.coverage_run import PHASES

        COVERAGE_WEIGHTS.update(PHASES)
    return COVERAGE_WEIGHTS


async def start_coverage_run(request: web.Request) -> web.Response:
    """POST /coverage/runs {what_if?, target_height_m?, unknown_azimuth?}: 202 + the job."""
    engine, action = request.app[ENGINE], ROUTE_ACTIONS["POST", "/coverage/runs"]
    runner = request.app[JOBS]
    try:
        data = await _json_body(request)
        params = parse_run(data)
    except Invalid as exc:
        await require(request, engine, action)
        return exc.response()

    def start(conn: Connection, principal: Principal) -> dict[str, Any] | Invalid:
        if params["what_if"] is not None:
            try:
                check_what_if_scope(conn, principal, params["what_if"])
            except Invalid as exc:
                return exc
        return {"principal": principal}

    checked = await authorized(request, engine, action, start)
    if isinstance(checked, Invalid):
        return checked.response()
    principal: Principal = checked["principal"]

    def work(progress: Any) -> dict[str, Any]:
        from analysis.coverage_run import run_coverage

        report = run_coverage(engine, what_if=params["what_if"],
                              target_height_m=params["target_height_m"],
                              unknown_azimuth=params["unknown_azimuth"], workers=2,
                              progress=progress, principal=principal)  # fmt: skip
        return {"run_id": report.run_id, "href": f"/coverage/runs/{report.run_id}",
                "totals": report.totals, "timings_s": report.timings_s}  # fmt: skip

    weights = _coverage_weights()

    def submit() -> dict[str, Any]:
        job_id = runner.submit(principal, "coverage.what_if" if params["what_if"] else
                               "coverage.run", params, work, weights)  # fmt: skip
        with engine.connect() as conn:
            job = store_jobs.get_job(conn, principal, job_id)
        assert job is not None
        return job

    return accepted(request, await asyncio.to_thread(submit))


def _run_body(run: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A run as a principal may see it: a district gets no city-wide totals and no what-if
    contents (which may name other districts' cameras)."""
    whole = principal.scope.whole_city
    params = dict(run["parameters"] or {})
    if not whole and params.get("what_if") is not None:
        params["what_if"] = "(changes not shown outside the whole city's scope)"
    out = {"id": run["id"], "status": run["status"], "what_if": bool(run["what_if"]),
           "started_at": run["started_at"], "finished_at": run["finished_at"],
           "parameters": params,
           "links": [{"rel": "self", "href": f"/coverage/runs/{run['id']}"}]}  # fmt: skip
    if whole:
        res = dict(run["results"] or {})
        res.pop("entry_roads_status", None)  # per road: a list as long as the city's entries
        out["totals"] = res
        out["timings_s"] = run["timings"]
    return out


async def list_coverage_runs(request: web.Request) -> web.Response:
    """GET /coverage/runs[?limit=&before=]: coverage runs, newest first, paged."""
    engine, action = request.app[ENGINE], ROUTE_ACTIONS["GET", "/coverage/runs"]
    try:
        before, limit = page_params(request, "before")
    except BadParam as exc:
        await require(request, engine, action)
        return exc.response()
    rows, principal = await authorized(
        request, engine, action,
        lambda conn, p: (results.list_runs(conn, before=before, limit=limit), p))
    links = [{"rel": "self", "href": str(request.rel_url)}]
    if len(rows) == limit:
        links.append({"rel": "next",
                      "href": f"/coverage/runs?limit={limit}&before={rows[-1]['id']}"})
    return web.json_response({"runs": [_run_body(r, principal) for r in rows], "links": links},
                             dumps=json_dumps)  # fmt: skip


async def get_coverage_run(request: web.Request) -> web.Response:
    """GET /coverage/runs/{id}[?kind=&limit=&after=]: parameters, totals (whole city) and one
    page of the assessment rows inside the token's jurisdiction."""
    engine, action = request.app[ENGINE], ROUTE_ACTIONS["GET", "/coverage/runs/{id}"]
    try:
        run_id = int(request.match_info["id"])
        after, limit = page_params(request, "after", default=MAX_ASSESSMENT_PAGE,
                                   maximum=MAX_ASSESSMENT_PAGE)  # fmt: skip
        kind = request.query.get("kind")
        if kind is not None and kind not in ASSESSMENT_KINDS:
            raise BadParam("kind", f"kind must be one of {', '.join(ASSESSMENT_KINDS)}")
    except (BadParam, ValueError) as exc:
        await require(request, engine, action)
        if isinstance(exc, BadParam):
            return exc.response()
        return problem(404, "Not Found", f"no coverage run {request.match_info['id']}")

    def read(conn: Connection, p: Principal) -> tuple[Any, Any, Principal]:
        run = results.get_run(conn, run_id)
        rows = None if run is None else results.assessment_page(
            conn, run_id, p.scope, after=after, limit=limit, kind=kind)  # fmt: skip
        return run, rows, p

    run, rows, principal = await authorized(request, engine, action, read)
    if run is None:
        return problem(404, "Not Found", f"no coverage run {run_id}")
    body = _run_body(run, principal)
    body["assessment"] = rows
    if len(rows) == limit:
        q = f"&kind={kind}" if kind else ""
        body["links"].append({"rel": "next", "href": f"/coverage/runs/{run_id}?limit={limit}"
                              f"&after={rows[-1]['id']}{q}"})  # fmt: skip
    return web.json_response(body, dumps=json_dumps)


# -- placement -------------------------------------------------------------------------------
PLACEMENT_WEIGHTS = {"coverage": 60.0, "read": 5.0, "demand": 5.0, "candidates": 5.0,
                     "coverage_matrix": 70.0, "solve": 10.0, "write": 5.0}  # fmt: skip
"""Typical shares of a proposal's phases (``coverage`` only when no run is stored)."""
_PLACEMENT_NUMBERS: dict[str, tuple[float, float]] = {
    "time_limit_s": (0.1, 120.0), "spacing_m": (1.0, 1000.0), "road_weight_per_m": (0.0, 1e6),
    "entry_weight": (0.0, 1e9), "alarm_factor": (0.0, 1e3), "azimuth_step_deg": (5.0, 360.0),
    "pole_spacing_m": (5.0, 1000.0), "facade_spacing_m": (5.0, 1000.0),
    "reach_m": (10.0, 1000.0),
}  # fmt: skip
PROPOSAL_FIELDS = {"cameras", "cover_all", "jurisdiction", "method", "seed", "lenses",
                   "road_level", *_PLACEMENT_NUMBERS}  # fmt: skip


def parse_proposal(data: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters of a placement body, checked field by field (422 naming the field)."""
    from gis import placement_sites as psites

    _unknown(data, PROPOSAL_FIELDS, "")
    out: dict[str, Any] = {}
    if "cameras" in data:
        v = data["cameras"]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 500:
            raise Invalid(422, "cameras must be an integer in [1, 500]", ["cameras"])
        out["cameras"] = v
    if "cover_all" in data:
        if not isinstance(data["cover_all"], bool):
            raise Invalid(422, "cover_all must be true or false", ["cover_all"])
        out["cover_all"] = data["cover_all"]
    if "method" in data:
        if data["method"] not in ("greedy", "ilp"):
            raise Invalid(422, 'method must be "greedy" or "ilp"', ["method"])
        out["method"] = data["method"]
    if "road_level" in data:
        if data["road_level"] not in ("detect", "observe", "recognise", "identify"):
            raise Invalid(422, "road_level must be a DORI level", ["road_level"])
        out["road_level"] = data["road_level"]
    if "seed" in data:
        if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
            raise Invalid(422, "seed must be an integer", ["seed"])
        out["seed"] = data["seed"]
    if data.get("jurisdiction") is not None:
        if not isinstance(data["jurisdiction"], str):
            raise Invalid(422, "jurisdiction must be a jurisdiction code", ["jurisdiction"])
        out["jurisdiction"] = data["jurisdiction"]
    if "lenses" in data:
        known = {ln.key: ln for ln in psites.DEFAULT_LENSES}
        v = data["lenses"]
        if not isinstance(v, list) or not v or not all(k in known for k in v):
            raise Invalid(422, f"lenses must be a list of lens keys: {', '.join(known)}",
                          ["lenses"])  # fmt: skip
        out["lenses"] = list(v)
    for key, (lo, hi) in _PLACEMENT_NUMBERS.items():
        if key in data:
            out[key] = _number(data, key, "", lo, hi)
    return out


async def start_proposal(request: web.Request) -> web.Response:
    """POST /placement/proposals {cameras?, jurisdiction?, ...}: 202 + the job. A district
    token plans for its own units only (default: its unit)."""
    engine, action = request.app[ENGINE], ROUTE_ACTIONS["POST", "/placement/proposals"]
    runner = request.app[JOBS]
    try:
        params = parse_proposal(await _json_body(request))
    except Invalid as exc:
        await require(request, engine, action)
        return exc.response()

    def start(conn: Connection, p: Principal) -> Principal | Invalid:
        codes = results.codes_in_scope(conn, p.scope)
        code = params.get("jurisdiction")
        if code is None and codes is not None:
            params["jurisdiction"] = p.scope.root_code
        elif code is not None and not results.jurisdiction_known(conn, code):
            return Invalid(422, f"no jurisdiction with code {code!r}", ["jurisdiction"])
        elif code is not None and codes is not None and code not in codes:
            return Invalid(403, f"jurisdiction {code} is outside your jurisdiction "
                           f"{p.scope.root_code}", ["jurisdiction"])  # fmt: skip
        return p

    checked = await authorized(request, engine, action, start)
    if isinstance(checked, Invalid):
        return checked.response()
    principal = checked

    def work(progress: Any) -> dict[str, Any]:
        from analysis import placement_run as pr
        from gis import placement_sites as psites

        kwargs = dict(params)
        if "lenses" in kwargs:
            kwargs["lenses"] = [ln for ln in psites.DEFAULT_LENSES
                                if ln.key in set(kwargs["lenses"])]  # fmt: skip
        try:
            report = pr.propose(engine, workers=2, progress=progress, principal=principal,
                                **kwargs)  # fmt: skip
        except pr.PlacementRunError as exc:
            raise JobFailed(422, "Cannot propose", str(exc)) from exc
        pid = report.proposal_id
        return {"proposal_id": pid, "href": f"/placement/proposals/{pid}",
                "coverage_run_id": report.coverage_run_id, "figures": report.figures,
                "timings_s": report.timings_s}  # fmt: skip

    def submit() -> dict[str, Any]:
        job_id = runner.submit(principal, "placement.propose", params, work, PLACEMENT_WEIGHTS)
        with engine.connect() as conn:
            job = store_jobs.get_job(conn, principal, job_id)
        assert job is not None
        return job

    return accepted(request, await asyncio.to_thread(submit))


def _proposal_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        return -1


async def get_proposal(request: web.Request) -> web.Response:
    """GET /placement/proposals/{id}: the proposal and its sites inside the token's
    jurisdiction (404 for a proposal of another unit)."""
    engine = request.app[ENGINE]
    pid = _proposal_id(request)
    prop = await authorized(request, engine, ROUTE_ACTIONS["GET", "/placement/proposals/{id}"],
                            lambda conn, p: results.get_proposal(conn, pid, p.scope))  # fmt: skip
    if prop is None:
        return problem(404, "Not Found", f"no placement proposal {request.match_info['id']} "
                       "in your jurisdiction")  # fmt: skip
    res = dict(prop.pop("results") or {})
    prop["figures"] = res.get("figures")
    prop["solver"] = res.get("solver")
    prop["links"] = [{"rel": "self", "href": f"/placement/proposals/{pid}"},
                     {"rel": "accept", "href": f"/placement/proposals/{pid}/accept",
                      "method": "POST"}]  # fmt: skip
    if prop["coverage_run_id"] is not None:
        prop["links"].append({"rel": "coverage-run",
                              "href": f"/coverage/runs/{prop['coverage_run_id']}"})
    return web.json_response(prop, dumps=json_dumps)


async def accept_proposal(request: web.Request) -> web.Response:
    """POST /placement/proposals/{id}/accept {"ranks": [..]?}: the proposal's sites (those
    ranks, or all not yet accepted) become cameras; one ``placement.accept`` entry."""
    from analysis.placement_run import accept
    from store.placement import ProposalError

    engine = request.app[ENGINE]
    action = ROUTE_ACTIONS["POST", "/placement/proposals/{id}/accept"]
    pid = _proposal_id(request)
    try:
        data = await _json_body(request)
        _unknown(data, ("ranks",), "")
        ranks = data.get("ranks")
        if ranks is not None and (not isinstance(ranks, list) or not all(
                isinstance(r, int) and not isinstance(r, bool) for r in ranks)):  # fmt: skip
            raise Invalid(422, "ranks must be a list of site ranks (integers)", ["ranks"])
    except Invalid as exc:
        await require(request, engine, action)
        return exc.response()
    prop, principal = await authorized(
        request, engine, action, lambda conn, p: (results.get_proposal(conn, pid, p.scope), p))
    if prop is None:
        return problem(404, "Not Found", f"no placement proposal {request.match_info['id']} "
                       "in your jurisdiction")  # fmt: skip
    try:
        added = await asyncio.to_thread(accept, engine, pid, ranks or None, principal)
    except ProposalError as exc:
        msg = str(exc)
        if "outside your jurisdiction" in msg:
            return problem(403, "Forbidden", msg, invalid_params=["ranks"])
        status = 422 if "no site of rank" in msg else 409
        return problem(status, "Cannot accept", msg, invalid_params=["ranks"])
    return web.json_response({"proposal_id": pid, "accepted": added}, dumps=json_dumps)
