"""Camera logins: from the secrets settings into the RTSP URL, inside the gateway only.

Stream refs in the store carry no credentials (the importer refuses them). The gateway adds
them just before it connects, from ``camera_credentials_file`` (per device id, host:port or
host) or the ``camera_credentials`` default. The URL with credentials is never logged and never
sent to a browser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from settings import Settings
from store.health import CameraStream


class CredentialsError(ValueError):
    """An unreadable credentials file or entry (the message never contains a password)."""


@dataclass(frozen=True)
class Credentials:
    """``user:password`` per key (device id, ``host:port`` or ``host``) and a default."""

    by_key: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    default: tuple[str, str] | None = field(default=None, repr=False)

    def for_camera(self, device_id: str, url: str) -> tuple[str, str] | None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        keys = [device_id, f"{host}:{parts.port}" if parts.port else host, host]
        for key in keys:
            if key in self.by_key:
                return self.by_key[key]
        return self.default


def _pair(value: str, where: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise CredentialsError(f"{where}: expected 'user:password'")
    return user, password


def load(settings: Settings) -> Credentials:
    """Read the credentials settings.

    Raises
    ------
    CredentialsError
        When the file is unreadable, not a JSON object of strings, or an entry lacks ':'.
    """
    default = None
    if settings.camera_credentials is not None:
        default = _pair(settings.camera_credentials.get_secret_value(), "camera_credentials")
    by_key: dict[str, tuple[str, str]] = {}
    path = settings.camera_credentials_file
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"cannot read camera_credentials_file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise CredentialsError(f"{path}: expected a JSON object of key -> 'user:password'")
        for key, value in data.items():
            if not isinstance(value, str):
                raise CredentialsError(f"{path}: entry {key!r} is not a string")
            by_key[str(key)] = _pair(value, f"{path}: entry {key!r}")
    return Credentials(by_key, default)


def with_login(url: str, login: tuple[str, str] | None) -> str:
    """``url`` with ``user:password@`` in its authority (unchanged when ``login`` is None)."""
    if login is None:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user, password = (quote(v, safe="") for v in login)
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, ""))


def stream_url(settings: Settings, creds: Credentials, camera: CameraStream) -> str | None:
    """The RTSP URL (with login) of a camera's stream ref; None when it has no live stream.

    ``demo://<device id>`` refs point at ``demo_stream_url``/<device id> (the fake cameras).
    """
    ref = camera.stream_ref or ""
    if ref.startswith("demo://"):
        ref = f"{settings.demo_stream_url.rstrip('/')}/{ref.removeprefix('demo://')}"
    if not ref.startswith(("rtsp://", "rtsps://")):
        return None
    return with_login(ref, creds.for_camera(camera.device_id, ref))
