"""The operator's security commands: users, the first admin, demo users, audit verify."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from store import migrate
from tests.test_cli import SIGHTLINE, run


@pytest.fixture
def db(fresh_db: str) -> Iterator[tuple[str, Engine]]:
    eng = create_engine(fresh_db)
    migrate.upgrade(eng)
    yield fresh_db, eng
    eng.dispose()


def _audit(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            text("SELECT actor, action, target FROM audit_log ORDER BY seq"))]  # fmt: skip


def test_users_are_created_listed_disabled_and_every_change_is_audited(
    db: tuple[str, Engine],
) -> None:
    url, engine = db
    env = {"DATABASE_URL": url}
    out = run("user", "create", "alice", "--role", "planner", "--json", env=env)
    assert out.returncode == 0, out.stderr
    password = json.loads(out.stdout)["password"]
    assert len(password) >= 16
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$") and password not in stored
    again = run("user", "create", "alice", "--role", "planner", env=env)
    assert again.returncode == 1 and "exists" in again.stderr
    bad = run("user", "create", "bob", "--role", "viewer", "--jurisdiction", "nowhere", env=env)
    assert bad.returncode == 1 and "no jurisdiction with code 'nowhere'" in bad.stderr
    given = subprocess.run([SIGHTLINE, "user", "reset-password", "alice", "--password-stdin"],
                           input="correct horse battery\n", capture_output=True, text=True,
                           env={**env, "PATH": "/usr/bin:/bin"}, check=False)  # fmt: skip
    assert given.returncode == 0 and "correct horse" not in given.stdout + given.stderr
    assert run("user", "disable", "alice", env=env).returncode == 0
    listed = json.loads(run("user", "list", "--json", env=env).stdout)["users"]
    assert [u["name"] for u in listed] == ["alice"] and listed[0]["disabled_at"] is not None
    assert "password_hash" not in listed[0]
    actions = [(a, t) for _, a, t in _audit(engine)]
    assert actions == [("user.create", "alice"), ("user.password", "alice"),
                       ("user.disable", "alice")]  # fmt: skip
    assert all(actor.startswith("cli:") for actor, _, _ in _audit(engine))


def test_init_admin_creates_one_admin_once_with_the_setting_or_a_printed_password(
    db: tuple[str, Engine],
) -> None:
    url, engine = db
    env = {"DATABASE_URL": url, "SIGHTLINE_ADMIN_PASSWORD": "from-the-env-1"}
    first = run("user", "init-admin", "--json", env=env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["created"] and data["password"] is None and "from-the-env" not in first.stdout
    second = run("user", "init-admin", env={"DATABASE_URL": url})
    assert second.returncode == 0 and "an admin exists" in second.stdout
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users WHERE role='admin'")).scalar() == 1
    from store.users import authenticate

    with engine.begin() as conn:
        assert authenticate(conn, "admin", "from-the-env-1").role == "admin"


def test_audit_verify_names_the_first_tampered_row(db: tuple[str, Engine]) -> None:
    url, engine = db
    env = {"DATABASE_URL": url}
    for name in ("u1", "u2", "u3"):
        assert run("user", "create", name, "--role", "viewer", env=env).returncode == 0
    ok = run("audit", "verify", "--json", env=env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["rows"] == 3
    head = json.loads(ok.stdout)["head"]
    assert run("audit", "verify", "--expect-head", head, env=env).returncode == 0
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        conn.execute(text("UPDATE audit_log SET details = '{\"role\":\"admin\"}' WHERE seq = 2"))
    broken = run("audit", "verify", env=env)
    assert broken.returncode == 1 and "first broken row: 2" in broken.stdout
    listed = run("audit", "list", "--action", "user.create", "--json", env=env)
    assert [e["seq"] for e in json.loads(listed.stdout)["entries"]] == [3, 2, 1]


def test_demo_users_are_two_district_commanders(city: Engine) -> None:
    env = {"DATABASE_URL": city.url.render_as_string(False)}
    out = run("demo", "users", "--json", env=env)
    assert out.returncode == 0, out.stderr
    users = json.loads(out.stdout)["users"]
    with city.connect() as conn:
        rows = conn.execute(text(
            "SELECT u.name, u.role, j.code, j.level FROM users u JOIN jurisdictions j "
            "ON j.id = u.jurisdiction_id WHERE u.name LIKE 'demo-%' ORDER BY u.name"
        )).all()  # fmt: skip
    assert {(r.role, r.level) for r in rows} == {("commander", "district")}
    assert len({r.code for r in rows}) == 2
    again = json.loads(run("demo", "users", "--json", env=env).stdout)["users"]
    assert all(u["password"] is None for u in again)  # not shown twice
    assert len(users) == 2
    reset = json.loads(run("demo", "users", "--reset", "--json", env=env).stdout)["users"]
    from store.users import authenticate

    with city.begin() as conn:
        for u in reset:
            assert authenticate(conn, u["name"], u["password"]).scope.root_code == u["jurisdiction"]


def test_an_export_is_one_audit_entry(city: Engine, tmp_path: object) -> None:
    from pathlib import Path

    out_file = Path(str(tmp_path)) / "cams.geojson"
    env = {"DATABASE_URL": city.url.render_as_string(False)}
    with city.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM audit_log WHERE action='export'")).scalar()
    out = run("export", "cameras", "-o", str(out_file), env=env)
    assert out.returncode == 0, out.stderr
    with city.connect() as conn:
        rows = conn.execute(text("SELECT target, details FROM audit_log WHERE action='export' "
                                 "ORDER BY seq")).all()  # fmt: skip
        cameras = conn.execute(text("SELECT count(*) FROM cameras")).scalar()
    assert len(rows) == before + 1
    assert rows[-1].target == str(out_file) and json.loads(rows[-1].details)["rows"] == cameras
