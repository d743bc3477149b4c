"""scripts/api_example.py runs end to end against a live API on the demo city: it lists,
imports, analyses and queries through the API alone, and the store shows each step."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from api import app as api_app
from settings import PROJECT_ROOT, Settings
from store.tokens import create_token
from tests.fake_cameras import GatewayThread

SCRIPT = PROJECT_ROOT / "scripts" / "api_example.py"


@pytest.fixture(scope="module")
def live(city_url: str) -> Iterator[tuple[Engine, GatewayThread]]:
    engine = create_engine(city_url)
    settings = Settings(stream_signing_key="example-test-key")  # type: ignore[arg-type]
    api = GatewayThread(lambda: api_app.create_app(settings, engine)).start()
    yield engine, api
    api.stop()
    engine.dispose()


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_the_example_script_lists_imports_analyses_and_queries(
    live: tuple[Engine, GatewayThread], tmp_path: Path
) -> None:
    engine, api = live
    name = f"example-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        token = create_token(conn, name, user_name="example", role="admin",
                             jurisdiction_code=None, clearance=10)  # fmt: skip
    token_file = tmp_path / "token"
    token_file.write_text(token)
    runs, alarms = (_count(engine, f"SELECT count(*) FROM {t}") for t in ("coverage_runs",
                                                                           "alarms"))
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", api.base, "--token-file", str(token_file),
         "--limit", "50", "--pages", "2"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    log = out.stdout
    assert re.search(r"page 1: 50 cameras of \d+", log) and "page 2: 50 cameras" in log
    assert "counts {'inserted': 1" in log or "'inserted': 1" in log, log
    assert re.search(r"202 Location: /jobs/\d+", log) and "done" in log
    assert re.search(r"alarm \d+ in \S+, \d+ camera\(s\) with signed stream URLs", log), log
    # the store saw each step, under this token
    assert _count(engine, "SELECT count(*) FROM coverage_runs") == runs + 1
    assert _count(engine, "SELECT count(*) FROM alarms") == alarms + 1
    with engine.connect() as conn:
        actions = conn.execute(text("SELECT action FROM audit_log WHERE actor = :a ORDER BY seq"),
                               {"a": f"token:{name}"}).scalars().all()  # fmt: skip
        added = conn.execute(text("SELECT device_id FROM cameras WHERE name = "
                                  "'API example camera'")).scalars().all()  # fmt: skip
    assert actions == ["import", "coverage.run", "alarm.intake"]
    assert len(added) == 1
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM cameras WHERE device_id = ANY(:d)"), {"d": added})


def test_the_example_script_reports_problems(live: tuple[Engine, GatewayThread],
                                             tmp_path: Path) -> None:  # fmt: skip
    _, api = live
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", api.base, "--token", "slt_not-a-token"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "error: 401" in out.stderr and "unknown or revoked" in out.stderr
