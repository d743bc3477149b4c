"""The code stays lint-clean (ruff) and type-clean (mypy --strict on gis/, store/ and gateway/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_is_clean() -> None:
    out = _run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_on_gis_and_store() -> None:
    out = _run(str(BIN / "mypy"), "--no-incremental", "gis", "store", "gateway", "settings.py")
    assert out.returncode == 0, out.stdout + out.stderr
