"""Users, sessions, scopes and the audit chain against a real PostGIS (store level)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from store import audit, migrate
from store.access import AccessDenied, check, may_view, principal_of_subject
from store.scope import Scope, scope_of
from store.tokens import create_token, verify_token
from store.users import (
    MAX_FAILURES,
    LoginRefused,
    UserError,
    authenticate,
    create_user,
    end_session,
    open_session,
    session_of,
    set_disabled,
    set_password,
    unlock,
)


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _codes(engine: Engine) -> dict[str, str]:
    """level -> one jurisdiction code of the demo city (two districts: a and b)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, level FROM jurisdictions ORDER BY code")).all()
    districts = [r.code for r in rows if r.level == "district"]
    return {"city": next(r.code for r in rows if r.level == "city"),
            "a": districts[0], "b": districts[1]}  # fmt: skip


def test_password_is_argon2_and_login_checks_it(demo_engine: Engine) -> None:
    name = _name("alice")
    with demo_engine.begin() as conn:
        pw = create_user(conn, name, "commander")
        stored = conn.execute(text("SELECT password_hash FROM users WHERE name=:n"),
                              {"n": name}).scalar_one()  # fmt: skip
    assert stored.startswith("$argon2id$") and pw not in stored
    with demo_engine.begin() as conn:
        who = authenticate(conn, name, pw)
    assert who.subject == f"user:{name}" and who.role == "commander" and who.scope.whole_city
    with demo_engine.begin() as conn, pytest.raises(LoginRefused) as refused:
        authenticate(conn, name, pw + "x")
    assert str(refused.value) == "wrong user name or password"
    with demo_engine.begin() as conn, pytest.raises(LoginRefused) as unknown:
        authenticate(conn, _name("nobody"), pw)
    assert str(unknown.value) == str(refused.value)  # no hint whether the name exists


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    demo_engine: Engine,
) -> None:
    name = _name("bob")
    with demo_engine.begin() as conn:
        pw = create_user(conn, name, "viewer")
    for _ in range(MAX_FAILURES):
        with demo_engine.begin() as conn, pytest.raises(LoginRefused):
            authenticate(conn, name, "wrong-password")
    with demo_engine.connect() as conn:
        secs = conn.execute(text("SELECT extract(epoch FROM locked_until - now()) FROM users "
                                 "WHERE name=:n"), {"n": name}).scalar_one()  # fmt: skip
    assert 50 < float(secs) <= 60
    with demo_engine.begin() as conn, pytest.raises(LoginRefused) as locked:
        authenticate(conn, name, pw)
    assert locked.value.reason == "locked" and "locked" in str(locked.value)
    with demo_engine.begin() as conn:
        unlock(conn, name)
    with demo_engine.begin() as conn:
        assert authenticate(conn, name, pw).user_name == name


def test_disabled_user_and_short_password_are_refused(demo_engine: Engine) -> None:
    name = _name("carol")
    with demo_engine.begin() as conn:
        pw = create_user(conn, name, "planner")
        with pytest.raises(UserError, match="at least"):
            set_password(conn, name, "short")
        with pytest.raises(UserError, match="role"):
            create_user(conn, _name("x"), "superuser")
        token, _csrf = open_session(conn, name, hours=1)
    with demo_engine.begin() as conn:
        assert session_of(conn, token, idle_minutes=30) is not None
        set_disabled(conn, name, True)
    with demo_engine.begin() as conn:
        assert session_of(conn, token, idle_minutes=30) is None  # disabling ends sessions
        with pytest.raises(LoginRefused):
            authenticate(conn, name, pw)


def test_sessions_expire_go_idle_and_end_on_logout(demo_engine: Engine) -> None:
    name = _name("dave")
    with demo_engine.begin() as conn:
        create_user(conn, name, "viewer")
        token, csrf = open_session(conn, name, hours=1)
        other, _ = open_session(conn, name, hours=1)
        idle, _ = open_session(conn, name, hours=1)
    with demo_engine.begin() as conn:
        s = session_of(conn, token, idle_minutes=30)
        assert s is not None and s.csrf_token == csrf and s.principal.user_name == name
        assert session_of(conn, token + "x", idle_minutes=30) is None
        conn.execute(text("UPDATE user_sessions SET expires_at = now() - interval '1 s' "
                          "WHERE csrf_token = :c"), {"c": csrf})  # fmt: skip
        conn.execute(text("UPDATE user_sessions SET last_seen_at = now() - interval '31 min' "
                          "WHERE id = (SELECT max(id) FROM user_sessions)"))  # fmt: skip
    with demo_engine.begin() as conn:
        assert session_of(conn, token, idle_minutes=30) is None  # expired
        assert session_of(conn, idle, idle_minutes=30) is None  # idle
        assert session_of(conn, other, idle_minutes=30) is not None
        assert end_session(conn, other)
    with demo_engine.begin() as conn:
        assert session_of(conn, other, idle_minutes=30) is None


def test_scope_of_a_district_holds_its_stations_and_not_the_other_district(
    demo_engine: Engine,
) -> None:
    codes = _codes(demo_engine)
    with demo_engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT code, id FROM jurisdictions")).all())
        parents = dict(conn.execute(text("SELECT id, parent_id FROM jurisdictions")).all())
        a = scope_of(conn, ids[codes["a"]], 0)
        city = scope_of(conn, ids[codes["city"]], 0)
    assert city.whole_city
    expected = {i for i, p in parents.items() if i == ids[codes["a"]] or p == ids[codes["a"]]}
    assert a.jurisdiction_ids == frozenset(expected) and len(expected) > 1
    assert not a.sees_jurisdiction(ids[codes["b"]]) and not a.sees_jurisdiction(None)


def test_may_view_follows_role_jurisdiction_and_clearance(demo_engine: Engine) -> None:
    codes = _codes(demo_engine)
    a_user, b_user, viewer = _name("ca"), _name("cb"), _name("v")
    with demo_engine.begin() as conn:
        create_user(conn, a_user, "commander", jurisdiction_code=codes["a"])
        create_user(conn, b_user, "commander", jurisdiction_code=codes["b"], clearance=5)
        create_user(conn, viewer, "viewer")
        # one camera of each district, straight from the data (independent of the scope code)
        cam = {k: conn.execute(text(
            "SELECT c.device_id FROM cameras c JOIN jurisdictions s ON s.id = c.jurisdiction_id "
            "JOIN jurisdictions d ON d.id = s.parent_id WHERE d.code = :d ORDER BY c.id LIMIT 1"),
            {"d": codes[k]}).scalar_one() for k in ("a", "b")}  # fmt: skip
        pa = principal_of_subject(conn, f"user:{a_user}")
        pb = principal_of_subject(conn, f"user:{b_user}")
        pv = principal_of_subject(conn, f"user:{viewer}")
        assert pa is not None and pb is not None and pv is not None
        assert may_view(conn, pa, cam["a"]) and not may_view(conn, pa, cam["b"])
        assert may_view(conn, pb, cam["b"]) and not may_view(conn, pb, cam["a"])
        assert not may_view(conn, pv, cam["a"])  # viewers see the map, not video
        # a social-resource camera above a's clearance disappears for a, not for b's clearance
        savepoint = conn.begin_nested()
        conn.execute(text("UPDATE cameras SET access_level = 3 WHERE device_id = :d"),
                     {"d": cam["a"]})  # fmt: skip
        assert not may_view(conn, pa, cam["a"])
        savepoint.rollback()
        assert principal_of_subject(conn, "user:nobody-" + a_user) is None
        assert principal_of_subject(conn, "cli:root") is None
    with pytest.raises(AccessDenied, match="may not import"):
        check(pv, "import")
    with pytest.raises(AccessDenied, match="nobody"):
        check(pa, "no-such-action")


def test_token_of_a_disabled_user_stops_and_carries_its_scope(demo_engine: Engine) -> None:
    codes = _codes(demo_engine)
    user = _name("etl")
    with demo_engine.begin() as conn:
        create_user(conn, user, "planner")
        token = create_token(conn, _name("t"), user_name=user, role="planner",
                             jurisdiction_code=codes["a"], clearance=2)  # fmt: skip
    with demo_engine.begin() as conn:
        who = verify_token(conn, token)
        assert who is not None and who.kind == "token" and who.scope.clearance == 2
        assert who.scope.root_code == codes["a"] and not who.scope.whole_city
        set_disabled(conn, user, True)
    with demo_engine.begin() as conn:
        assert verify_token(conn, token) is None


@pytest.fixture
def audit_db(fresh_db: str) -> Iterator[Engine]:
    eng = create_engine(fresh_db)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def test_audit_chain_verifies_and_names_the_first_tampered_row(audit_db: Engine) -> None:
    for i in range(6):
        audit.record_now(audit_db, None, "login", f"user{i}", actor=f"user:u{i}",
                         details={"n": i, "text": "注意 ' ; DROP TABLE x"})  # fmt: skip
    with audit_db.connect() as conn:
        good = audit.verify_chain(conn)
    assert good.ok and good.rows == 6 and len(good.head) == 64
    with audit_db.begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("UPDATE audit_log SET outcome='x' WHERE seq=3"))
    with audit_db.begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("DELETE FROM audit_log WHERE seq=6"))
    with audit_db.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        conn.execute(text("UPDATE audit_log SET target='someone else' WHERE seq=4"))
    with audit_db.connect() as conn:
        bad = audit.verify_chain(conn)
    assert not bad.ok and bad.first_bad_seq == 4 and "hash" in bad.reason
    with audit_db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq IN (2, 4)"))
    with audit_db.connect() as conn:
        gap = audit.verify_chain(conn)
        assert not gap.ok and gap.first_bad_seq == 3 and "missing" in gap.reason
        conn.execute(text("DELETE FROM audit_log WHERE seq > 1"))
        short = audit.verify_chain(conn, expect_head=good.head)
    assert not short.ok and "expected head" in short.reason


def test_audit_refuses_unknown_actions(audit_db: Engine) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record_now(audit_db, None, "logn")
    assert Scope().whole_city
