"""Hook specifications: the extension points of okrcore.

Plugins implement these with ``@okrcore.hookimpl`` and are discovered through the ``okrcore``
entry-point group. Registration hooks receive a ``register`` callable; call it once per object.
pluggy passes an implementation only the arguments it names, so new arguments can be added to a
hook later without breaking existing plugins. A plugin implementing a hook not listed here is
refused (usually a typo, or a plugin written for a newer okrcore).

docs/hooks.md is generated from this module (``okrcore.plugins.hook_reference()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from .events import Event
    from .model import Plan, RunRecord

hookspec = pluggy.HookspecMarker("okrcore")
hookimpl = pluggy.HookimplMarker("okrcore")


@hookspec
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register metric-source classes.

    Receives ``register``; call ``register(SourceClass)`` once for each
    :class:`okrcore.sources.Source` subclass. The class's ``name`` is what plans put in a
    connection's ``plugin`` key. A name registered twice is refused (the first registration stays)
    and reported by ``okr plugins`` with both owners named. Returns nothing. Runs once per plugin
    manager, the first time its ``sources`` registry is used (``okr refresh``, ``okr lint``).
    """


@hookspec
def okrcore_register_notifiers(register: Callable[[type[Any]], None]) -> None:
    """Register notifier classes.

    Receives ``register``; call ``register(NotifierClass)`` for each
    :class:`okrcore.notifiers.Notifier` subclass. Its ``name`` is what a plan's ``notify`` channel
    puts in ``plugin``; duplicates are refused as for sources. Returns nothing. Runs once per
    plugin manager, the first time its ``notifiers`` registry is used.
    """


@hookspec
def okrcore_register_stores(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Register check-in store backends by URL scheme.

    Receives ``register``; call ``register(scheme, factory)``, where ``factory(url)`` returns an
    object implementing :class:`okrcore.store.Store`. ``okrcore.open_store("scheme://...")``
    picks the factory by the URL's scheme. The built-in ``sqlite`` and ``memory`` schemes are
    registered this way. Returns nothing. Runs once per plugin manager, on the first
    ``open_store``.
    """


@hookspec
def okrcore_register_checks(register: Callable[[Any], None]) -> None:
    """Register quality-check rules.

    Receives ``register``; call ``register(check)`` with an :class:`okrcore.checks.Check`: a name
    the plan's ``checks`` section can switch off or configure, a stable code prefix, and a
    function ``(plan, context) -> findings``. Returns nothing. Runs once per plugin manager, the
    first time ``okrcore.check`` (``okr lint``) runs.
    """


@hookspec
def okrcore_register_policies(register: Callable[[Any], None]) -> None:
    """Register grading and status policies.

    Receives ``register``; call ``register(policy)`` with an
    :class:`okrcore.policies.GradingPolicy` or :class:`okrcore.policies.StatusPolicy` (its ``role``
    and ``name`` key it as ``"grading:NAME"`` or ``"status:NAME"``). A plan chooses one by name in
    its ``policy`` section (``policy: {grading: NAME, status: NAME}``); the built-in ones are named
    ``default``. Returns nothing. Runs once per plugin manager, on first scoring.
    """


@hookspec
def okrcore_register_benchmarks(register: Callable[[Any], None]) -> None:
    """Register benchmark ranges for the Achievable check.

    Receives ``register``; call ``register(benchmark)`` with an
    :class:`okrcore.benchmarks.Benchmark`: a unique ``name``, the ``metric`` it applies to (a key
    result's ``metric``), the typical ``low`` and ``high`` values in its ``unit``, and the
    ``source`` the range comes from, which findings cite. When a key result has no history, the
    ``achievable`` check flags a target far outside its benchmark (``SMART-A003``). Duplicates
    are refused as for sources. Returns nothing. Runs once per plugin manager, the first time
    the check runs.
    """


@hookspec
def okrcore_register_templates(register: Callable[[Any], None]) -> None:
    """Register plan templates for ``okr init``.

    Receives ``register``; call ``register(template)`` with an :class:`okrcore.templates.Template`:
    a ``name`` (lowercase, digits and ``-``; what ``okr init --template NAME`` takes), a one-line
    ``description`` and the plan-file ``text``, with ``{{cycle_id}}``, ``{{cycle_title}}``,
    ``{{start}}`` and ``{{end}}`` where the starting quarter goes. Duplicates are refused as for
    sources. Returns nothing. Runs once per plugin manager, the first time its ``templates``
    registry is used (``okr init``).
    """


@hookspec
def okrcore_refresh_finished(run: RunRecord, plan: Plan, store: Any, manager: Any) -> None:
    """Called after a refresh run has been recorded in the store.

    Receives the :class:`okrcore.model.RunRecord` (each key result's outcome, per-connection info),
    the :class:`okrcore.model.Plan`, the store the check-ins went to and the
    :class:`okrcore.plugins.PluginManager` that ran the refresh (use it, not the default manager, to
    look up notifiers or policies); name only the arguments you need. Return value ignored. Runs at
    the end of every ``okrcore.refresh`` that is not a dry run. An exception raised here is reported
    in ``RefreshResult.hook_errors`` and the run log; it neither undoes the refresh nor stops other
    implementations.
    """


@hookspec
def okrcore_event(event: Event, plan: Plan, store: Any, manager: Any) -> None:
    """Called once for each event (a key result reached its target or stretch, turned red,
    recovered, went stale; a KPI went off target or recovered; an initiative became overdue) a
    refresh brought.

    Receives the :class:`okrcore.events.Event` (``kind``, ``subject``, ``title``, ``at``,
    ``summary``, ``key``, ``owner``, ``data``), the :class:`okrcore.model.Plan`, the store and the
    :class:`okrcore.plugins.PluginManager`; name only the arguments you need. Return value ignored.
    Runs after every refresh that is not a dry run or a backfill, once per event and
    implementation: okrcore records in the store that this implementation took the event (as
    ``plugin:NAME``) and never calls it again for the same ``event.key``, not on a re-run nor
    from a second worker. An exception raised here is reported (``okr refresh`` exits 1 naming the
    plugin) and the event is not recorded, so the next refresh calls the implementation again.
    """
