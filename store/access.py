"""Who may watch which camera, and the short-lived signed stream URLs that carry the answer.

One place for the console (which signs) and the gateway (which verifies). The security issue
extends :func:`may_view` with users and jurisdictions (a store query); the signature binds a
URL to one camera, one subject (user or token name) and an expiry, so a leaked URL is useless
for another camera and soon for everyone.
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

from settings import PROJECT_ROOT, Settings
from store.tokens import Principal

KEY_FILE = PROJECT_ROOT / "var" / "stream-signing-key"
# What a signed GET /health/faults URL is bound to (in place of a camera id).
FAULTS_RESOURCE = "health/faults"
VIEW_ROLES = frozenset({"admin", "planner", "commander", "investigator", "viewer"})


class StreamAccessError(ValueError):
    """A stream URL that is unsigned, forged, for another camera or expired."""


def may_view(principal: Principal, camera_id: str) -> bool:
    """Whether ``principal`` may watch camera ``camera_id`` (GB/T 28181 id).

    Today: every role that may view. The security issue adds the jurisdiction check here.
    """
    return principal.role in VIEW_ROLES


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
