"""The HTTP API app factory: survey uploads, which-cameras lookups (one point or a batch),
OGC API - Features with device writes and alarm intake (:mod:`api.features`, :mod:`api.devices`,
:mod:`api.alarms`), and analysis jobs: coverage and what-if runs, placement proposals
(:mod:`api.analysis`, :mod:`api.jobs`), rate-limited per token (:mod:`api.ratelimit`).

Every route but the public ones (:data:`PUBLIC_ROUTES`: health, the landing page, conformance
and the OpenAPI document, none with data) needs a token (:mod:`api.auth`) whose role may do the
route's action (:data:`ROUTE_ACTIONS`), and answers only with what the token's scope may see.
Errors are RFC 9457 problem+json. Uploads stream to a private temporary directory with a size
limit, then go through the same importer as the CLI, in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
from aiohttp import BodyPartReader, web
from sqlalchemy import Connection, Engine

from analysis.which_cameras import MAX_BATCH_POINTS, IndexCache, WhichCamerasError
from api.auth import authorized, require
from importers.survey.importer import CrsRequiredError, ImportFailed, import_survey
from settings import Settings
from store.scope import Principal

ENGINE = web.AppKey("engine", Engine)
SETTINGS = web.AppKey("settings", Settings)
WHICH_INDEX = web.AppKey("which_index", IndexCache)
KINDS = {"cameras", "checkpoints", "alarm-points", "key-areas", "jurisdictions"}
ROUTE_ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/imports/{kind}"): "import",
    ("GET", "/coverage/which-cameras"): "coverage",
    ("POST", "/coverage/which-cameras"): "coverage",
    # long jobs (api.jobs) and analysis (api.analysis): a principal reads only its own jobs
    ("GET", "/jobs"): "view",
    ("GET", "/jobs/{id}"): "view",
    ("POST", "/coverage/runs"): "analyse",
    ("GET", "/coverage/runs"): "coverage",
    ("GET", "/coverage/runs/{id}"): "coverage",
    ("POST", "/placement/proposals"): "placement",
    ("GET", "/placement/proposals/{id}"): "placement",
    ("POST", "/placement/proposals/{id}/accept"): "placement",
    # OGC API - Features (api.features): reading needs view, coverage results need coverage
    ("GET", "/collections"): "view",
    ("GET", "/collections/{collectionId}"): "view",
    ("GET", "/collections/{collectionId}/queryables"): "view",
    ("GET", "/collections/{collectionId}/items"): "view",
    ("GET", "/collections/{collectionId}/items/{featureId}"): "view",
    ("GET", "/collections/blind-spots/items"): "coverage",
    ("GET", "/collections/blind-spots/items/{featureId}"): "coverage",
    ("GET", "/collections/coverage/items"): "coverage",
    ("GET", "/collections/coverage/items/{featureId}"): "coverage",
    # device writes (api.devices): cameras and checkpoints, validated by the survey importer
    ("POST", "/collections/{collectionId}/items"): "import",
    ("PUT", "/collections/{collectionId}/items/{featureId}"): "import",
    ("DELETE", "/collections/{collectionId}/items/{featureId}"): "import",
    ("POST", "/alarms"): "alarms",
    # one object's sightings, routed (api.trajectory): a case reference, audited
    ("GET", "/trajectories/{object_ref}"): "trajectory",
}
"""(method, route) -> the action (``store.access.PERMISSIONS``) its token must be allowed."""
PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/"), ("GET", "/conformance"), ("GET", "/api")}
"""Routes anyone may call: they return no data."""
_TRUE = {"1", "true", "yes", "on"}


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    """An RFC 9457 problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False, default=str),
        content_type="application/problem+json",
    )


@web.middleware
async def problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Render every HTTP error as problem+json (keeping its headers, e.g. WWW-Authenticate)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        resp = problem(exc.status, exc.reason, exc.text or exc.reason)
        for k, v in exc.headers.items():
            if k.lower() not in ("content-type", "content-length"):
                resp.headers[k] = v
        return resp


def safe_name(filename: str | None) -> str:
    """The last path component of an uploaded file name (no directories, no traversal)."""
    name = PureWindowsPath(PurePosixPath(filename or "upload").name).name
    name = name.replace("\x00", "").strip(". ")
    return name or "upload"


async def _receive(
    request: web.Request, directory: Path, limit: int
) -> tuple[Path, dict[str, str]]:
    """Stream the multipart upload into ``directory``; returns the file and the text fields."""
    reader = await request.multipart()
    fields: dict[str, str] = {}
    saved: Path | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file" and part.filename is not None:
            saved = directory / safe_name(part.filename)
            size = 0
            with saved.open("wb") as fh:
                while chunk := await part.read_chunk(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise web.HTTPRequestEntityTooLarge(
                            max_size=limit, actual_size=size,
                            text=f"upload larger than {limit} bytes (setting upload_max_mb)",
                        )  # fmt: skip
                    fh.write(chunk)
        elif part.name is not None:
            fields[part.name] = (await part.text())[:100_000]
    if saved is None:
        raise web.HTTPBadRequest(text='no file: send multipart/form-data with a "file" field')
    return saved, fields


async def upload_survey(request: web.Request) -> web.Response:
    """POST /imports/{kind}: import an uploaded survey file; query: crs, mode, dry_run ..."""
    engine, settings = request.app[ENGINE], request.app[SETTINGS]
    kind = request.match_info["kind"]
    if kind not in KINDS:
        return problem(
            404, "Not Found", f"unknown kind {kind!r}; one of {', '.join(sorted(KINDS))}"
        )
    principal = await require(request, engine, ROUTE_ACTIONS["POST", "/imports/{kind}"])
    q = request.query
    mode = q.get("mode", "upsert")
    tmp = Path(tempfile.mkdtemp(prefix="sightline-upload-"))
    try:
        path, fields = await _receive(request, tmp, settings.upload_max_mb * 1024 * 1024)
        mapping = json.loads(fields["mapping"]) if fields.get("mapping") else None
        try:
            report = await asyncio.to_thread(
                import_survey, engine, path, kind.replace("-", "_"),
                crs=q.get("crs"), encoding=q.get("encoding"), mapping=mapping, mode=mode,
                skip_invalid=q.get("skip_invalid", "").lower() in _TRUE,
                dry_run=q.get("dry_run", "").lower() in _TRUE,
                fix_geometry=q.get("fix_geometry", "").lower() in _TRUE,
                layer=q.get("layer"), sheet=q.get("sheet"), user=principal.user_name,
                principal=principal,  # rows outside its jurisdiction are refused; audited
            )  # fmt: skip
        except ImportFailed as exc:
            data = exc.report.as_dict()
            return problem(422, "Invalid rows", str(exc).splitlines()[0],
                           errors=data["errors"], counts=data["counts"],
                           import_id=data["import_id"])  # fmt: skip
        except (CrsRequiredError, ValueError) as exc:
            return problem(400, "Bad file", str(exc))
        return web.json_response(report.as_dict(), dumps=lambda o: json.dumps(o, default=str))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _which(
    conn: Connection, principal: Principal, lon: float, lat: float, run: int | None
) -> dict[str, Any]:
    from store.coverage import cameras_seeing, latest_run

    run_id = run or latest_run(conn)
    if run_id is None:
        raise web.HTTPConflict(text="no coverage run yet: run `sightline coverage run`")
    cameras = cameras_seeing(conn, run_id, lon, lat, principal.scope)
    return {"run_id": run_id, "cameras": cameras}


async def which_cameras(request: web.Request) -> web.Response:
    """GET /coverage/which-cameras?lon=&lat=[&run=]: cameras of the token's scope that see
    the point, best first."""
    engine = request.app[ENGINE]
    action = ROUTE_ACTIONS["GET", "/coverage/which-cameras"]
    try:
        lon, lat = float(request.query["lon"]), float(request.query["lat"])
        run = int(request.query["run"]) if "run" in request.query else None
    except (KeyError, ValueError):
        await require(request, engine, action)  # 401/403 before a 400 for strangers
        return problem(400, "Bad query", "give lon and lat in degrees (WGS-84), e.g. "
                       "?lon=7.4246&lat=43.7384", invalid_params=["lon", "lat"])  # fmt: skip
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        await require(request, engine, action)
        return problem(400, "Bad query", "lon must be in [-180, 180] and lat in [-90, 90]",
                       invalid_params=["lon", "lat"])  # fmt: skip
    body = await authorized(
        request, engine, action, lambda conn, principal: _which(conn, principal, lon, lat, run)
    )
    return web.json_response(body)


def _batch_points(data: Any) -> tuple[np.ndarray, np.ndarray, int | None]:
    """lon, lat arrays and the run of a batch body: {"points": [[lon, lat], ...], "run": N}."""
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise WhichCamerasError('send JSON {"points": [[lon, lat], ...]} (optional "run": id)')
    run = data.get("run")
    if run is not None and (isinstance(run, bool) or not isinstance(run, int)):
        raise WhichCamerasError('"run" must be a coverage run id (an integer)')
    pts = data["points"]
    if len(pts) > MAX_BATCH_POINTS:
        raise WhichCamerasError(f"{len(pts):,} points; at most {MAX_BATCH_POINTS:,} per batch")
    try:
        arr = np.asarray(pts, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.empty((0, 0))
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) != len(pts):
        bad = next((i for i, p in enumerate(pts) if not (
            isinstance(p, list) and len(p) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in p))), 0)
        raise WhichCamerasError(f"points[{bad}] must be [lon, lat] in degrees")  # fmt: skip
    return arr[:, 0], arr[:, 1], run


async def which_cameras_batch(request: web.Request) -> web.Response:
    """POST /coverage/which-cameras {"points": [[lon, lat], ...], "run": id?}: every camera
    of the token's scope that sees each point, as a flat list ordered by point, best DORI
    level, distance."""
    engine = request.app[ENGINE]
    principal = await require(request, engine, ROUTE_ACTIONS["POST", "/coverage/which-cameras"])
    try:
        data = await request.json()
    except ValueError:
        return problem(400, "Bad body", "the body is not JSON", invalid_params=["points"])
    cache = request.app[WHICH_INDEX]

    def find(lon: np.ndarray, lat: np.ndarray, run: int | None) -> tuple[int, Any]:
        index = cache.get(run)
        return index.run_id, index.lookup(lon, lat, cache.allowed(index, principal.scope))

    try:
        lon, lat, run = _batch_points(data)
        run_id, found = await asyncio.to_thread(find, lon, lat, run)
    except WhichCamerasError as exc:
        return problem(400 if "no coverage run" not in str(exc) else 409, "Bad batch",
                       str(exc), invalid_params=["points"])  # fmt: skip
    body = {"run_id": run_id, "points": len(lon),
            "points_seen": int(found["point"].nunique()),
            "matches": found.to_dict(orient="records")}  # fmt: skip
    return web.json_response(body, dumps=lambda o: json.dumps(o, default=str))


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, engine: Engine) -> web.Application:
    """The API application (the engine is owned by the caller)."""
    from api.ratelimit import RATE_LIMITS, buckets_for, rate_limit

    app = web.Application(middlewares=[problems, rate_limit],
                          client_max_size=settings.upload_max_mb << 20)  # fmt: skip
    app[ENGINE] = engine
    app[SETTINGS] = settings
    app[WHICH_INDEX] = IndexCache(engine)
    app[RATE_LIMITS] = buckets_for(settings)
    _add_analysis(app)
    app.router.add_get("/health", health)  # public: says the process answers, no data
    app.router.add_post("/imports/{kind}", upload_survey)
    app.router.add_get("/coverage/which-cameras", which_cameras)
    app.router.add_post("/coverage/which-cameras", which_cameras_batch)
    _add_features(app, settings)
    from api import trajectory  # it imports this module's keys and problem()

    app.router.add_get("/trajectories/{object_ref}", trajectory.get_trajectory)
    return app


def _add_analysis(app: web.Application) -> None:
    """Jobs, coverage runs and placement proposals (guards in ROUTE_ACTIONS)."""
    from api import analysis, jobs  # they import this module's keys and problem()

    app.cleanup_ctx.append(jobs.jobs_ctx())
    r = app.router
    r.add_get("/jobs", jobs.list_jobs)
    r.add_get("/jobs/{id}", jobs.get_job)
    r.add_post("/coverage/runs", analysis.start_coverage_run)
    r.add_get("/coverage/runs", analysis.list_coverage_runs)
    r.add_get("/coverage/runs/{id}", analysis.get_coverage_run)
    r.add_post("/placement/proposals", analysis.start_proposal)
    r.add_get("/placement/proposals/{id}", analysis.get_proposal)
    r.add_post("/placement/proposals/{id}/accept", analysis.accept_proposal)


def _add_features(app: web.Application, settings: Settings) -> None:
    """OGC API - Features, device writes and alarm intake (guards in ROUTE_ACTIONS)."""
    from api import alarms, devices, features  # they import this module's keys and problem()

    app[alarms.STREAM_KEY] = alarms.KeyCache(settings)
    r = app.router
    r.add_get("/", features.landing)  # public: links only
    r.add_get("/conformance", features.conformance)  # public
    r.add_get("/api", features.api_document)  # public: the OpenAPI document
    r.add_get("/collections", features.collections)
    # result collections first: they need another action than the generic routes
    for cid in ("blind-spots", "coverage"):
        r.add_get(f"/collections/{cid}/items", features.items)
        r.add_get(f"/collections/{cid}/items/{{featureId}}", features.item)
    r.add_get("/collections/{collectionId}", features.collection)
    r.add_get("/collections/{collectionId}/queryables", features.queryables)
    r.add_get("/collections/{collectionId}/items", features.items)
    r.add_post("/collections/{collectionId}/items", devices.create)
    r.add_get("/collections/{collectionId}/items/{featureId}", features.item)
    r.add_put("/collections/{collectionId}/items/{featureId}", devices.update)
    r.add_delete("/collections/{collectionId}/items/{featureId}", devices.delete)
    r.add_post("/alarms", alarms.post_alarm)
