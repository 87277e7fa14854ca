"""The plugin system: hooks, registries, discovery through entry points, failure isolation.

Every hook in okrcore.hookspecs has a test here named ``test_hook_<hook name>``
(tests/test_hooks_docs.py fails when one is missing).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import okrcore
from okrcore.checks import Check, Finding, Severity
from okrcore.errors import PluginError
from okrcore.hookspecs import hookimpl
from okrcore.model import Connection, Cycle, KeyResult, Objective, Plan
from okrcore.plugins import DEFAULT_PLUGINS, PluginManager
from okrcore.sources import Reading, Source
from okrcore.store import MemoryStore
from okrcore.testing import FakeServer, Reply

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "examples" / "plugin-tutorial"


class Constant(Source):
    name = "constant"

    def fetch(self, requests: Any) -> Iterator[Reading]:
        for r in requests:
            yield Reading.total(r, 7.0)


def plugin_registering(hook: str, *objects: Any) -> object:
    """A plugin object whose ``hook`` registers ``objects``."""

    def impl(self: Any, register: Callable[..., None]) -> None:
        for obj in objects:
            register(*obj) if isinstance(obj, tuple) else register(obj)

    impl.__name__ = hook
    cls = type("Plugin", (), {hook: hookimpl(impl)})
    return cls()


@pytest.fixture
def manager() -> PluginManager:
    return PluginManager(load_entry_points=False)


def make_dist(root: Path, dist: str, code: str, version: str = "1.0") -> str:
    """Write an importable module and a ``.dist-info`` with an ``okrcore`` entry point into
    ``root`` (a folder on sys.path): what pip leaves behind, read by importlib.metadata."""
    module = f"okr_test_{dist.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    (root / f"{module}.py").write_text(textwrap.dedent(code))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[okrcore]\n{dist} = {module}\n")
    return module


GOOD_PLUGIN = """
    from okrcore.hookspecs import hookimpl
    from okrcore.sources import Reading, Source

    class Good(Source):
        name = "good"

    @hookimpl
    def okrcore_register_sources(register):
        register(Good)
"""


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site folder on sys.path holding a good and a broken distribution."""
    make_dist(tmp_path, "okr-good", GOOD_PLUGIN, "2.5")
    make_dist(tmp_path, "okr-broken", "raise RuntimeError('missing dependency xyz')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "okr-good,okr-broken")
    monkeypatch.delenv("OKRCORE_DISABLE_PLUGINS", raising=False)
    return tmp_path


# -- each hook ---------------------------------------------------------------------------------
def test_hook_okrcore_register_sources(manager: PluginManager) -> None:
    manager.register(plugin_registering("okrcore_register_sources", Constant), "constant-plugin")
    assert manager.sources.get("constant") is Constant
    assert manager.sources.owner("constant") == "constant-plugin"
    assert {"manual", "file", "http_json", "sql", "constant"} <= set(manager.sources)


def test_hook_okrcore_register_notifiers(manager: PluginManager) -> None:
    from okrcore.notifiers import Notifier

    class Pager(Notifier):
        name = "pager"

    manager.register(plugin_registering("okrcore_register_notifiers", Pager), "pager-plugin")
    assert manager.notifiers.get("pager") is Pager
    assert "pager" in manager.notifiers


def test_hook_okrcore_register_stores(manager: PluginManager) -> None:
    opened: list[str] = []

    def factory(url: str) -> MemoryStore:
        opened.append(url)
        return MemoryStore()

    manager.register(plugin_registering("okrcore_register_stores", ("mystore", factory)), "s")
    store = okrcore.open_store("mystore://db/okr", manager=manager)
    assert isinstance(store, MemoryStore)
    assert opened == ["mystore://db/okr"]
    assert {"sqlite", "memory", "mystore"} <= set(manager.stores)


def test_hook_okrcore_register_checks(manager: PluginManager) -> None:
    def no_owner(plan: Plan, context: Any) -> Iterator[Finding]:
        for kr in plan.key_results():
            if kr.owner is None:
                yield Finding("TEAM-001", Severity.WARNING, f"{kr.id} has no owner", kr.id)

    check = Check("owners", "TEAM", no_owner)
    manager.register(plugin_registering("okrcore_register_checks", check), "team-rules")
    assert manager.checks.get("owners") is check
    findings = okrcore.check(small_plan(), manager=manager)
    assert [f.code for f in findings if f.code.startswith("TEAM")] == ["TEAM-001"]


def test_hook_okrcore_register_policies(manager: PluginManager) -> None:
    class Strict:
        role = "grading"
        name = "strict"

    manager.register(plugin_registering("okrcore_register_policies", Strict()), "strict")
    assert isinstance(manager.policies.get("grading:strict"), Strict)


def test_hook_okrcore_register_templates(manager: PluginManager) -> None:
    from okrcore.templates import Template

    text = "okrcore: 1\ncycles: [{id: '{{cycle_id}}', start: '{{start}}', end: '{{end}}'}]\n"
    seo = Template("seo", "SEO team OKRs", text)
    manager.register(plugin_registering("okrcore_register_templates", seo), "agency-templates")
    assert manager.templates.get("seo") is seo
    assert manager.templates.owner("seo") == "agency-templates"
    assert {"marketing", "sales", "product", "smart-goal", "seo"} <= set(manager.templates)


def test_hook_okrcore_register_benchmarks(manager: PluginManager) -> None:
    import datetime as dt

    from okrcore.benchmarks import Benchmark
    from okrcore.model import Cycle, KeyResult, Objective, Plan

    ctr = Benchmark("ctr:search", "ctr_search", 1.0, 5.0, "Example study 2026", unit="%")
    other = Benchmark("ctr:display", "ctr_display", 0.1, 0.5, "Example study 2026", unit="%")
    manager.register(plugin_registering("okrcore_register_benchmarks", ctr, other), "bench")
    assert manager.benchmarks.get("ctr:search") is ctr
    assert manager.benchmarks.owner("ctr:search") == "bench"

    def kr(kr_id: str, target: float, metric: str = "ctr_search") -> KeyResult:
        return KeyResult(kr_id, kr_id, metric=metric, unit="%", baseline=0.5, target=target,
                         cadence="weekly")  # fmt: skip

    plan = Plan(
        cycles=[Cycle("q", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
        objectives=[Objective("o", "O", "q", level="company", key_results=[
            kr("high", 9), kr("ok", 4), kr("bound", 0.9, "ctr_any"), kr("known", 9),
        ])],
        checks={"achievable": {"benchmarks": {"bound": "ctr:display"}}, "counts": False},
    )  # fmt: skip
    history = [okrcore.CheckIn("known", 0.7, dt.date(2026, 1, 4))]
    found = [
        (f.where, f.message)
        for f in okrcore.check(plan, manager=manager, checkins=history)
        if f.code == "SMART-A003"
    ]
    assert [w for w, _ in found] == [
        "objectives[0].key_results[0].target",  # 9% > 1.5 x 5%
        "objectives[0].key_results[2].target",  # bound to ctr:display: 0.9% > 1.5 x 0.5%
    ]
    assert "source: Example study 2026" in found[0][1]
    bad = attrs.evolve(plan, checks={"achievable": {"benchmarks": {"ok": "ctr:none"}}})
    codes = [f.code for f in okrcore.check(bad, manager=manager)]
    assert "OKR-X001" in codes  # an unknown benchmark name is a bad setting
    with pytest.raises(ValueError, match="needs a source"):
        Benchmark("b", "m", 1, 2, " ")


def test_hook_okrcore_refresh_finished(manager: PluginManager) -> None:
    seen: list[tuple[str, str]] = []

    class Listener:
        @hookimpl
        def okrcore_refresh_finished(self, run: Any, plan: Any, store: Any) -> None:
            seen.append((run.as_of.isoformat(), plan.title))

    manager.register(plugin_registering("okrcore_register_sources", Constant), "constant")
    manager.register(Listener(), "listener")
    okrcore.refresh(small_plan(), MemoryStore(), at=dt.date(2026, 1, 5), manager=manager)
    assert seen == [("2026-01-05", "small")]


def test_hook_okrcore_event(manager: PluginManager) -> None:
    seen: list[tuple[str, str, str]] = []

    class Listener:
        @hookimpl
        def okrcore_event(self, event: Any, plan: Any) -> None:
            seen.append((event.kind.value, event.key, plan.title))

    manager.register(plugin_registering("okrcore_register_sources", Constant), "constant")
    manager.register(Listener(), "listener")
    store = MemoryStore()
    goal = attrs.evolve(small_plan(), objectives=[Objective("o", "O", "c1", key_results=[
        KeyResult("k", "Reach 7", baseline=0, target=7, source={"connection": "c"})])])
    for _ in range(2):  # the second run sends nothing again
        result = okrcore.refresh(goal, store, at=dt.date(2026, 1, 5), manager=manager)
        assert result.hook_errors == ()
    assert seen == [("target_reached", "target_reached:k:7.0", "small")]
    assert [d.destination for d in store.event_deliveries()] == ["plugin:listener"]


def small_plan() -> Plan:
    kr = KeyResult("k", "Reach 10", baseline=0, target=10, source={"connection": "c"})
    return Plan(cycles=[Cycle("c1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
                objectives=[Objective("o", "O", "c1", key_results=[kr])],
                connections={"c": Connection("c", "constant")}, title="small")


# -- registries and managers -------------------------------------------------------------------
def test_builtins_come_through_the_same_hooks(manager: PluginManager) -> None:
    infos = {p.name: p for p in manager.plugins(all=True)}
    assert set(DEFAULT_PLUGINS) <= set(infos)
    assert "okrcore_register_sources" in infos["okrcore.default_plugins.sources"].hooks
    assert all(infos[name].builtin for name in DEFAULT_PLUGINS)
    assert manager.plugins() == []  # built-ins are hidden unless asked for
    assert manager.sources.owner("http_json") == "okrcore.default_plugins.sources"


def test_two_managers_share_no_state() -> None:
    one, two = PluginManager(load_entry_points=False), PluginManager(load_entry_points=False)
    one.register(plugin_registering("okrcore_register_sources", Constant), "constant")
    assert "constant" in one.sources
    assert "constant" not in two.sources


def test_unknown_name_lists_the_known_ones(manager: PluginManager) -> None:
    with pytest.raises(PluginError, match=r"unknown source 'nope' \(known: file, http_json"):
        manager.sources.get("nope")


def test_duplicate_names_are_refused_naming_both_owners(manager: PluginManager) -> None:
    class Other(Constant):
        pass

    manager.register(plugin_registering("okrcore_register_sources", Constant), "first")
    manager.register(plugin_registering("okrcore_register_sources", Other), "second")
    assert manager.sources.get("constant") is Constant  # the first registration stays
    (failure,) = manager.all_failures
    assert failure.name == "second"
    assert "'first'" in failure.error
    assert "'second'" in failure.error


def test_a_plugin_cannot_take_a_builtin_name(manager: PluginManager) -> None:
    class FakeFile(Constant):
        name = "file"

    manager.register(plugin_registering("okrcore_register_sources", FakeFile), "squatter")
    assert manager.sources.get("file") is not FakeFile
    assert "okrcore.default_plugins.sources" in manager.all_failures[0].error


def test_a_registration_hook_that_raises_is_reported_and_others_work(
    manager: PluginManager,
) -> None:
    class Broken:
        @hookimpl
        def okrcore_register_sources(self, register: Any) -> None:
            raise ImportError("needs libfoo")

    manager.register(Broken(), "broken")
    manager.register(plugin_registering("okrcore_register_sources", Constant), "constant")
    assert "constant" in manager.sources
    assert [(f.name, f.error) for f in manager.all_failures] == [
        ("broken", "okrcore_register_sources: ImportError: needs libfoo")]


def test_an_unknown_hook_is_refused(manager: PluginManager) -> None:
    class Typo:
        @hookimpl
        def okrcore_register_source(self, register: Any) -> None:  # missing "s"
            pass

    with pytest.raises(PluginError, match="okrcore_register_source"):
        manager.register(Typo(), "typo")
    assert "typo" not in {p.name for p in manager.plugins(all=True)}


def test_a_hook_with_an_unknown_argument_is_refused(manager: PluginManager) -> None:
    class Wrong:
        @hookimpl
        def okrcore_register_sources(self, registry: Any) -> None:
            pass

    with pytest.raises(PluginError, match="registry"):
        manager.register(Wrong(), "wrong")


def test_plan_plugin_module_that_fails_names_it(manager: PluginManager) -> None:
    with pytest.raises(PluginError, match="cannot load plugin module 'no_such_module_xyz'"):
        manager.load_module("no_such_module_xyz")


# -- discovery -----------------------------------------------------------------------------------
def test_importing_okrcore_loads_no_plugin() -> None:
    code = (
        "import sys, okrcore; okrcore.Plan; okrcore.KeyResult;"
        "print(sorted(m for m in sys.modules if m.startswith(('okrcore.default_plugins',"
        "'okrcore_', 'okrcore.plugins'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_builtin_names_resolve_without_scanning_installed_plugins(
    dists: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[str] = []
    real = importlib.metadata.entry_points

    def counting(**kwargs: Any) -> Any:
        scans.append(kwargs.get("group", ""))
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", counting)
    manager = PluginManager()
    assert manager.stores.get("memory") is not None
    assert "sqlite" in manager.stores
    assert manager.policies.get("grading:default") is not None
    assert manager.sources.get("file").name == "file"
    assert manager.checks.get("achievable").code == "SMART-A"
    assert scans == []
    assert manager.sources.get("good").name == "good"  # not built in: discovery, once
    assert "good" in list(manager.sources)
    assert len(manager.checks) > 1
    assert manager.plugins()
    assert "nope" not in manager.stores
    assert scans == ["okrcore"]


def test_scoring_a_plan_imports_no_installed_plugin(
    example_plan_path: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "okr.db")  # `okr score` opens only an existing store
    code = textwrap.dedent(f"""
        import datetime as dt, sys, okrcore
        store = okrcore.open_store({db!r})
        plan = okrcore.load_plan({str(example_plan_path)!r})
        okrcore.score(plan, store.checkins(), at=dt.date(2026, 11, 20))
        from okrcore.cli import main
        main(["score", {str(example_plan_path)!r}, "--store", {db!r}],
             standalone_mode=False)
        loaded = [m for m in sys.modules if m.startswith("okrcore_")
                  or m in ("importlib.metadata", "okrcore.engine", "okrcore.cli.refresh")]
        print(sorted(loaded), file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[]"


def test_entry_points_load_once_with_dist_and_version(dists: Path) -> None:
    manager = PluginManager()
    assert "good" in manager.sources
    info = {p.name: p for p in manager.plugins()}["okr-good"]
    assert (info.distribution, info.version) == ("okr-good", "2.5")
    assert info.hooks == ("okrcore_register_sources",)
    manager.discover()  # a second discovery loads nothing twice
    assert [p.name for p in manager.plugins()].count("okr-good") == 1


def test_a_plugin_that_raises_on_import_is_reported_and_others_load(dists: Path) -> None:
    manager = PluginManager()
    assert "good" in manager.sources
    (failure,) = manager.failures
    assert failure.name == "okr-broken"
    assert failure.error == "RuntimeError: missing dependency xyz"
    assert (failure.distribution, failure.version) == ("okr-broken", "1.0")


def test_load_plugins_variable_limits_what_loads(
    dists: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "okr-good")
    manager = PluginManager()
    assert "good" in manager.sources
    assert manager.failures == []  # the broken one was not even imported
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")
    nothing = PluginManager()
    assert nothing.plugins() == []
    assert "good" not in nothing.sources


def test_disable_plugins_variable_blocks_by_name(
    dists: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRCORE_DISABLE_PLUGINS", "okr-broken")
    manager = PluginManager()
    assert "good" in manager.sources
    assert manager.failures == []


def test_entry_point_with_an_unknown_hook_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "okr-typo", """
        from okrcore.hookspecs import hookimpl

        @hookimpl
        def okrcore_register_widgets(register):
            pass
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "okr-typo")
    manager = PluginManager()
    assert "file" in manager.sources
    (failure,) = manager.failures
    assert failure.name == "okr-typo"
    assert "okrcore_register_widgets" in failure.error


def test_okr_plugins_lists_plugins_and_failures_as_json(dists: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(dists), *sys.path])}
    done = subprocess.run([sys.executable, "-m", "okrcore.cli", "plugins", "--format", "json"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1, done.stderr  # a broken plugin is a failure a cron job sees
    data = json.loads(done.stdout)
    assert data["plugins"] == [{"name": "okr-good", "distribution": "okr-good", "version": "2.5",
                                "hooks": ["okrcore_register_sources"], "builtin": False}]
    assert data["failures"][0]["name"] == "okr-broken"
    assert "missing dependency xyz" in data["failures"][0]["error"]
    text = subprocess.run([sys.executable, "-m", "okrcore.cli", "plugins", "--all"],
                          capture_output=True, text=True, env=env)
    assert "okrcore.default_plugins.sources (built-in)" in text.stdout
    assert "okr-good (okr-good 2.5)" in text.stdout
    assert "okr-broken (okr-broken 1.0): BROKEN\n  error: RuntimeError: missing dependency xyz" in (
        text.stdout
    )
    assert text.stderr == "Error: 1 plugin(s) failed to load: okr-broken\n"
    assert text.returncode == 1


def test_okr_plugins_lists_a_plugin_that_fails_to_import_as_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "okr-needs-dep", "import no_such_dependency_xyz\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
           "OKRCORE_LOAD_PLUGINS": "okr-needs-dep"}
    done = subprocess.run([sys.executable, "-m", "okrcore.cli", "plugins"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "No plugins installed" not in done.stdout
    assert "okr-needs-dep (okr-needs-dep 1.0): BROKEN" in done.stdout
    assert "ModuleNotFoundError: No module named 'no_such_dependency_xyz'" in done.stdout


def test_an_unknown_hook_name_gets_a_did_you_mean(manager: PluginManager) -> None:
    plugin = plugin_registering("okrcore_register_source", Constant)
    with pytest.raises(PluginError, match="did you mean 'okrcore_register_sources'"):
        manager.register(plugin, "typo")


def test_an_unknown_plugin_name_names_the_plugins_that_failed_to_load(dists: Path) -> None:
    manager = PluginManager()
    with pytest.raises(PluginError) as caught:
        manager.sources.get("crm")
    assert str(caught.value).endswith(
        "installed but failed to load, plugin okr-broken (okr-broken 1.0): "
        "RuntimeError: missing dependency xyz"
    )
    plan = Plan(
        cycles=[Cycle("q", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
        objectives=[Objective("o", "O", "q", key_results=[
            KeyResult("k", "K", baseline=0, target=10, source={"connection": "c"})
        ])],
        connections={"c": Connection("c", "crm")},
    )
    (lint,) = [f for f in okrcore.check(plan, manager=manager) if f.code == "SRC-002"]
    assert "RuntimeError: missing dependency xyz" in lint.message
    result = okrcore.refresh(plan, MemoryStore(), at=dt.date(2026, 1, 5), manager=manager)
    (outcome,) = result.run.outcomes
    assert outcome.error is not None
    assert "RuntimeError: missing dependency xyz" in outcome.error


# -- a real distribution, built and installed by pip ---------------------------------------------
@pytest.fixture(scope="module")
def installed_tutorial() -> Path:
    """Where pip installed examples/plugin-tutorial (okrcore-counter). Installing it is the test
    command's explicit step (``nox -s tests`` installs every plugin); a test never installs one."""
    try:
        dist = importlib.metadata.distribution("okrcore-counter")
    except importlib.metadata.PackageNotFoundError:
        why = "okrcore-counter is not installed: pip install -e examples/plugin-tutorial"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return Path(str(dist.locate_file("")))


def test_a_pip_installed_plugin_is_discovered_and_refreshes(
    installed_tutorial: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_tutorial))
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "okrcore-counter")
    monkeypatch.setenv("COUNTER_TOKEN", "t0ken")
    dist = importlib.metadata.distribution("okrcore-counter")
    assert [ep.name for ep in dist.entry_points if ep.group == "okrcore"] == ["counter"]

    manager = PluginManager()
    (info,) = manager.plugins()
    assert (info.name, info.distribution, info.version) == ("counter", "okrcore-counter", "0.1.0")
    assert manager.sources.get("counter").__module__ == "okrcore_counter"

    with FakeServer() as server:
        server.route("/v1/counters/signups/daily", Reply(json={"counter": "signups", "days": [
            {"date": "2026-01-01", "count": 3}, {"date": "2026-01-02", "count": 4}]}))
        kr = KeyResult("k", "Sign-ups", measure="cumulative", baseline=0, target=100,
                       source={"connection": "c", "counter": "signups"})
        plan = Plan(cycles=[Cycle("c1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))],
                    objectives=[Objective("o", "O", "c1", key_results=[kr])],
                    connections={"c": Connection("c", "counter", {"token": "env:COUNTER_TOKEN"},
                                                 endpoint=server.url)})
        store = MemoryStore()
        result = okrcore.refresh(plan, store, at=dt.date(2026, 1, 2), manager=manager)
        assert result.ok
        assert [c.value for c in store.checkins()] == [3.0, 4.0]
        (call,) = server.calls
        assert call.headers["Authorization"] == "Bearer t0ken"
        assert call.query == {"from": "2026-01-01", "to": "2026-01-02"}


def test_default_manager_is_shared_and_follows_the_environment(
    dists: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from okrcore.plugins import default_manager

    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")
    first = default_manager()
    assert default_manager() is first
    assert "good" not in first.sources
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "okr-good")
    second = default_manager()
    assert second is not first
    assert "good" in second.sources


def test_the_tutorial_plugins_own_tests_pass_once_installed(installed_tutorial: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed_tutorial), *sys.path])}
    env.pop("OKRCORE_LOAD_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TUTORIAL / "tests")],
        capture_output=True, text=True, env=env, cwd=TUTORIAL,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout
