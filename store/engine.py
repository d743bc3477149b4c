"""Database URL resolution, engine creation and PostGIS checks.

With ``settings.database_url`` set, that database is used as it is (it must have PostGIS >= 3.1
or allow ``CREATE EXTENSION postgis``). Without it, the project-managed local cluster is used and
started on demand.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from settings import Settings
from store.cluster import LocalCluster

MIN_POSTGIS = (3, 1)


class StoreError(RuntimeError):
    """The database cannot be used; the message says why and what to do."""


def local_cluster(settings: Settings) -> LocalCluster:
    """The managed cluster described by the settings."""
    return LocalCluster(settings.pg_dir, port=settings.pg_port, database=settings.pg_database)


def normalise_url(url: str) -> str:
    """Make a libpq-style URL (postgres://, postgresql://) use the psycopg 3 driver."""
    url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    if not url.startswith("postgresql+psycopg://"):
        raise StoreError(
            f"database URL must be a PostgreSQL URL (postgresql://...), got {redact(url)}"
        )
    return url


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL we cannot parse is shown without its userinfo
        return re.sub(r"//[^@/]*@", "//***@", url)


def database_url(settings: Settings, *, start: bool = True) -> str:
    """URL of the store: the configured one, or the local cluster's (started if ``start``)."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    cluster = local_cluster(settings)
    if start:
        cluster.start()
        ensure_database(cluster)
    return cluster.url()


def ensure_database(cluster: LocalCluster) -> bool:
    """Create the application database in the local cluster if missing. True when created."""
    admin = create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": cluster.database}
            ).scalar()
            if not exists:
                # Identifiers cannot be bound; the name comes from settings, so quote it.
                quoted = admin.dialect.identifier_preparer.quote(cluster.database)
                conn.execute(text(f"CREATE DATABASE {quoted}"))
            return not exists
    finally:
        admin.dispose()


def make_engine(settings: Settings, *, start: bool = True, **kwargs: Any) -> Engine:
    """Engine on the store, checked: reachable and PostGIS available.

    Raises
    ------
    StoreError
        When the database cannot be reached or has no usable PostGIS.
    """
    url = database_url(settings, start=start)
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    try:
        check_postgis(engine)
    except StoreError:
        engine.dispose()
        raise
    return engine


def check_postgis(engine: Engine) -> tuple[int, int]:
    """Connect, make sure PostGIS >= 3.1 is there (creating the extension if allowed).

    Returns
    -------
    tuple of int
        PostGIS (major, minor) version.
    """
    where = redact(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as conn:
            installed = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            if installed is None:
                available = conn.execute(
                    text("SELECT default_version FROM pg_available_extensions WHERE name='postgis'")
                ).scalar()
                if available is None:
                    raise StoreError(
                        f"database {where} has no PostGIS: the extension is not installed on "
                        "that server (apt-get install postgresql-15-postgis-3 there, or point "
                        "DATABASE_URL at a PostGIS server)"
                    )
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
                installed = available
    except OperationalError as exc:
        raise StoreError(f"cannot connect to database {where}: {_first_line(exc)}") from exc
    except DBAPIError as exc:
        raise StoreError(
            f"database {where} lacks PostGIS and it cannot be created: {_first_line(exc)}"
        ) from exc
    major, minor = (int(x) for x in str(installed).split(".")[:2])
    if (major, minor) < MIN_POSTGIS:
        raise StoreError(f"database {where} has PostGIS {installed}; Sightline needs >= 3.1")
    return major, minor


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
