"""The append-only audit log with a hash chain, and its verifier.

Each entry's ``hash`` is the SHA-256 of its fields and the previous entry's hash; the first
entry's ``prev_hash`` is 64 zeros. Changing, inserting or deleting a row (with the append-only
trigger disabled by a superuser) breaks the chain at that row, and :func:`verify_chain` names
it. Deleting the newest rows leaves a valid but shorter chain: compare the head hash with one
kept elsewhere (``sightline audit verify --expect-head``).

Writers serialise on a transaction-level advisory lock, so call :func:`record` at the end of
the audited transaction (the lock is held until it commits): the entry lands exactly when the
action does, and the lock is held briefly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from store.scope import Principal

GENESIS = "0" * 64
_LOCK_KEY = 0x5167_6874_4175  # pg_advisory_xact_lock key of the audit chain ("SightAu")
_SEP = "\x1f"

ACTIONS = (
    "login", "logout", "user.create", "user.password", "user.disable", "user.enable",
    "user.unlock", "token.create", "token.revoke", "import", "coverage.run",
    "placement.propose", "placement.accept", "stream.open", "trajectory.query", "export",
    "audit.view", "device.delete", "alarm.intake", "sightings.import",
)  # fmt: skip
"""Every action the log records (:func:`record` refuses others, so a typo cannot hide)."""


def _canonical(details: Mapping[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)  # fmt: skip


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(seq: int, at: dt.datetime, actor: str, role: str, action: str, target: str,
               outcome: str, details: str, prev_hash: str) -> str:  # fmt: skip
    """SHA-256 (hex) of one entry's fields and the previous entry's hash."""
    msg = _SEP.join((str(seq), _iso(at), actor, role, action, target, outcome, details,
                     prev_hash))  # fmt: skip
    return hashlib.sha256(msg.encode("utf-8")).hexdigest()


def record(
    conn: Connection, principal: Principal | None, action: str, target: str = "", *,
    outcome: str = "ok", details: Mapping[str, Any] | None = None, actor: str | None = None,
) -> int:  # fmt: skip
    """Append one entry in the caller's transaction; returns its sequence number.

    ``principal`` is who acted (None with ``actor`` for a failed login of an unknown name);
    ``target`` names the object (camera id, run id, file, user); ``details`` is any JSON.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; add it to store.audit.ACTIONS")
    who = actor if actor is not None else (principal.subject if principal else "anonymous")
    role = principal.role if principal is not None else ""
    body = _canonical(details)
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = conn.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).first()
    seq = 1 if last is None else int(last.seq) + 1
    prev = GENESIS if last is None else str(last.hash)
    at = dt.datetime.now(dt.UTC)
    digest = entry_hash(seq, at, who, role, action, str(target), outcome, body, prev)
    conn.execute(
        text("INSERT INTO audit_log (seq, at, actor, role, action, target, outcome, details, "
             "prev_hash, hash) VALUES (:seq, :at, :actor, :role, :action, :target, :outcome, "
             ":details, :prev, :hash)"),
        {"seq": seq, "at": at, "actor": who, "role": role, "action": action,
         "target": str(target), "outcome": outcome, "details": body, "prev": prev,
         "hash": digest},
    )  # fmt: skip
    return seq


def record_now(engine: Engine, principal: Principal | None, action: str, target: str = "",
               **kwargs: Any) -> int:  # fmt: skip
    """:func:`record` in a transaction of its own (for actions that write nothing else)."""
    with engine.begin() as conn:
        return record(conn, principal, action, target, **kwargs)


@dataclass(frozen=True)
class ChainReport:
    """The verifier's answer: ``ok``, how many rows were checked, the head hash, and the first
    broken row with the reason."""

    ok: bool
    rows: int
    head: str
    first_bad_seq: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "head": self.head,
                "first_bad_seq": self.first_bad_seq, "reason": self.reason}  # fmt: skip


def _rows(conn: Connection, batch: int = 5000) -> Iterator[Any]:
    after = 0
    while True:
        rows = conn.execute(
            text("SELECT seq, at, actor, role, action, target, outcome, details, prev_hash, "
                 "hash FROM audit_log WHERE seq > :a ORDER BY seq LIMIT :n"),
            {"a": after, "n": batch},
        ).all()  # fmt: skip
        if not rows:
            return
        yield from rows
        after = int(rows[-1].seq)


def verify_chain(conn: Connection, expect_head: str | None = None) -> ChainReport:
    """Recompute the chain from the first row; report the first row that does not fit."""
    prev, n, expected_seq = GENESIS, 0, 1
    for r in _rows(conn):
        n += 1
        if int(r.seq) != expected_seq:
            return ChainReport(False, n, prev, int(r.seq),
                               f"row {r.seq} follows row {expected_seq - 1}: "
                               f"{int(r.seq) - expected_seq} row(s) missing before it")  # fmt: skip
        if r.prev_hash != prev:
            why = f"row {r.seq}: prev_hash does not match row {r.seq - 1}'s hash"
            return ChainReport(False, n, prev, int(r.seq), why)
        digest = entry_hash(int(r.seq), r.at, r.actor, r.role, r.action, r.target, r.outcome,
                            r.details, r.prev_hash)  # fmt: skip
        if digest != r.hash:
            return ChainReport(False, n, prev, int(r.seq),
                               f"row {r.seq}: its content does not match its hash "
                               "(changed after it was written)")  # fmt: skip
        prev, expected_seq = r.hash, expected_seq + 1
    if expect_head is not None and expect_head != prev:
        return ChainReport(False, n, prev, None,
                           f"the chain ends at {prev[:12]}…, not at the expected head "
                           f"{expect_head[:12]}…: rows were removed from the end or the log "
                           "was replaced")  # fmt: skip
    return ChainReport(True, n, prev)


def entries(
    conn: Connection, *, action: str | None = None, actor: str | None = None,
    before_seq: int | None = None, limit: int = 100,
) -> list[dict[str, Any]]:  # fmt: skip
    """The newest entries first (filtered by action / actor), ``limit`` at most."""
    conds: list[str] = ["TRUE"]
    params: dict[str, Any] = {"n": max(1, min(int(limit), 1000))}
    if action:
        conds.append("action = :action")
        params["action"] = action
    if actor:
        conds.append("actor = :actor")
        params["actor"] = actor
    if before_seq is not None:
        conds.append("seq < :before")
        params["before"] = int(before_seq)
    rows = conn.execute(
        text("SELECT seq, at, actor, role, action, target, outcome, details, hash FROM "  # noqa: S608 - fixed fragments
             f"audit_log WHERE {' AND '.join(conds)} ORDER BY seq DESC LIMIT :n"),
        params,
    ).all()  # fmt: skip
    return [{**r._mapping, "details": json.loads(r.details)} for r in rows]
