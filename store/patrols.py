"""Saved video patrols (视频巡逻 / 轮巡): save, list and read them within a viewer's scope.

A patrol belongs to the unit of the user who saved it (``jurisdiction_id``; None for the whole
platform) and is seen by every user whose scope holds that unit. Its cameras are kept in
order; what a viewer may actually watch is decided again when it runs
(:func:`store.access.may_view`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from store.console_stats import cameras_in_scope
from store.scope import Principal, Scope

MIN_INTERVAL_S = 3
MAX_INTERVAL_S = 3600
MAX_CAMERAS = 200
NAME_MAX = 64


class PatrolError(ValueError):
    """A patrol that cannot be saved: no name, no camera in scope, bad interval."""


@dataclass(frozen=True)
class Patrol:
    """A saved patrol: cameras (GB/T 28181 ids) in order, seconds per grid page."""

    id: int
    name: str
    device_ids: list[str]
    interval_s: int
    jurisdiction_id: int | None
    owner: str | None


def save(
    conn: Connection, principal: Principal, name: str, device_ids: list[str], interval_s: int
) -> Patrol:
    """Save a patrol of ``principal``'s unit with the cameras of ``device_ids`` that are in
    the principal's scope (others are dropped, order and first occurrence kept).

    Raises
    ------
    PatrolError
        Empty name, interval outside [``MIN_INTERVAL_S``, ``MAX_INTERVAL_S``] s, or no camera
        of the scope left.
    """
    name = (name or "").strip()[:NAME_MAX]
    if not name:
        raise PatrolError("name the patrol")
    try:
        interval = int(interval_s)
    except (TypeError, ValueError):
        raise PatrolError(f"interval must be whole seconds, got {interval_s!r}") from None
    if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        raise PatrolError(f"interval {interval} s: must be {MIN_INTERVAL_S}-{MAX_INTERVAL_S} s")
    ids = [c["device_id"] for c in cameras_in_scope(conn, principal.scope,
                                                     [str(d) for d in device_ids])][:MAX_CAMERAS]
    if not ids:
        raise PatrolError("no camera of your jurisdiction in this patrol")
    row = conn.execute(
        text("INSERT INTO patrols (name, owner_id, device_ids, interval_s, jurisdiction_id) "
             "VALUES (:n, (SELECT id FROM users WHERE name = :u), :d, :i, :j) RETURNING id"),
        {"n": name, "u": principal.user_name, "d": ids, "i": interval,
         "j": principal.scope.root_id},
    ).one()  # fmt: skip
    return Patrol(int(row.id), name, ids, interval, principal.scope.root_id, principal.user_name)


def _where(scope: Scope) -> str:
    # A patrol saved by a whole-platform user without a unit has no jurisdiction: city only.
    return "TRUE" if scope.whole_city else "p.jurisdiction_id = ANY(:scope_jids)"


def list_for(conn: Connection, scope: Scope) -> list[Patrol]:
    """The patrols ``scope`` may see, newest first."""
    rows = conn.execute(
        text("SELECT p.id, p.name, p.device_ids, p.interval_s, p.jurisdiction_id, "  # noqa: S608
             "u.name AS owner FROM patrols p LEFT JOIN users u ON u.id = p.owner_id "
             f"WHERE {_where(scope)} ORDER BY p.id DESC"),
        scope.params(),
    ).all()  # fmt: skip
    return [Patrol(int(r.id), r.name, list(r.device_ids), int(r.interval_s), r.jurisdiction_id,
                   r.owner) for r in rows]  # fmt: skip


def get(conn: Connection, scope: Scope, patrol_id: int) -> Patrol | None:
    """One patrol if ``scope`` may see it, else None (whether it exists or not)."""
    rows = _one(conn, scope, patrol_id)
    return rows[0] if rows else None


def _one(conn: Connection, scope: Scope, patrol_id: int) -> list[Patrol]:
    rows = conn.execute(
        text("SELECT p.id, p.name, p.device_ids, p.interval_s, p.jurisdiction_id, "  # noqa: S608
             "u.name AS owner FROM patrols p LEFT JOIN users u ON u.id = p.owner_id "
             f"WHERE p.id = :id AND {_where(scope)}"),
        {"id": int(patrol_id), **scope.params()},
    ).all()  # fmt: skip
    return [Patrol(int(r.id), r.name, list(r.device_ids), int(r.interval_s), r.jurisdiction_id,
                   r.owner) for r in rows]  # fmt: skip


def delete(conn: Connection, scope: Scope, patrol_id: int) -> bool:
    """Delete a patrol the scope may see; whether one was deleted."""
    n = conn.execute(
        text(f"DELETE FROM patrols p WHERE p.id = :id AND {_where(scope)}"),  # noqa: S608
        {"id": int(patrol_id), **scope.params()},
    ).rowcount
    return bool(n)
