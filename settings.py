"""Sightline configuration: one typed Settings object, read from SIGHTLINE_* environment variables.

Every other module receives a ``Settings`` instance; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent
ENV_PREFIX = "SIGHTLINE_"


class SettingsError(ValueError):
    """Configuration that cannot work (unknown key, bad value)."""


class Settings(BaseSettings):
    """All Sightline settings. Environment variable = ``SIGHTLINE_`` + upper-case field name.

    ``DATABASE_URL`` is also accepted without the prefix, as most tools expect it.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SIGHTLINE_DATABASE_URL", "DATABASE_URL", "database_url"),
        description=(
            "SQLAlchemy/libpq URL of a PostGIS >= 3.1 database. Unset: use the project-managed "
            "local cluster in pg_dir."
        ),
    )
    pg_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "pg",
        description="Data directory of the project-managed PostgreSQL cluster.",
    )
    pg_port: int | None = Field(
        default=None,
        ge=1024,
        le=65535,
        description="TCP port (127.0.0.1) of the managed cluster; unset: a free port at init.",
    )
    pg_database: str = Field(default="sightline", description="Database name in the cluster.")
    host: str = Field(default="127.0.0.1", description="Interface the console listens on.")
    port: int = Field(default=8050, ge=1, le=65535, description="Port of the map console.")
    api_port: int = Field(default=8051, ge=1, le=65535, description="Port of the HTTP API.")
    upload_max_mb: int = Field(
        default=1024, ge=1, description="Largest survey file the API accepts, in MiB."
    )
    api_rate_per_s: float = Field(
        default=50.0, ge=0,
        description="Requests per second one API token may send on average (0: no limit); "
        "beyond it the API answers 429 with Retry-After.",
    )
    api_burst: int = Field(
        default=200, ge=1,
        description="Requests one API token may send at once before api_rate_per_s applies.",
    )
    basemap_url: str | None = Field(
        default=None,
        description=(
            "XYZ tile URL template ({z}/{x}/{y}) for the basemap. Unset or unreachable: a plain "
            "basemap drawn from the local buildings, roads and boundaries."
        ),
    )
    basemap_attribution: str = Field(
        default="", description="Attribution shown for the configured basemap tiles."
    )
    demo_seed: int = Field(default=28181, description="Seed of the synthetic demo inventory.")
    demo_osm_file: Path = Field(
        default=PROJECT_ROOT / "data" / "monaco.osm.pbf",
        description="OSM extract loaded by `sightline demo load`.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    # -- stream gateway and device health (issue 6) --
    gateway_port: int = Field(default=8052, ge=1, le=65535, description="Port of the gateway.")
    gateway_url: str | None = Field(
        default=None,
        description="Gateway base URL as browsers reach it; unset: http://{host}:{gateway_port}.",
    )
    stream_signing_key: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC key signing /streams URLs (console and gateway must share it). Unset: a random "
            "key kept in var/stream-signing-key."
        ),
    )
    stream_url_ttl_s: int = Field(
        default=300, ge=5, description="Lifetime of a signed stream URL, in seconds."
    )
    stream_idle_grace_s: float = Field(
        default=10.0, ge=0, description="Seconds a camera pull outlives its last viewer."
    )
    stream_reconnect_max_s: float = Field(
        default=10.0, gt=0, description="Longest back-off between upstream reconnections (s)."
    )
    camera_credentials: SecretStr | None = Field(
        default=None,
        description="user:password for cameras without their own entry in the credentials file.",
    )
    camera_credentials_file: Path | None = Field(
        default=None,
        description='JSON {"<device id>|<host>|<host:port>": "user:password"} of camera logins.',
    )
    transcode_h265: bool = Field(
        default=False,
        description="Transcode H.265 cameras to H.264 on the server (CPU: see README, gateway).",
    )
    health_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between two health probes of all cameras."
    )
    health_concurrency: int = Field(
        default=16, ge=1, description="Cameras probed at the same time at most."
    )
    health_timeout_s: float = Field(
        default=5.0, gt=0, description="Seconds a camera has to answer and send a frame."
    )
    demo_stream_url: str = Field(
        default="rtsp://127.0.0.1:8554/demo",
        description="Where demo://<device id> stream refs point (the demo's fake cameras).",
    )
    demo_fake_cameras: bool = Field(
        default=True,
        description="`sightline serve` also starts fake RTSP cameras for the demo's cameras.",
    )

    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30,
        description="A console login lasts at most this many hours (then log in again).",
    )
    session_idle_minutes: float = Field(
        default=60.0, gt=0,
        description="A console session without requests for this many minutes ends.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie only over HTTPS (set when behind TLS).",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of the first admin created by the setup command; unset: a random "
        "one is printed once.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(_LOG_LEVELS)}, got {value!r}")
        return level

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_env(cls, data: Any) -> Any:
        known = {ENV_PREFIX + name.upper() for name in cls.model_fields}
        unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
        if unknown:
            raise SettingsError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return data


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, with explicit keyword overrides on top.

    Raises
    ------
    SettingsError
        On an unknown ``SIGHTLINE_*`` variable or a value of the wrong type/range.
    """
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
