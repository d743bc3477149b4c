"""Console users: argon2 password hashes, lockout with back-off, and login sessions.

Passwords are never stored or logged; a generated password is returned once to the caller
(the CLI prints it once). A session is a random cookie value of which only the SHA-256 is kept,
with its own CSRF token, an absolute expiry and an idle timeout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, func, insert, select, text, update

from store.models import Jurisdiction, User, UserSession
from store.scope import Principal, scope_of

ROLES = ("admin", "planner", "commander", "investigator", "viewer")
MIN_PASSWORD_LEN = 10
MAX_FAILURES = 5
"""Consecutive wrong passwords before the account locks."""
LOCK_BASE_S = 60
LOCK_MAX_S = 3600
SEEN_STAMP_S = 60
"""A session's ``last_seen_at`` is refreshed at most once per this many seconds."""

_hasher = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) defaults
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user cannot be created or changed as asked."""


class LoginRefused(PermissionError):
    """A login attempt that failed; ``reason`` is for the audit log (never shown in full)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string) of ``password``."""
    return _hasher.hash(password)


def generate_password() -> str:
    """A random password of 16 URL-safe characters (~96 bits)."""
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LEN:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LEN} characters")


def _jurisdiction_id(conn: Connection, code: str | None) -> int | None:
    if code is None:
        return None
    jid = conn.execute(select(Jurisdiction.id).where(Jurisdiction.code == code)).scalar()
    if jid is None:
        raise UserError(f"no jurisdiction with code {code!r} (see `sightline` jurisdictions)")
    return int(jid)


def create_user(
    conn: Connection, name: str, role: str, *, jurisdiction_code: str | None = None,
    clearance: int = 0, password: str | None = None,
) -> str:  # fmt: skip
    """Create a user; returns the password (generated when not given: show it once)."""
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() or c in ":/" for c in name):
        raise UserError("a user name is 1-64 characters without spaces, ':' or '/'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if clearance < 0:
        raise UserError("clearance is 0 or more (the highest camera access level visible)")
    if conn.execute(select(User.id).where(User.name == name)).first():
        raise UserError(f"a user named {name!r} exists")
    jid = _jurisdiction_id(conn, jurisdiction_code)
    password = password if password is not None else generate_password()
    _check_password(password)
    conn.execute(insert(User).values(
        name=name, password_hash=hash_password(password), role=role, jurisdiction_id=jid,
        clearance=clearance,
    ))  # fmt: skip
    return password


def set_password(conn: Connection, name: str, password: str | None = None) -> str:
    """Set (or generate) a user's password, unlock the account and end its sessions."""
    password = password if password is not None else generate_password()
    _check_password(password)
    uid = conn.execute(
        update(User).where(User.name == name)
        .values(password_hash=hash_password(password), password_changed_at=func.now(),
                failed_logins=0, locked_until=None)
        .returning(User.id)
    ).scalar()  # fmt: skip
    if uid is None:
        raise UserError(f"no user named {name!r}")
    end_sessions(conn, int(uid))
    return password


def set_disabled(conn: Connection, name: str, disabled: bool) -> None:
    """Disable (ending its sessions) or re-enable a user."""
    uid = conn.execute(
        update(User).where(User.name == name)
        .values(disabled_at=func.now() if disabled else None, failed_logins=0, locked_until=None)
        .returning(User.id)
    ).scalar()  # fmt: skip
    if uid is None:
        raise UserError(f"no user named {name!r}")
    if disabled:
        end_sessions(conn, int(uid))


def list_users(conn: Connection) -> list[dict[str, object]]:
    """Every user (never the hash)."""
    rows = conn.execute(
        select(User.name, User.role, Jurisdiction.code.label("jurisdiction"), User.clearance,
               User.created_at, User.last_login_at, User.failed_logins, User.locked_until,
               User.disabled_at)
        .outerjoin(Jurisdiction, Jurisdiction.id == User.jurisdiction_id).order_by(User.id)
    )  # fmt: skip
    return [dict(r._mapping) for r in rows]


def has_admin(conn: Connection) -> bool:
    """Whether an enabled admin exists."""
    return conn.execute(
        select(User.id).where(User.role == "admin", User.disabled_at.is_(None))
    ).first() is not None


def principal_of_user(conn: Connection, user_id: int) -> Principal | None:
    """The principal of an enabled user, or None."""
    row = conn.execute(
        select(User.name, User.role, User.jurisdiction_id, User.clearance)
        .where(User.id == user_id, User.disabled_at.is_(None))
    ).first()  # fmt: skip
    if row is None:
        return None
    return Principal(f"user:{row.name}", row.name, row.role,
                     scope_of(conn, row.jurisdiction_id, row.clearance))  # fmt: skip


def principal_of_name(conn: Connection, name: str) -> Principal | None:
    """The principal of an enabled user by name, or None."""
    uid = conn.execute(select(User.id).where(User.name == name)).scalar()
    return None if uid is None else principal_of_user(conn, int(uid))


def authenticate(conn: Connection, name: str, password: str) -> Principal:
    """Check a login. Wrong passwords count towards a lock with back-off
    (:data:`MAX_FAILURES` in a row lock the account for 1 min, doubling per further failure,
    at most 1 h); a locked or disabled account is refused even with the right password.

    Commit the transaction whether this raises or not: the failure count is the lockout.

    Raises
    ------
    LoginRefused
        With one message for every cause the user cannot fix by retrying; ``reason`` names
        the cause for the audit log.
    """
    bad = "wrong user name or password"
    row = conn.execute(
        select(User.id, User.password_hash, User.failed_logins, User.disabled_at,
               (User.locked_until > func.now()).label("locked"), User.locked_until)
        .where(User.name == name).with_for_update()
    ).first()  # fmt: skip
    if row is None:
        # The same work as for a real user, so timing does not tell which names exist.
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise LoginRefused(bad, "unknown user")
    if row.locked:
        raise LoginRefused(
            f"account locked after {row.failed_logins} failed logins; try again after "
            f"{row.locked_until:%H:%M:%S %Z} or ask an admin (`sightline user unlock`)",
            "locked",
        )
    ok: bool
    try:
        ok = _hasher.verify(row.password_hash, password)
    except (VerifyMismatchError, InvalidHashError, VerificationError):
        ok = False
    if not ok:
        failures = int(row.failed_logins) + 1
        lock_s = (
            min(LOCK_MAX_S, LOCK_BASE_S * 2 ** (failures - MAX_FAILURES))
            if failures >= MAX_FAILURES else 0
        )  # fmt: skip
        conn.execute(
            update(User).where(User.id == row.id).values(
                failed_logins=failures,
                locked_until=func.now() + text(f"interval '{int(lock_s)} s'") if lock_s else None,
            )
        )  # fmt: skip
        raise LoginRefused(bad, f"wrong password ({failures} in a row)")
    if row.disabled_at is not None:
        raise LoginRefused(bad, "disabled")
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(update(User).where(User.id == row.id)
                     .values(password_hash=hash_password(password)))  # fmt: skip
    conn.execute(
        update(User).where(User.id == row.id)
        .values(failed_logins=0, locked_until=None, last_login_at=func.now())
    )  # fmt: skip
    principal = principal_of_user(conn, int(row.id))
    assert principal is not None
    return principal


def unlock(conn: Connection, name: str) -> None:
    """Clear a user's failed-login count and lock."""
    done = conn.execute(
        update(User).where(User.name == name).values(failed_logins=0, locked_until=None)
    ).rowcount
    if not done:
        raise UserError(f"no user named {name!r}")


# -- sessions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    """A live session: who, its CSRF token and when it ends."""

    id: int
    principal: Principal
    csrf_token: str
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(
    conn: Connection, name: str, *, hours: float, client: str | None = None
) -> tuple[str, str]:
    """Start a session for user ``name``; returns (cookie value, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    uid = conn.execute(select(User.id).where(User.name == name)).scalar_one()
    conn.execute(insert(UserSession).values(
        token_sha256=_digest(token), csrf_token=csrf, user_id=uid,
        expires_at=func.now() + text(f"interval '{float(hours) * 3600:.0f} s'"),
        client=(client or "")[:300] or None,
    ))  # fmt: skip
    return token, csrf


def session_of(conn: Connection, token: str, *, idle_minutes: float) -> Session | None:
    """The live session of a cookie value: not ended, not expired, not idle longer than
    ``idle_minutes``, its user enabled; None otherwise. Refreshes ``last_seen_at`` at most
    once per :data:`SEEN_STAMP_S`."""
    if not token or len(token) > 200:
        return None
    idle = f"interval '{float(idle_minutes) * 60:.0f} s'"
    row = conn.execute(
        text(f"SELECT s.id, s.user_id, s.csrf_token, s.expires_at, "  # noqa: S608 - numbers
             f"s.last_seen_at < now() - interval '{SEEN_STAMP_S} s' AS stale "
             f"FROM user_sessions s JOIN users u ON u.id = s.user_id "
             f"WHERE s.token_sha256 = :t AND s.ended_at IS NULL AND s.expires_at > now() "
             f"AND s.last_seen_at > now() - {idle} AND u.disabled_at IS NULL"),
        {"t": _digest(token)},
    ).first()  # fmt: skip
    if row is None:
        return None
    principal = principal_of_user(conn, int(row.user_id))
    if principal is None:
        return None
    if row.stale:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(update(UserSession).where(UserSession.id == row.id)
                     .values(last_seen_at=func.now()))  # fmt: skip
    return Session(int(row.id), principal, row.csrf_token, row.expires_at)


def end_session(conn: Connection, token: str) -> bool:
    """End the session of a cookie value (logout); True when one was live."""
    return bool(conn.execute(
        update(UserSession).where(UserSession.token_sha256 == _digest(token),
                                  UserSession.ended_at.is_(None))
        .values(ended_at=func.now())
    ).rowcount)  # fmt: skip


def end_sessions(conn: Connection, user_id: int) -> int:
    """End every live session of a user (password reset, disable)."""
    return int(conn.execute(
        update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=func.now())
    ).rowcount)  # fmt: skip
