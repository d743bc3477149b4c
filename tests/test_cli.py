"""The `sightline` command as a user runs it (a real subprocess, real cluster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store import migrate
from store.cluster import free_port

SIGHTLINE = str(Path(sys.executable).with_name("sightline"))


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SIGHTLINE_") and k != "DATABASE_URL"
    }
    return subprocess.run(
        [SIGHTLINE, *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["db"],
        ["db", "start"],
        ["db", "stop"],
        ["db", "status"],
        ["db", "migrate"],
        ["demo", "load"],
        ["import", "osm"],
        ["serve"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    out = run(*args, "--help")
    assert out.returncode == 0, out.stderr
    assert "usage: sightline" in out.stdout


def test_top_level_help_lists_the_commands() -> None:
    out = run("--help").stdout
    for name in ("db", "demo", "import", "serve"):
        assert name in out


def test_unknown_setting_is_a_one_line_error(tmp_path: Path) -> None:
    out = run("db", "status", env={"SIGHTLINE_PG_DIRR": str(tmp_path)})
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1
    assert "SIGHTLINE_PG_DIRR" in out.stderr


def test_log_level_any_case_and_a_bad_one_named() -> None:
    from settings import load_settings

    assert load_settings(log_level="warning").log_level == "WARNING"
    out = run("db", "status", env={"SIGHTLINE_LOG_LEVEL": "loud"})
    assert out.returncode == 1
    assert "log_level" in out.stderr and "'loud'" in out.stderr and "WARNING" in out.stderr


def test_unreachable_database_url_is_a_one_line_error() -> None:
    port = free_port()
    out = run("db", "migrate", env={"DATABASE_URL": f"postgresql://u:pw@127.0.0.1:{port}/x"})
    assert out.returncode == 1
    assert out.stderr.startswith("sightline: error: cannot connect to database")
    assert "pw" not in out.stderr.replace("postgresql", "")


def test_db_lifecycle_through_the_cli(tmp_path: Path) -> None:
    for parent in [tmp_path, *tmp_path.parents]:
        if parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o001)
    env = {"SIGHTLINE_PG_DIR": str(tmp_path / "pg")}
    status = run("db", "status", "--json", env=env)
    assert status.returncode == 3
    assert json.loads(status.stdout)["state"] == "not initialised"
    try:
        started = run("db", "start", "--json", env=env)
        assert started.returncode == 0, started.stderr
        info = json.loads(started.stdout)
        assert info["running"] and info["started"] and info["database_created"]
        again = json.loads(run("db", "start", "--json", env=env).stdout)
        assert not again["started"] and not again["database_created"]
        migrated = run("db", "migrate", "--json", env=env)
        assert migrated.returncode == 0, migrated.stderr
        assert json.loads(migrated.stdout) == {"from": None, "to": migrate.head()}
        assert json.loads(run("db", "migrate", "--json", env=env).stdout)["from"] == migrate.head()
        assert run("db", "status", env=env).returncode == 0
    finally:
        stopped = run("db", "stop", "--json", env=env)
    assert json.loads(stopped.stdout) == {"stopped": True}
    assert run("db", "status", env=env).returncode == 3
