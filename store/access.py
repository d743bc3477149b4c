"""Who may do what: the permission table, camera visibility and signed stream URLs.

One mechanism for the console, the API, the gateway and the CLI. :data:`PERMISSIONS` maps each
action to the roles allowed to do it; :func:`check` raises :class:`AccessDenied`; what a
principal may *see* is its :class:`store.scope.Scope`, applied in the store queries.
:func:`may_view` decides whether a principal may watch one camera (role, jurisdiction,
clearance: a store query). The stream signature binds a URL to one camera, one subject
(``user:<name>`` / ``token:<name>``) and an expiry, so a leaked URL is useless for another
camera and soon for everyone; the gateway re-checks :func:`may_view` for the subject.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Connection, text

from settings import PROJECT_ROOT, Settings
from store.scope import Principal

KEY_FILE = PROJECT_ROOT / "var" / "stream-signing-key"
# What a signed GET /health/faults URL is bound to (in place of a camera id).
FAULTS_RESOURCE = "health/faults"

ROLES = ("admin", "planner", "commander", "investigator", "viewer")
_ALL = frozenset(ROLES)

PERMISSIONS: dict[str, frozenset[str]] = {
    # see the map: devices, alarm points, jurisdictions, key areas (in scope)
    "view": _ALL,
    # live video of cameras in scope
    "video": frozenset({"admin", "commander", "investigator"}),
    # coverage results: layers, which cameras see a point, the assessment table
    "coverage": frozenset({"admin", "planner", "commander", "investigator"}),
    # start coverage and what-if runs
    "analyse": frozenset({"admin", "planner"}),
    # placement proposals: compute and accept
    "placement": frozenset({"admin", "planner"}),
    # survey imports and device writes
    "import": frozenset({"admin", "planner"}),
    # alarms and first-response video
    "alarms": frozenset({"admin", "commander"}),
    # trajectory queries (with a case reference)
    "trajectory": frozenset({"admin", "investigator"}),
    # camera health and fault lists
    "health": frozenset({"admin", "planner", "commander"}),
    # exports of tables and results
    "export": frozenset({"admin", "planner", "commander", "investigator"}),
    # users, tokens, the audit log
    "admin": frozenset({"admin"}),
}
"""action -> roles that may do it. An action not listed is refused to everyone."""


class AccessDenied(PermissionError):
    """The principal may not do this (role) or may not see this object (scope)."""


class StreamAccessError(ValueError):
    """A stream URL that is unsigned, forged, for another camera or expired."""


def allowed(principal: Principal, action: str) -> bool:
    """Whether the principal's role may do ``action``."""
    return principal.role in PERMISSIONS.get(action, frozenset())


def check(principal: Principal, action: str) -> None:
    """Raise :class:`AccessDenied` unless the principal's role may do ``action``."""
    if not allowed(principal, action):
        roles = ", ".join(sorted(PERMISSIONS.get(action, frozenset()))) or "nobody"
        raise AccessDenied(f"role {principal.role!r} may not {action} (needs {roles})")


def may_view(conn: Connection, principal: Principal, camera_id: str) -> bool:
    """Whether ``principal`` may watch camera ``camera_id`` (GB/T 28181 device id): its role
    may open video and the camera is in its jurisdiction and within its clearance."""
    if not allowed(principal, "video"):
        return False
    scope = principal.scope
    where = scope.devices("c", camera=True)
    row = conn.execute(
        text(f"SELECT 1 FROM cameras c WHERE c.device_id = :d AND {where}"),  # noqa: S608
        {"d": camera_id, **scope.params()},
    ).first()  # fmt: skip
    return row is not None


def signing_key(settings: Settings, key_file: Path = KEY_FILE) -> bytes:
    """The HMAC key: the setting, else a random key kept (0600) in ``key_file``."""
    if settings.stream_signing_key is not None:
        return settings.stream_signing_key.get_secret_value().encode("utf-8")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_urlsafe(32).encode("ascii"))
        # link() is atomic and refuses an existing name: two processes starting together
        # (console and gateway) end up reading the same complete key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, key_file)
        tmp.unlink()
    return key_file.read_bytes().strip()


def _mac(key: bytes, camera_id: str, subject: str, expires: int) -> str:
    msg = f"{camera_id}\n{subject}\n{expires}".encode()
    digest = hmac.new(key, msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode("ascii").rstrip("=")


def sign(
    key: bytes, camera_id: str, subject: str, ttl_s: float, now: float | None = None
) -> dict[str, str]:
    """Query parameters ``{"exp", "sub", "sig"}`` granting ``subject`` camera ``camera_id``."""
    expires = int((time.time() if now is None else now) + ttl_s)
    return {"exp": str(expires), "sub": subject, "sig": _mac(key, camera_id, subject, expires)}


def verify(key: bytes, camera_id: str, params: Mapping[str, str], now: float | None = None) -> str:
    """The subject of a valid grant for ``camera_id``.

    Raises
    ------
    StreamAccessError
        When a parameter is missing, the signature does not match or the grant expired.
    """
    try:
        expires = int(params["exp"])
        subject = params["sub"]
        sig = params["sig"]
    except (KeyError, ValueError) as exc:
        raise StreamAccessError("unsigned stream URL: ask the console for a new one") from exc
    if not hmac.compare_digest(sig, _mac(key, camera_id, subject, expires)):
        raise StreamAccessError("bad signature for this camera")
    if (time.time() if now is None else now) > expires:
        raise StreamAccessError("the stream URL expired: ask the console for a new one")
    return subject


def principal_of_subject(conn: Connection, subject: str) -> Principal | None:
    """The principal a signed URL's subject names (``user:<name>`` or ``token:<name>``), if
    that user is enabled or that token unrevoked; None otherwise."""
    from store.tokens import principal_of_token_name
    from store.users import principal_of_name

    kind, _, name = subject.partition(":")
    if kind == "user":
        return principal_of_name(conn, name)
    if kind == "token":
        return principal_of_token_name(conn, name)
    return None
