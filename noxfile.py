"""Developer tasks: `nox -s tests`, `nox -s demo`, `nox -s lint`, `nox -s typecheck`, `nox -s docs`,
`nox -s bench`, `nox -s browser`. Every session installs what it needs into its own virtualenv;
`browser` installs the one system package the tests can use (Chromium), as an explicit step."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
# every plugin distribution, and the tutorial plugin of docs/plugins.md (tested like the others)
PLUGINS = [
    *sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()),
    ROOT / "examples" / "plugin-tutorial",
]


def install_all(session: nox.Session) -> None:
    """okrcore with its test extras, and every plugin under plugins/ with theirs."""
    session.install("-e", ".[test]")
    for plugin in PLUGINS:
        extras = "[test]" if "test" in (plugin / "pyproject.toml").read_text() else ""
        session.install("-e", f"{plugin}{extras}")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite: core and every plugin."""
    install_all(session)
    plugin_tests = [str(p / "tests") for p in PLUGINS if (p / "tests").is_dir()]
    # 4 processes on any machine: most tests wait on a local fake server, not on the CPU
    # (on 2 cores: about 2 minutes instead of 6-10); `nox -s tests -- -n 0` runs them in one
    session.run("pytest", "-n", "4", "tests", *plugin_tests, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the core, the plugins, tests, benchmarks and examples; the import layers."""
    session.install("ruff", "import-linter", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("lint-imports")  # the contract is in pyproject.toml


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy (strict) over the core, the plugins and their tests."""
    install_all(session)
    session.install("mypy", "types-requests", "types-PyYAML", "types-jsonschema")
    session.run("mypy")
    session.run("mypy", "tests")
    for plugin in PLUGINS:
        for folder in (plugin / "src", plugin / "tests"):  # separately: each has its own roots
            if folder.is_dir():
                session.run("mypy", "--config-file", str(ROOT / "pyproject.toml"), str(folder))


@nox.session
def docs(session: nox.Session) -> None:
    """Build docs/ strictly with MkDocs (warnings are errors)."""
    session.install("mkdocs>=1.6", "-e", ".")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "build" / "site"))


@nox.session(python=False)
def browser(session: nox.Session) -> None:
    """Install Chromium (Debian's package) for the HTML dashboard's browser tests, unless one is
    on the PATH. Needs root and apt; .ci/run runs it under CI=true. The test suite never installs
    anything itself: without Chromium its browser tests skip, saying so (and fail under CI=true).
    """
    names = ("chromium", "chromium-browser", "google-chrome")
    found = [shutil.which(name) for name in names if shutil.which(name)]
    if found:
        session.log(f"Chromium is installed: {found[0]}")
        return
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium",
                external=True)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job, offline: refresh, score and report the example plan on SQLite."""
    session.install("-e", ".[all]")
    session.run("okr", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory benchmarks; each prints ratios measured side by side in one run."""
    install_all(session)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
