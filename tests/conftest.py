"""Session fixtures: a real, throw-away PostGIS cluster started as the project starts its own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from importers import demo, osm
from importers.city import load_demo
from importers.survey.samples import write_samples
from settings import PROJECT_ROOT, Settings
from store import migrate
from store.cluster import LocalCluster
from store.engine import ensure_database

ARTEFACTS_DIR = PROJECT_ROOT / "test-artefacts"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    """A fresh local cluster for this test session (deleted afterwards).

    It lives in a directory of its own under /tmp, not in pytest's numbered temp dirs: pytest
    prunes those when other sessions start, which would pull the data directory from under a
    session still running (two test runs at once on one machine).
    """
    base = Path(tempfile.mkdtemp(prefix="sightline-test-pg-", dir="/tmp"))
    base.chmod(0o711)  # the server user must traverse it to reach its data directory
    cluster = LocalCluster(base / "data")
    try:
        cluster.start()
        ensure_database(cluster)
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_cluster: LocalCluster) -> str:
    """URL of the migrated session database."""
    engine = create_engine(pg_cluster.url())
    migrate.upgrade(engine)
    engine.dispose()
    return pg_cluster.url()


@pytest.fixture(scope="session")
def engine(pg_url: str) -> Iterator[Engine]:
    eng = create_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def fresh_db(pg_cluster: LocalCluster) -> Iterator[str]:
    """URL of a new, empty database (no extensions, no tables), dropped after the test."""
    name = f"t_{os.getpid()}_{os.urandom(4).hex()}"
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_cluster.url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build Settings for a test without reading the developer's environment."""

    def make(**overrides: object) -> Settings:
        return Settings(pg_dir=tmp_path / "pg", **overrides)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def artefacts_dir() -> Path:
    ARTEFACTS_DIR.mkdir(exist_ok=True)
    return ARTEFACTS_DIR


@pytest.fixture(scope="session")
def demo_engine(engine: Engine) -> Engine:
    """The session database with the Monaco demo city loaded (once per session)."""
    from importers.city import load_demo

    settings = Settings()
    load_demo(engine, settings.demo_osm_file, settings.demo_seed)
    return engine


@pytest.fixture(scope="session")
def city_url(pg_cluster: LocalCluster) -> Iterator[str]:
    """A database of its own holding the demo city (these tests write to it)."""
    name = f"survey_{os.getpid()}"
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_cluster.url(name)
    engine = create_engine(url)
    migrate.upgrade(engine)
    s = Settings()
    load_demo(engine, s.demo_osm_file, s.demo_seed)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def city(city_url: str) -> Iterator[Engine]:
    engine = create_engine(city_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = Settings()
    inv = demo.build_demo(osm.read_osm(s.demo_osm_file), seed=s.demo_seed)
    out = tmp_path_factory.mktemp("samples")
    write_samples(inv, out)
    return out
