"""SQL of API jobs: long runs started over the HTTP API, their state, progress and outcome.

A job row is written when the job is accepted (``queued``), updated when it starts, at each
phase of its run and when it ends (``done`` with a result, or ``failed`` with problem details).
Each update is its own short transaction, so a client polling the job sees progress while the
run's own transaction is still open. A job belongs to the principal that started it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from store.scope import Principal

INTERRUPTED = "the API stopped while this job was queued or running; start it again"
_COLUMNS = ("id, kind, status, owner, role, parameters, phase, fraction, result, error, "
            "created_at, started_at, finished_at")  # fmt: skip


def _owned(principal: Principal) -> str:
    """A condition keeping the principal's own jobs (an admin sees everyone's)."""
    return "TRUE" if principal.role == "admin" else "owner = :owner"


def create_job(conn: Connection, principal: Principal, kind: str,
               parameters: dict[str, Any]) -> int:  # fmt: skip
    """A new queued job of ``principal``; returns its id."""
    return int(conn.execute(
        text("INSERT INTO api_jobs (kind, owner, role, parameters) "
             "VALUES (:k, :o, :r, :p) RETURNING id"),
        {"k": kind, "o": principal.subject, "r": principal.role,
         "p": json.dumps(parameters, default=str)},
    ).scalar_one())  # fmt: skip


def mark_running(conn: Connection, job_id: int) -> None:
    conn.execute(text("UPDATE api_jobs SET status = 'running', started_at = now() "
                      "WHERE id = :i AND status = 'queued'"), {"i": job_id})  # fmt: skip


def set_progress(conn: Connection, job_id: int, phase: str, fraction: float) -> None:
    """The job's current phase and its share of the run done (0..1)."""
    conn.execute(text("UPDATE api_jobs SET phase = :ph, fraction = :f WHERE id = :i "
                      "AND status = 'running'"),
                 {"i": job_id, "ph": phase[:200], "f": min(max(float(fraction), 0.0), 1.0)})


def finish(conn: Connection, job_id: int, result: dict[str, Any]) -> None:
    conn.execute(text("UPDATE api_jobs SET status = 'done', finished_at = now(), fraction = 1, "
                      "phase = 'done', result = :r WHERE id = :i"),
                 {"i": job_id, "r": json.dumps(result, default=str)})  # fmt: skip


def fail(conn: Connection, job_id: int, error: dict[str, Any]) -> None:
    """End the job as failed with ``error`` (RFC 9457 problem details)."""
    conn.execute(text("UPDATE api_jobs SET status = 'failed', finished_at = now(), "
                      "error = :e WHERE id = :i"),
                 {"i": job_id, "e": json.dumps(error, default=str)})  # fmt: skip


def fail_interrupted(conn: Connection) -> list[int]:
    """Mark every queued or running job as failed (the process that ran them is gone);
    returns their ids. Called when the API starts: one API process per store runs jobs."""
    error = {"type": "about:blank", "title": "Interrupted", "status": 500, "detail": INTERRUPTED}
    rows = conn.execute(
        text("UPDATE api_jobs SET status = 'failed', finished_at = now(), error = :e "
             "WHERE status IN ('queued', 'running') RETURNING id"),
        {"e": json.dumps(error)},
    ).scalars().all()  # fmt: skip
    return sorted(int(r) for r in rows)


def get_job(conn: Connection, principal: Principal, job_id: int) -> dict[str, Any] | None:
    """One job, if ``principal`` may see it (its own; an admin any)."""
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM api_jobs WHERE id = :i AND {_owned(principal)}"),  # noqa: S608
        {"i": job_id, "owner": principal.subject},
    ).first()  # fmt: skip
    return None if row is None else dict(row._mapping)


def list_jobs(conn: Connection, principal: Principal, *, before: int | None,
              limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The principal's jobs (an admin: all), newest first, ids below ``before``."""
    rows = conn.execute(
        text(f"SELECT {_COLUMNS} FROM api_jobs WHERE {_owned(principal)} "  # noqa: S608
             "AND (CAST(:before AS integer) IS NULL OR id < :before) ORDER BY id DESC LIMIT :n"),
        {"owner": principal.subject, "before": before, "n": limit},
    ).all()  # fmt: skip
    return [dict(r._mapping) for r in rows]
