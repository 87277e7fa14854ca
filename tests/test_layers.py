"""The layering: the import contract in pyproject.toml holds, and plugins use public names only."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a plugin may import from okrcore: the documented contracts (docs/plugins.md, docs/api.md).
PLUGIN_API = {
    "okrcore",
    "okrcore.benchmarks",
    "okrcore.checks",
    "okrcore.errors",
    "okrcore.hookspecs",
    "okrcore.model",
    "okrcore.notifiers",
    "okrcore.policies",
    "okrcore.sources",
    "okrcore.store",
    "okrcore.tasks",
    "okrcore.templates",
    "okrcore.testing",
}


def test_the_import_contract_holds() -> None:
    # import-linter comes with the test extra; it reads [tool.importlinter] in pyproject.toml
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _layered() -> set[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in contract["layers"] for name in layer.split(":")}


def test_every_module_is_in_a_layer() -> None:
    # a module in no layer escapes the contract: it could import anything, and be imported by
    # anything, without the contract breaking
    package = ROOT / "src" / "okrcore"
    modules = {
        f"okrcore.{path.stem if path.is_file() else path.name}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert len(modules) > 20
    assert sorted(modules - _layered()) == []
    assert sorted(_layered() - modules) == []


def _okrcore_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name.split(".")[0] == "okrcore"]


def test_plugins_import_only_okrcores_public_modules() -> None:
    sources = [
        *ROOT.glob("plugins/*/src/**/*.py"),
        *ROOT.glob("examples/plugin-tutorial/src/**/*.py"),
    ]
    assert len(sources) > 10
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sources
        for line, name in _okrcore_imports(path)
        if name not in PLUGIN_API
    ]
    assert wrong == []


def test_the_test_suite_installs_no_system_package() -> None:
    # installing Chromium is an explicit step (nox -s browser, run by .ci/run), never a side
    # effect of running tests
    offenders = [
        str(path.relative_to(ROOT))
        for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("plugins/*/tests/*.py")]
        if path.name != "test_layers.py"
        and re.search(r"""which\(["']apt-get|\[["']apt-get["']""", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
