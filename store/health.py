"""Camera streams and device health (设备故障监测): what to probe, what the probes found, faults.

The latest state per camera is in ``camera_health``; every change of status is a row of
``camera_health_events``; ``cameras.status``/``status_since`` follow, so every map layer that
colours cameras by status shows the probed health.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, select, update
from sqlalchemy.dialects.postgresql import insert

from store.models import Camera, CameraHealth, CameraHealthEvent
from store.scope import Scope


@dataclass(frozen=True)
class CameraStream:
    """A camera as the gateway needs it: ids, name and its stream reference (no credentials)."""

    id: int
    device_id: str
    name: str
    stream_ref: str | None
    status: str


@dataclass(frozen=True)
class ProbeResult:
    """What one probe of one camera found.

    ``status`` is ``online`` (answered and sent a frame), ``offline`` (no answer: refused,
    timed out, unreachable) or ``fault`` (answered but unusable: refused credentials, no such
    stream, no video, no frame). ``reason`` says why when not online.
    """

    camera_id: int
    status: str
    at: dt.datetime
    reason: str | None = None
    codec: str | None = None
    width_px: int | None = None
    height_px: int | None = None
    probe_ms: float | None = None


def _stream(row: Any) -> CameraStream:
    return CameraStream(row.id, row.device_id, row.name, row.stream_ref, row.status)


_COLS = (Camera.id, Camera.device_id, Camera.name, Camera.stream_ref, Camera.status)


def camera_stream(conn: Connection, device_id: str) -> CameraStream | None:
    """The camera with GB/T 28181 id ``device_id``, or None."""
    row = conn.execute(select(*_COLS).where(Camera.device_id == device_id)).first()
    return None if row is None else _stream(row)


def cameras_to_probe(conn: Connection, device_ids: list[str] | None = None) -> list[CameraStream]:
    """Cameras that have a stream reference (all, or those of ``device_ids``), by id."""
    q = select(*_COLS).where(Camera.stream_ref.is_not(None)).order_by(Camera.id)
    if device_ids is not None:
        q = q.where(Camera.device_id.in_(device_ids))
    return [_stream(r) for r in conn.execute(q)]


def record_probes(conn: Connection, results: list[ProbeResult]) -> int:
    """Store probe results; returns how many cameras changed status.

    Upserts ``camera_health``; a changed status (or a camera probed for the first time) adds a
    ``camera_health_events`` row and updates ``cameras.status``/``status_since``.
    """
    if not results:
        return 0
    ids = [r.camera_id for r in results]
    before = dict(
        conn.execute(
            select(CameraHealth.camera_id, CameraHealth.status).where(
                CameraHealth.camera_id.in_(ids)
            )
        ).all()
    )
    rows = [
        {
            "camera_id": r.camera_id,
            "status": r.status,
            "since": r.at,
            "checked_at": r.at,
            "last_seen_at": r.at if r.status == "online" else None,
            "reason": r.reason,
            "codec": r.codec,
            "width_px": r.width_px,
            "height_px": r.height_px,
            "probe_ms": r.probe_ms,
        }  # fmt: skip
        for r in results
    ]
    stmt = insert(CameraHealth).values(rows)
    ex = stmt.excluded
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[CameraHealth.camera_id],
            set_={
                "status": ex.status,
                # Keep the start of the current status; restart it when the status changes.
                "since": case(
                    (CameraHealth.status == ex.status, CameraHealth.since), else_=ex.since
                ),  # fmt: skip
                "checked_at": ex.checked_at,
                "last_seen_at": func.coalesce(ex.last_seen_at, CameraHealth.last_seen_at),
                "reason": ex.reason,
                "codec": func.coalesce(ex.codec, CameraHealth.codec),
                "width_px": func.coalesce(ex.width_px, CameraHealth.width_px),
                "height_px": func.coalesce(ex.height_px, CameraHealth.height_px),
                "probe_ms": ex.probe_ms,
            },
        )
    )
    changed = [r for r in results if before.get(r.camera_id) != r.status]
    if changed:
        conn.execute(
            insert(CameraHealthEvent).values(
                [
                    {
                        "camera_id": r.camera_id,
                        "at": r.at,
                        "status": r.status,
                        "previous_status": before.get(r.camera_id),
                        "reason": r.reason,
                    }  # fmt: skip
                    for r in changed
                ]
            )
        )
        for status in {r.status for r in changed}:
            conn.execute(
                update(Camera)
                .where(Camera.id.in_([r.camera_id for r in changed if r.status == status]))
                .values(status=status, status_since=func.now())
            )
    return len(changed)


def _in_scope(scope: Scope) -> Any:
    """SQLAlchemy condition on ``Camera`` keeping the cameras of ``scope``."""
    cond = Camera.access_level <= scope.clearance
    if scope.jurisdiction_ids is not None:
        cond = cond & Camera.jurisdiction_id.in_(sorted(scope.jurisdiction_ids))
    return cond


def faults(conn: Connection, scope: Scope, limit: int | None = None) -> list[dict[str, Any]]:
    """Cameras of ``scope`` whose last probe did not find them online, longest-standing first.

    Each: ``device_id, name, status, since, reason, checked_at, last_seen_at``; at most
    ``limit`` rows (None: all).
    """
    q = (
        select(
            Camera.device_id,
            Camera.name,
            CameraHealth.status,
            CameraHealth.since,
            CameraHealth.reason,
            CameraHealth.checked_at,
            CameraHealth.last_seen_at,
        )  # fmt: skip
        .join(CameraHealth, CameraHealth.camera_id == Camera.id)
        .where(CameraHealth.status != "online", _in_scope(scope))
        .order_by(CameraHealth.since, Camera.device_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def health_of(conn: Connection, device_id: str) -> dict[str, Any] | None:
    """The latest health of one camera (None: never probed or no such camera)."""
    row = conn.execute(
        select(Camera.device_id, Camera.name, CameraHealth.__table__)
        .join(CameraHealth, CameraHealth.camera_id == Camera.id)
        .where(Camera.device_id == device_id)
    ).first()
    return None if row is None else dict(row._mapping)


def history(conn: Connection, device_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The camera's status changes, newest first."""
    q = (
        select(CameraHealthEvent.at, CameraHealthEvent.status, CameraHealthEvent.previous_status,
               CameraHealthEvent.reason)
        .join(Camera, Camera.id == CameraHealthEvent.camera_id)
        .where(Camera.device_id == device_id)
        .order_by(CameraHealthEvent.at.desc(), CameraHealthEvent.id.desc())
        .limit(limit)
    )  # fmt: skip
    return [dict(r._mapping) for r in conn.execute(q)]


def status_counts(conn: Connection, scope: Scope) -> dict[str, int]:
    """Probed cameras of ``scope`` per health status."""
    rows = conn.execute(
        select(CameraHealth.status, func.count())
        .join(Camera, Camera.id == CameraHealth.camera_id)
        .where(_in_scope(scope)).group_by(CameraHealth.status)
    ).all()  # fmt: skip
    return {str(s): int(n) for s, n in rows}


def last_event_id(conn: Connection) -> int:
    """Id of the newest status change (0: none). One primary-key lookup: consoles poll it."""
    return int(conn.execute(select(func.coalesce(func.max(CameraHealthEvent.id), 0))).scalar_one())


def status_changes(conn: Connection, after_id: int, scope: Scope) -> tuple[int, dict[str, str]]:
    """Status changes of cameras in ``scope`` after event ``after_id``: ``(newest event id,
    {device_id: status})`` (the id counts every event, so the cursor moves on).

    Each camera appears once, with its latest status. Reads only the new events (a range scan
    of the primary key), so a poll costs what changed, not the size of the city.
    """
    rows = conn.execute(
        select(CameraHealthEvent.id, Camera.device_id, CameraHealthEvent.status,
               _in_scope(scope).label("visible"))
        .join(Camera, Camera.id == CameraHealthEvent.camera_id)
        .where(CameraHealthEvent.id > after_id)
        .order_by(CameraHealthEvent.id)
    ).all()  # fmt: skip
    if not rows:
        return after_id, {}
    return int(rows[-1].id), {str(r.device_id): str(r.status) for r in rows if r.visible}


def camera_status_counts(conn: Connection, scope: Scope) -> dict[str, int]:
    """Cameras of ``scope`` per ``cameras.status`` (what the map colours by; never-probed
    ones included)."""
    rows = conn.execute(
        select(Camera.status, func.count()).where(_in_scope(scope)).group_by(Camera.status)
    ).all()
    return {str(s): int(n) for s, n in rows}
