"""API token checks: a read per request, the use stamp refreshed at most once a minute."""

from __future__ import annotations

from sqlalchemy import Engine, text

from store.tokens import USE_STAMP_S, create_token, revoke_token, verify_token


def _stamp(engine: Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text("SELECT last_used_at FROM api_tokens WHERE name=:n"),
                            {"n": name}).scalar_one()  # fmt: skip


def test_use_stamp_is_written_once_a_minute(engine: Engine) -> None:
    assert USE_STAMP_S == 60
    with engine.begin() as conn:
        token = create_token(conn, "stamp-test", user_name="u", role="viewer",
                             jurisdiction_code=None)  # fmt: skip
    assert _stamp(engine, "stamp-test") is None
    with engine.begin() as conn:
        who = verify_token(conn, token)
    assert who is not None and who.role == "viewer" and who.user_name == "u"
    first = _stamp(engine, "stamp-test")
    assert first is not None
    with engine.begin() as conn:  # within the minute: nothing written
        assert verify_token(conn, token) is not None
    assert _stamp(engine, "stamp-test") == first
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' "
                          "WHERE name='stamp-test'"))  # fmt: skip
    with engine.begin() as conn:
        assert verify_token(conn, token) is not None
    later = _stamp(engine, "stamp-test")
    assert later is not None and later > first  # type: ignore[operator]
    with engine.begin() as conn:
        assert revoke_token(conn, "stamp-test")
        assert verify_token(conn, token) is None
        assert verify_token(conn, token + "x") is None
