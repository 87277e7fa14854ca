"""A key result's Asana query: validation, the fields to ask for, and task filters (no I/O).

A query names a ``project`` (its gid), a ``metric`` (see :mod:`okrcore_asana.progress`) and
optional filters that a task must all pass: ``section`` (name or gid), ``tag`` (any of the names),
``assignee`` (any of the emails or gids) and ``custom_fields`` (for each field name, any of the
values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from okrcore.model import KeyResult, Kind, Measure
from okrcore.sources import QueryProblem, unknown_keys
from okrcore.tasks import METRICS

__all__ = ["AsanaQuery", "default_metric", "parse_query", "validate_query"]

_KEYS = ("project", "metric", "section", "tag", "assignee", "custom_fields")
_BASE_FIELDS = ("completed", "completed_at", "created_at")


def _names(value: Any) -> tuple[str, ...]:
    """One value or a list of values, as strings."""
    items = value if isinstance(value, list) else [value]
    return tuple(str(v) for v in items)


def _gid(value: Any) -> str | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if text.isdigit() else None


@attrs.frozen
class AsanaQuery:
    """A validated query."""

    project: str
    metric: str
    section: str | None = None
    tags: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    custom_fields: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def opt_fields(self) -> list[str]:
        """The task fields these filters read (Asana returns only the fields asked for)."""
        fields = list(_BASE_FIELDS)
        if self.section:
            fields += ["memberships.project.gid", "memberships.section.name"]
        if self.tags:
            fields.append("tags.name")
        if self.assignees:
            fields.append("assignee.email")
        if self.custom_fields:
            fields += ["custom_fields.name", "custom_fields.display_value",
                       "custom_fields.number_value", "custom_fields.multi_enum_values.name"]
        return fields

    def matches(self, task: Mapping[str, Any]) -> bool:
        """Whether a task (as Asana sends it) passes every filter."""
        if self.section and not any(
            _gid_of(m.get("project")) == self.project
            and self.section in (_gid_of(m.get("section")), _name_of(m.get("section")))
            for m in _dicts(task.get("memberships"))
        ):
            return False
        if self.tags and not {_name_of(t) for t in _dicts(task.get("tags"))} & set(self.tags):
            return False
        if self.assignees:
            person = task.get("assignee")
            if not isinstance(person, Mapping) or not (
                {_gid_of(person), str(person.get("email") or "").lower()}
                & {a.lower() for a in self.assignees}
            ):
                return False
        fields = {_name_of(f): f for f in _dicts(task.get("custom_fields"))}
        return all(_field_matches(fields.get(name), wanted) for name, wanted in self.custom_fields)


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _gid_of(value: Any) -> str | None:
    return str(value.get("gid")) if isinstance(value, Mapping) else None


def _name_of(value: Any) -> str | None:
    return str(value.get("name")) if isinstance(value, Mapping) else None


def _field_matches(field: Mapping[str, Any] | None, wanted: tuple[str, ...]) -> bool:
    """A custom field's value is one of ``wanted``: an enum, multi-enum, text or number value."""
    if field is None:
        return False
    have = {str(field.get("display_value") or "")}
    have |= {n for n in (_name_of(o) for o in _dicts(field.get("multi_enum_values"))) if n}
    number = field.get("number_value")
    for value in wanted:
        if value in have:
            return True
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            try:
                if float(value) == float(number):
                    return True
            except ValueError:
                pass
    return False


def validate_query(query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
    """Every problem with a query mapping for key result ``kr``, found without I/O."""
    measure = kr.measure
    problems = unknown_keys(query, _KEYS, "key")
    if _gid(query.get("project")) is None:
        problems.append(QueryProblem(
            "project", "project must be the project's gid, the number in its URL "
            "(app.asana.com/0/<gid>/...)"))
    metric = query.get("metric", default_metric(kr))
    if metric not in METRICS:
        problems.append(QueryProblem("metric", f"metric must be one of {', '.join(METRICS)}"))
    elif measure is Measure.CUMULATIVE and metric != "completed":
        problems.append(QueryProblem(
            "metric", f"a cumulative key result adds up daily amounts: use metric completed, "
            f"or make the key result a gauge to track {metric}"))
    section = query.get("section")
    if section is not None and not (isinstance(section, (str, int)) and str(section).strip()):
        problems.append(QueryProblem("section", "section must be a section's name or gid"))
    for key in ("tag", "assignee"):
        value = query.get(key)
        if value is not None and not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip()
            for v in _listed(value) or [None]
        ):
            problems.append(QueryProblem(key, f"{key} must be a name or a list of names"))
    fields = query.get("custom_fields")
    if fields is not None:
        if not isinstance(fields, Mapping) or not fields:
            problems.append(QueryProblem(
                "custom_fields", "custom_fields maps a field name to a value or list of values"))
        else:
            for name, value in fields.items():
                if not _listed(value) or any(
                    isinstance(v, (Mapping, list)) or v is None for v in _listed(value)
                ):
                    problems.append(QueryProblem(
                        f"custom_fields.{name}", "expected a value or a list of values"))
    return problems


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def default_metric(kr: KeyResult) -> str:
    """Completions for a cumulative key result, the fraction done for a milestone, else the
    percentage done."""
    if kr.measure is Measure.CUMULATIVE:
        return "completed"
    return "fraction_done" if kr.kind is Kind.MILESTONE else "percent_done"


def parse_query(query: Mapping[str, Any], kr: KeyResult) -> AsanaQuery:
    """An :class:`AsanaQuery` from a valid mapping; raises ValueError naming the problems."""
    problems = validate_query(query, kr)
    if problems:
        raise ValueError("; ".join(f"{p.field}: {p.message}" for p in problems))
    section = query.get("section")
    fields = query.get("custom_fields") or {}
    return AsanaQuery(
        project=str(query["project"]),
        metric=str(query.get("metric", default_metric(kr))),
        section=str(section).strip() if section is not None else None,
        tags=_names(query["tag"]) if "tag" in query else (),
        assignees=_names(query["assignee"]) if "assignee" in query else (),
        custom_fields=tuple((str(k), _names(v)) for k, v in fields.items()),
    )
