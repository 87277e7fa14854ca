"""Hook specifications: the extension points of okrcore.

Plugins implement these with ``@okrcore.hookimpl`` and are discovered through the ``okrcore``
entry-point group. Registration hooks receive a ``register`` callable; call it once per object.
pluggy passes an implementation only the arguments it names, so new arguments can be added to a
hook later without breaking existing plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from .model import Plan, RunRecord

hookspec = pluggy.HookspecMarker("okrcore")
hookimpl = pluggy.HookimplMarker("okrcore")


@hookspec
def okrcore_register_sources(register: Callable[[type[Any]], None]) -> None:
    """Register metric-source classes.

    Call ``register(SourceClass)`` for each :class:`okrcore.sources.Source` subclass. The class's
    ``name`` is what plans put in a connection's ``plugin`` key; a name registered twice is refused
    with both owners named. Runs once, when the registry is first used.
    """


@hookspec
def okrcore_register_notifiers(register: Callable[[type[Any]], None]) -> None:
    """Register notifier classes.

    Call ``register(NotifierClass)`` for each :class:`okrcore.notifiers.Notifier` subclass; its
    ``name`` is what a plan's ``notify`` channel puts in ``plugin``. Runs once, on first use.
    """


@hookspec
def okrcore_register_stores(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    """Register check-in store backends by URL scheme.

    Call ``register(scheme, factory)``; ``factory(url)`` returns an object implementing
    :class:`okrcore.store.Store`. ``okrcore.open_store("scheme://...")`` picks the factory by the
    URL's scheme. The built-in ``sqlite`` and ``memory`` schemes are registered this way.
    """


@hookspec
def okrcore_register_checks(register: Callable[[Any], None]) -> None:
    """Register quality-check rules.

    Call ``register(check)`` with an :class:`okrcore.checks.Check`: a stable code prefix, a name
    the plan's ``checks`` section can switch off, and a function ``(plan, context) -> findings``.
    """


@hookspec
def okrcore_register_policies(register: Callable[[Any], None]) -> None:
    """Register grading and status policies.

    Call ``register(policy)`` with an :class:`okrcore.scoring.GradingPolicy` or
    :class:`okrcore.scoring.StatusPolicy`; a plan chooses one by name in its ``policy`` section
    (``policy: {grading: NAME, status: NAME}``). The built-in ones are named ``default``.
    """


@hookspec
def okrcore_refresh_finished(run: RunRecord, plan: Plan, store: Any) -> None:
    """Called after a refresh run has been recorded in the store.

    ``run`` has each key result's outcome. Use it to notify, export or alert. Exceptions raised
    here are reported and do not undo the refresh.
    """
