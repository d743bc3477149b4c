"""The project-managed PostgreSQL cluster and the store's error messages for bad setups."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from settings import Settings
from store import cluster as cluster_mod
from store.cluster import ClusterError, LocalCluster, free_port
from store.engine import StoreError, make_engine


def _reachable(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o001)
    return path


def test_start_status_stop_cycle_is_idempotent(tmp_path: Path) -> None:
    c = LocalCluster(_reachable(tmp_path) / "pg")
    try:
        assert c.status().initialised is False
        assert c.start() is True
        assert c.start() is False  # already running: nothing to do
        st = c.status()
        assert st.running and st.pid and st.port
        data_stat = c.data_dir.stat()
        assert data_stat.st_mode & 0o777 == 0o700
        if os.geteuid() == 0:
            assert data_stat.st_uid == cluster_mod.pwd.getpwnam("postgres").pw_uid
        # both the unix socket and 127.0.0.1 answer
        assert (c.socket_dir / f".s.PGSQL.{st.port}").exists()
        with socket.create_connection(("127.0.0.1", st.port), timeout=2):
            pass
        eng = create_engine(c.url("postgres"))
        with eng.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        eng.dispose()
        assert c.stop() is True
        assert c.stop() is False
        assert c.status().running is False
        # restart keeps the same port
        port = st.port
        c.start()
        assert c.status().port == port
    finally:
        c.destroy()
    assert not c.data_dir.exists()


def test_missing_postgresql_packages_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cluster_mod, "PG_ROOT", tmp_path / "nothing")
    with pytest.raises(ClusterError, match=r"not found.*apt-get install postgresql-15"):
        LocalCluster(tmp_path / "pg").start()


def test_missing_postgis_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "pgroot" / "15" / "bin"
    fake.mkdir(parents=True)
    (fake / "initdb").write_text("")
    monkeypatch.setattr(cluster_mod, "PG_ROOT", tmp_path / "pgroot")
    monkeypatch.setattr(cluster_mod, "PG_SHARE", tmp_path / "share")
    with pytest.raises(ClusterError, match=r"PostGIS extension is not.*postgresql-15-postgis-3"):
        LocalCluster(tmp_path / "pg").init()


def test_port_taken_is_refused_clearly(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        c = LocalCluster(_reachable(tmp_path) / "pg", port=port)
        try:
            with pytest.raises(ClusterError, match=rf"port {port} .* in use.*SIGHTLINE_PG_PORT"):
                c.start()
        finally:
            c.destroy()


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership check needs root to create the dir")
def test_data_dir_owned_by_someone_else(tmp_path: Path) -> None:
    d = tmp_path / "pg"
    d.mkdir()
    (d / "PG_VERSION").write_text("15\n")  # looks like a cluster, but root owns it
    with pytest.raises(ClusterError, match=r"owned by 'root', not 'postgres'.*chown"):
        LocalCluster(d).start()


def test_non_empty_foreign_dir_is_not_touched(tmp_path: Path) -> None:
    d = tmp_path / "pg"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    with pytest.raises(ClusterError, match="not a PostgreSQL data directory"):
        LocalCluster(d).start()
    assert (d / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show the server user's view")
def test_unreachable_parent_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    _reachable(tmp_path)
    with pytest.raises(ClusterError, match=rf"cannot reach .*{locked}.*chmod o\+x"):
        LocalCluster(locked / "pg").start()


def test_unreachable_database_url(settings_for) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    s = settings_for(database_url=f"postgresql://sightline:secret@127.0.0.1:{port}/nowhere")
    with pytest.raises(StoreError, match=rf"cannot connect to database .*127.0.0.1:{port}") as info:
        make_engine(s)
    assert "secret" not in str(info.value)


def test_database_without_postgis_rights(
    pg_cluster: LocalCluster, fresh_db: str, settings_for
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.engine import make_url

    name = make_url(fresh_db).database
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    role = "nopostgis_" + os.urandom(3).hex()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'"))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{name}" TO {role}'))
    try:
        url = f"postgresql://{role}:pw@127.0.0.1:{pg_cluster.port}/{name}"
        with pytest.raises(StoreError, match=rf"{name} lacks PostGIS and it cannot be created"):
            make_engine(settings_for(database_url=url))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_settings_reject_unknown_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from settings import SettingsError, load_settings

    monkeypatch.setenv("SIGHTLINE_DATABSE_URL", "postgresql://x")
    with pytest.raises(SettingsError, match="SIGHTLINE_DATABSE_URL"):
        load_settings()


def test_settings_take_plain_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    assert Settings().database_url == "postgresql://u@db/x"
