"""Survey upload over HTTP: real aiohttp server, real multipart requests, real PostGIS."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import Engine, create_engine, text

from api.app import create_app, safe_name
from settings import Settings
from store import migrate
from store.queries import row_counts
from store.tokens import create_token, revoke_token


@pytest.fixture
def tokens(city: Engine) -> Iterator[dict[str, str]]:
    out = {}
    with city.begin() as conn:
        conn.execute(text("DELETE FROM api_tokens"))
        for role in ("planner", "viewer"):
            out[role] = create_token(conn, f"t-{role}", user_name=f"{role} user", role=role,
                                     jurisdiction_code=None)  # fmt: skip
    yield out


Reply = tuple[int, dict[str, Any], dict[str, str]]


def _post(
    engine: Engine, path: str, body: aiohttp.FormData | None, token: str | None,
    settings: Settings | None = None,
) -> Reply:  # fmt: skip
    async def go() -> Reply:
        app = create_app(settings or Settings(), engine)
        async with TestServer(app, host="127.0.0.1") as server:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with aiohttp.ClientSession() as s:
                url = server.make_url(path)
                async with s.post(url, data=body, headers=headers) as resp:
                    return resp.status, json.loads(await resp.text()), dict(resp.headers)

    return asyncio.run(go())


def _form(path: Path, name: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(path.read_bytes()), filename=name or path.name)
    return form


def test_no_or_bad_token_is_401_problem_json(city: Engine, samples: Path) -> None:
    status, body, headers = _post(city, "/imports/cameras?crs=wgs84",
                                  _form(samples / "cameras.xlsx"), None)  # fmt: skip
    assert status == 401 and headers["Content-Type"].startswith("application/problem+json")
    assert "Bearer" in headers["WWW-Authenticate"] and body["status"] == 401
    status, body, _ = _post(city, "/imports/cameras", _form(samples / "cameras.xlsx"), "slt_nope")
    assert status == 401 and "unknown or revoked" in body["detail"]


def test_viewer_may_not_import(city: Engine, samples: Path, tokens: dict[str, str]) -> None:
    before = row_counts(city)["cameras"]
    status, body, _ = _post(city, "/imports/cameras?crs=wgs84", _form(samples / "cameras.xlsx"),
                            tokens["viewer"])  # fmt: skip
    assert status == 403 and "viewer" in body["detail"]
    assert row_counts(city)["cameras"] == before


def test_planner_uploads_and_the_import_is_recorded_with_the_user(
    city: Engine,
    samples: Path,
    tokens: dict[str, str],
) -> None:
    status, body, _ = _post(city, "/imports/cameras?crs=wgs84&dry_run=true",
                            _form(samples / "cameras.xlsx", "../../etc/passwd.xlsx"),
                            tokens["planner"])  # fmt: skip
    assert status == 200, body
    assert body["dry_run"] is True and body["counts"]["read"] == 25
    with city.connect() as conn:
        rec = conn.execute(text("SELECT user_name, status, file_name FROM survey_imports "
                                "ORDER BY id DESC LIMIT 1")).one()  # fmt: skip
    assert rec.user_name == "planner user" and rec.status == "dry_run"
    assert "/etc/" not in rec.file_name and rec.file_name.endswith("passwd.xlsx")


def test_invalid_rows_are_422_with_the_errors(
    city: Engine,
    samples: Path,
    tokens: dict[str, str],
) -> None:
    before = row_counts(city)["cameras"]
    status, body, _ = _post(city, "/imports/cameras?crs=wgs84", _form(samples / "cameras_gbk.csv"),
                            tokens["planner"])  # fmt: skip
    assert status == 422
    assert sorted({e["row"] for e in body["errors"]}) == list(range(14, 22))
    assert {"row", "field", "value", "reason"} <= set(body["errors"][0])
    assert row_counts(city)["cameras"] == before


def test_missing_crs_is_400_and_oversize_is_413(
    city: Engine,
    samples: Path,
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    status, body, _ = _post(city, "/imports/cameras", _form(samples / "cameras_gbk.csv"),
                            tokens["planner"])  # fmt: skip
    assert status == 400 and "--crs" in body["detail"]
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (2 * 1024 * 1024 + 10))
    status, body, _ = _post(city, "/imports/cameras?crs=wgs84", _form(big), tokens["planner"],
                            Settings(upload_max_mb=1))  # fmt: skip
    assert status == 413


def test_revoked_token_stops_working(city: Engine, samples: Path, tokens: dict[str, str]) -> None:
    with city.begin() as conn:
        assert revoke_token(conn, "t-planner")
    status, _, _ = _post(city, "/imports/cameras?crs=wgs84", _form(samples / "cameras.xlsx"),
                         tokens["planner"])  # fmt: skip
    assert status == 401


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\\\temp\\\\x.csv", "x.csv"),
        ("..", "upload"),
        (None, "upload"),
    ],
)
def test_safe_name(given: str | None, expected: str) -> None:
    assert safe_name(given) == expected


def test_token_is_stored_hashed(fresh_db: str) -> None:
    engine = create_engine(fresh_db)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            token = create_token(conn, "x", user_name="u", role="admin", jurisdiction_code=None)
            stored = conn.execute(text("SELECT token_sha256 FROM api_tokens")).scalar_one()
        assert token not in stored and len(stored) == 64
    finally:
        engine.dispose()
