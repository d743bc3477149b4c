"""Dependencies point one way: app -> pages -> layers, store, gis; gis imports nothing of ours."""

from __future__ import annotations

import ast
from pathlib import Path

from settings import PROJECT_ROOT

OURS = {
    "app", "settings", "gis", "layers", "store", "importers", "pages", "scripts", "gateway", "api",
    "analysis",
}  # fmt: skip
# package -> the packages of ours it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "gis": set(),
    "store": {"settings"},
    "layers": {"gis", "settings"},
    "importers": {"store", "gis", "settings"},
    "gateway": {"store", "settings"},
    "api": {"importers", "analysis", "store", "gis", "settings"},
    "analysis": {"store", "gis", "settings"},
    "pages": {"layers", "store", "gis", "settings"},
    "app": {"pages", "layers", "store", "gis", "settings"},
    "settings": set(),
    "scripts": OURS - {"scripts"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


def _sources() -> list[tuple[str, Path]]:
    out = []
    for top in sorted(ALLOWED):
        if (PROJECT_ROOT / f"{top}.py").exists():
            out.append((top, PROJECT_ROOT / f"{top}.py"))
        elif (PROJECT_ROOT / top).is_dir():
            out.extend((top, p) for p in sorted((PROJECT_ROOT / top).rglob("*.py")))
    return out


def test_imports_point_one_way() -> None:
    sources = _sources()
    assert len(sources) > 10
    wrong = [
        f"{path.relative_to(PROJECT_ROOT)} imports {dep}"
        for top, path in sources
        for dep in sorted(_imports(path) - {top} - ALLOWED[top])
    ]
    assert wrong == []


def test_only_settings_reads_the_environment() -> None:
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for top, path in _sources()
        if top != "settings" and ("os.environ" in path.read_text() or "getenv(" in path.read_text())
    ]
    assert offenders == []


def test_the_checker_catches_a_wrong_way_arrow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import store.models\nfrom layers import cameras\nimport numpy\n")
    assert _imports(bad) == {"store", "layers"}


def test_readme_documents_every_setting() -> None:
    from settings import Settings

    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [f for f in Settings.model_fields if f"`SIGHTLINE_{f.upper()}`" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    commands = [
        line.strip() for line in ci if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands and all(c in readme for c in commands)


def test_request_paths_never_use_the_operator_scope() -> None:
    """``EVERYTHING`` / ``cli_principal`` are the operator's (the CLI at the server). A console
    page, layer or API handler using them would show every district to everyone; the gateway
    maps only operator-signed ``cli:`` URLs to it (one place, ``gateway.app``)."""
    import re

    pattern = re.compile(r"\bEVERYTHING\b|\bcli_principal\b")
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for top, path in _sources()
        if top in {"app", "pages", "layers", "api"} and pattern.search(path.read_text())
    ]
    gateway = [p for top, p in _sources() if top == "gateway" and pattern.search(p.read_text())]
    assert offenders == []
    assert [p.name for p in gateway] == ["app.py"]
    uses = pattern.findall((PROJECT_ROOT / "gateway" / "app.py").read_text())
    assert len(uses) == 2  # the import and the one cli: mapping
