"""Long API jobs (coverage and what-if runs, placement proposals): a bounded worker, their
state in the store (``api_jobs``), and ``GET /jobs``, ``GET /jobs/{id}``.

A job is accepted with 202 and ``Location: /jobs/{id}``; it waits in a queue for one of
:data:`JOB_WORKERS` worker threads (a run uses both cores already: more at once only share
them), reports its phase and the share done from the run's progress callback, and ends
``done`` with a link to its result or ``failed`` with RFC 9457 problem details. Every change
is written to the store at once, so a restarted API finds the jobs it was running and reports
them as failed (:func:`store.jobs.fail_interrupted`, on startup). A principal sees its own
jobs only; an admin sees all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from api.app import ENGINE, ROUTE_ACTIONS, problem
from api.auth import authorized
from store import jobs as store_jobs
from store.scope import Principal

log = logging.getLogger(__name__)

JOB_WORKERS = 1
"""Jobs running at once (the rest queue): a coverage run already uses both cores."""
MAX_PAGE = 100

Progress = Callable[[str], None]
Work = Callable[[Progress], dict[str, Any]]


class JobFailed(Exception):
    """A job that ends with a problem the client can act on (HTTP ``status``, the fields)."""

    def __init__(self, status: int, title: str, detail: str, fields: list[str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.fields = status, title, detail, fields or []

    def problem(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "about:blank", "title": self.title,
                               "status": self.status, "detail": self.detail}  # fmt: skip
        if self.fields:
            out["invalid_params"] = self.fields
        return out


def fraction_of(weights: Mapping[str, float]) -> Callable[[str], float]:
    """Share of a run done when it enters ``phase`` (the message's first word), from the
    phases' typical weights in order; an unknown phase keeps the last known share."""
    names = list(weights)
    total = sum(weights.values()) or 1.0
    before = {n: sum(weights[m] for m in names[:i]) / total for i, n in enumerate(names)}
    last = [0.0]

    def share(message: str) -> float:
        key = message.split(" (", 1)[0].split(" ", 1)[0]
        if key in before:
            last[0] = max(last[0], before[key])
        return last[0]

    return share


class JobRunner:
    """The bounded worker: ``JOB_WORKERS`` threads; state changes go to ``api_jobs``."""

    def __init__(self, engine: Engine, workers: int = JOB_WORKERS) -> None:
        self.engine = engine
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sightline-job")
        self.futures: dict[int, Future[None]] = {}
        self._lock = threading.Lock()  # submit() runs in request threads

    def submit(self, principal: Principal, kind: str, parameters: dict[str, Any], work: Work,
               weights: Mapping[str, float]) -> int:  # fmt: skip
        """Record a queued job and hand it to the worker (call from a thread); its id."""
        with self.engine.begin() as conn:
            job_id = store_jobs.create_job(conn, principal, kind, parameters)
        with self._lock:
            for done in [j for j, f in self.futures.items() if f.done()]:
                del self.futures[done]  # the store keeps their outcome
            self.futures[job_id] = self.pool.submit(self._run, job_id, work,
                                                    fraction_of(weights))  # fmt: skip
        return job_id

    def _run(self, job_id: int, work: Work, share: Callable[[str], float]) -> None:
        with self.engine.begin() as conn:
            store_jobs.mark_running(conn, job_id)

        def progress(message: str) -> None:
            with self.engine.begin() as conn:
                store_jobs.set_progress(conn, job_id, message, share(message))

        try:
            result = work(progress)
        except JobFailed as exc:
            error = exc.problem()
        except ValueError as exc:  # the domain errors of the runs (what-if, placement ...)
            error = JobFailed(422, "Cannot run", str(exc)).problem()
        except Exception as exc:  # noqa: BLE001 - reported to the client and logged, not lost
            log.exception("job %s failed", job_id)
            error = JobFailed(500, "Job failed", f"{type(exc).__name__}: {exc}").problem()
        else:
            with self.engine.begin() as conn:
                store_jobs.finish(conn, job_id, result)
            return
        with self.engine.begin() as conn:
            store_jobs.fail(conn, job_id, error)

    def wait(self, job_id: int, timeout_s: float | None = None) -> None:
        """Block until the job has ended (tests, scripts in-process)."""
        with self._lock:
            future = self.futures.get(job_id)
        if future is not None:
            future.result(timeout_s)

    def close(self) -> None:
        """Stop taking jobs; queued ones are dropped (failed as interrupted at next start)."""
        self.pool.shutdown(wait=False, cancel_futures=True)


JOBS = web.AppKey("jobs", JobRunner)


def _default(o: Any) -> Any:
    return o.isoformat() if isinstance(o, dt.datetime | dt.date) else str(o)


def json_dumps(o: Any) -> str:
    """JSON with times as ISO 8601 (RFC 3339) and anything else as text."""
    return json.dumps(o, ensure_ascii=False, default=_default)


def jobs_ctx(workers: int = JOB_WORKERS) -> Callable[[web.Application], AsyncIterator[None]]:
    """cleanup_ctx: on start, fail the jobs a previous process left queued or running and
    start the worker; on stop, stop it."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        engine = app[ENGINE]

        def interrupted() -> list[int]:
            with engine.begin() as conn:
                return store_jobs.fail_interrupted(conn)

        ids = await asyncio.to_thread(interrupted)
        if ids:
            log.warning("jobs %s were interrupted by a restart: marked failed", ids)
        app[JOBS] = JobRunner(engine, workers)
        yield
        app[JOBS].close()

    return ctx


def job_body(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it: status, progress, links to itself and its result."""
    links = [{"rel": "self", "href": f"/jobs/{job['id']}", "type": "application/json"}]
    result = job.get("result") or {}
    if job["status"] == "done" and result.get("href"):
        links.append({"rel": "result", "href": result["href"], "type": "application/json"})
    return {
        "id": job["id"], "kind": job["kind"], "status": job["status"], "owner": job["owner"],
        "progress": {"phase": job["phase"], "fraction": round(float(job["fraction"]), 3)},
        "parameters": job["parameters"], "created_at": job["created_at"],
        "started_at": job["started_at"], "finished_at": job["finished_at"],
        "result": job["result"], "error": job["error"], "links": links,
    }  # fmt: skip


def accepted(request: web.Request, job: dict[str, Any]) -> web.Response:
    """202 Accepted with ``Location`` naming the job."""
    return web.json_response(job_body(job), status=202, dumps=json_dumps,
                             headers={"Location": f"/jobs/{job['id']}"})  # fmt: skip


async def get_job(request: web.Request) -> web.Response:
    """GET /jobs/{id}: the job's status, progress, result link or error (own jobs only)."""
    try:
        job_id = int(request.match_info["id"])
    except ValueError:
        job_id = -1
    job = await authorized(request, request.app[ENGINE], ROUTE_ACTIONS["GET", "/jobs/{id}"],
                           lambda conn, p: store_jobs.get_job(conn, p, job_id))  # fmt: skip
    if job is None:
        return problem(404, "Not Found", f"no job {request.match_info['id']} of yours")
    return web.json_response(job_body(job), dumps=json_dumps)


class BadParam(ValueError):
    """A bad query parameter: its name and what is wrong."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name

    def response(self) -> web.Response:
        return problem(400, "Bad query", str(self), invalid_params=[self.name])


def page_params(request: web.Request, key: str, default: int = 20,
                maximum: int = MAX_PAGE) -> tuple[int | None, int]:  # fmt: skip
    """(keyset, limit) of a paged list (a larger limit is served as ``maximum``)."""
    q = request.query
    try:
        limit = int(q.get("limit", default))
    except ValueError:
        limit = 0
    if limit < 1:
        raise BadParam("limit", f"limit must be a positive integer (at most {maximum})")
    try:
        mark = int(q[key]) if key in q else None
    except ValueError:
        raise BadParam(key, f"{key} must be an integer (take it from a next link)") from None
    return mark, min(limit, maximum)


async def list_jobs(request: web.Request) -> web.Response:
    """GET /jobs[?limit=&before=]: the token's jobs (an admin: all), newest first, paged."""
    engine, action = request.app[ENGINE], ROUTE_ACTIONS["GET", "/jobs"]
    try:
        before, limit = page_params(request, "before")
    except BadParam as exc:
        await authorized(request, engine, action, lambda c, p: None)  # 401/403 first
        return exc.response()
    rows = await authorized(request, engine, action,
                            lambda conn, p: store_jobs.list_jobs(conn, p, before=before,
                                                                  limit=limit))  # fmt: skip
    links = [{"rel": "self", "href": str(request.rel_url)}]
    if len(rows) == limit:
        links.append({"rel": "next", "href": f"/jobs?limit={limit}&before={rows[-1]['id']}"})
    return web.json_response({"jobs": [job_body(j) for j in rows], "links": links},
                             dumps=json_dumps)  # fmt: skip
