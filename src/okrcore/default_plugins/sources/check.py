"""The ``sources`` check: every key result's source binding is valid (docs/checks.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from okrcore.checks import CheckContext, Finding, Severity
from okrcore.model import Plan
from okrcore.sources import QueryProblem, Source

__all__ = ["check_sources"]


def check_sources(plan: Plan, context: CheckContext) -> Iterator[Finding]:
    """Every key result's source binding names a known connection whose plugin is installed,
    and the connection's settings and the query pass the plugin's own validation."""
    manager = context.manager
    if manager is None:
        from okrcore.plugins import default_manager

        manager = default_manager()
    registry = manager.sources
    for name, conn in sorted(plan.connections.items()):
        where = f"connections.{name}"
        if conn.plugin not in registry:
            yield Finding("SRC-002", Severity.ERROR,
                          f"connection {name!r} uses plugin {conn.plugin!r}, which no installed "
                          f"plugin provides {registry.why_missing(conn.plugin)}",
                          f"{where}.plugin")
            continue
        source_cls: type[Source] = registry.get(conn.plugin)
        for p in _safely(source_cls.validate_connection, conn):
            field = f"{where}.{p.field}" if p.field else where
            yield Finding("SRC-003", Severity.ERROR, f"connection {name!r}: {p.message}", field)
    for i, obj in enumerate(plan.objectives):
        for j, kr in enumerate(obj.key_results):
            if kr.source is None:
                continue
            at = f"objectives[{i}].key_results[{j}].source"
            conn_name = kr.source.get("connection")
            if not isinstance(conn_name, str) or conn_name not in plan.connections:
                names = ", ".join(sorted(plan.connections)) or "none"
                message = (f"key result {kr.id!r}: unknown connection {conn_name!r} (known: "
                           f"{names})" if conn_name is not None else
                           f"key result {kr.id!r}: the source needs a connection")
                yield Finding("SRC-001", Severity.ERROR, message, f"{at}.connection")
                continue
            conn = plan.connections[conn_name]
            if conn.plugin not in registry:
                continue  # reported once, on the connection
            source_cls = registry.get(conn.plugin)
            query = {k: v for k, v in kr.source.items() if k != "connection"}
            for p in _safely(source_cls.validate_query, query, kr):
                field = f"{at}.{p.field}" if p.field else at
                yield Finding("SRC-004", Severity.ERROR,
                              f"key result {kr.id!r} ({conn.plugin}): {p.message}", field)


def _safely(func: Callable[..., list[QueryProblem]], *args: Any) -> list[QueryProblem]:
    try:
        return list(func(*args))
    except Exception as exc:  # a plugin's validator that raises is a problem to show
        return [QueryProblem("", f"validation raised {type(exc).__name__}: {exc}")]
