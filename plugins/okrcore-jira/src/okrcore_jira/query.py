"""A key result's Jira query: validation, the fields to ask for, and issue filters (no I/O).

A query names the issues with ``jql`` (the search runs on Jira's side), a ``metric`` (see
:mod:`okrcore.tasks`), when an issue counts as done (its status category is Done, or its
status is one of ``done_status``), the date field it was ``completed_on`` (``resolutiondate`` by
default) and ``where`` filters checked on each issue, so that key results sharing one JQL share
one search.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from okrcore.model import KeyResult, Kind, Measure
from okrcore.sources import QueryProblem, unknown_keys
from okrcore.tasks import METRICS, TaskCache

__all__ = ["JiraQuery", "Table", "default_metric", "parse_query", "texts", "validate_query"]

_KEYS = ("jql", "metric", "done_status", "completed_on", "where")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ORDER_BY = re.compile(r"\border\s+by\b", re.I)
BASE_FIELDS = ("status", "created")


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != ""


@attrs.frozen
class JiraQuery:
    """A validated query."""

    jql: str
    metric: str
    done_status: tuple[str, ...] = ()
    completed_on: str = "resolutiondate"
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def fields(self) -> list[str]:
        """The issue fields this query reads (the search returns only ``id`` by default)."""
        names = [*BASE_FIELDS, self.completed_on, *(name for name, _ in self.where)]
        return list(dict.fromkeys(names))

    def select(self, table: Table) -> list[int]:
        """The indices of the table's issues that pass every ``where`` filter."""
        chosen: Sequence[int] = range(len(table.fields))
        for name, wanted in self.where:
            column, keys = table.texts(name), frozenset(w.lower() for w in wanted)
            chosen = [i for i in chosen if column[i] & keys]
        return list(chosen)

    def is_done(self, fields: Mapping[str, Any]) -> bool:
        """Done: the status is one of ``done_status``, else its category is Done."""
        status = fields.get("status")
        if not isinstance(status, Mapping):
            raise ValueError("the issue has no status")
        if self.done_status:
            return str(status.get("name", "")).lower() in {s.lower() for s in self.done_status}
        category = status.get("statusCategory")
        if not isinstance(category, Mapping) or not category.get("key"):
            raise ValueError("the issue's status has no statusCategory")
        return category.get("key") == "done"


class Table:
    """The issues of one search (their ``fields``). Each field's comparable texts are worked
    out once, however many key results filter on it."""

    def __init__(self, fields: Sequence[Mapping[str, Any]]) -> None:
        self.fields = list(fields)
        self._texts: dict[str, list[frozenset[str]]] = {}
        self.tasks = TaskCache()  # each issue's task, built once per done rule

    def texts(self, name: str) -> list[frozenset[str]]:
        """Per issue, the lower-cased texts field ``name`` holds (see :func:`texts`)."""
        column = self._texts.get(name)
        if column is None:
            column = [frozenset(t.lower() for t in texts(f.get(name))) for f in self.fields]
            self._texts[name] = column
        return column


def texts(value: Any) -> set[str]:
    """A field value as the strings it may be compared with: names, keys, ids, emails."""
    if value is None:
        return set()
    if isinstance(value, list):
        return set().union(*(texts(v) for v in value)) if value else set()
    if isinstance(value, Mapping):
        return {str(value[k]) for k in ("name", "value", "key", "id", "accountId",
                                        "emailAddress", "displayName") if value.get(k)}
    if isinstance(value, bool):
        return {str(value).lower()}
    if isinstance(value, float) and value.is_integer():
        return {str(int(value))}
    return {str(value)}


def validate_query(query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
    """Every problem with a query mapping for key result ``kr``, found without I/O."""
    problems = unknown_keys(query, _KEYS, "key")
    jql = query.get("jql")
    if not isinstance(jql, str) or not jql.strip():
        problems.append(QueryProblem("jql", "jql selects the issues, e.g. 'project = MKT AND "
                                            "labels = launch'"))
    elif not _ORDER_BY.split(jql)[0].strip():
        problems.append(QueryProblem("jql", "Jira refuses a search without a restriction: "
                                            "name a project, filter or other condition"))
    metric = query.get("metric", default_metric(kr))
    if metric not in METRICS:
        problems.append(QueryProblem("metric", f"metric must be one of {', '.join(METRICS)}"))
    elif kr.measure is Measure.CUMULATIVE and metric != "completed":
        problems.append(QueryProblem(
            "metric", f"a cumulative key result adds up daily amounts: use metric completed, "
            f"or make the key result a gauge to track {metric}"))
    done = query.get("done_status")
    if done is not None and not (_listed(done) and all(_scalar(v) for v in _listed(done))):
        problems.append(QueryProblem("done_status", "done_status is a status name or a list"))
    completed_on = query.get("completed_on")
    if completed_on is not None and not (isinstance(completed_on, str)
                                         and _FIELD.match(completed_on)):
        problems.append(QueryProblem("completed_on", "completed_on is a date field id: "
                                     "resolutiondate, statuscategorychangedate or customfield_N"))
    where = query.get("where")
    if where is not None:
        if not isinstance(where, Mapping) or not where:
            problems.append(QueryProblem("where", "where maps a field id (labels, assignee, "
                                                  "customfield_10020...) to values"))
        else:
            for name, value in where.items():
                if not _FIELD.match(str(name)):
                    problems.append(QueryProblem(f"where.{name}", "expected a field id such as "
                                                 "labels, components or customfield_10020"))
                elif not _listed(value) or not all(_scalar(v) or isinstance(v, bool)
                                                   for v in _listed(value)):
                    problems.append(QueryProblem(f"where.{name}",
                                                 "expected a value or a list of values"))
    return problems


def default_metric(kr: KeyResult) -> str:
    """Completions for a cumulative key result, the fraction done for a milestone, else the
    percentage done."""
    if kr.measure is Measure.CUMULATIVE:
        return "completed"
    return "fraction_done" if kr.kind is Kind.MILESTONE else "percent_done"


def parse_query(query: Mapping[str, Any], kr: KeyResult) -> JiraQuery:
    """A :class:`JiraQuery` from a valid mapping; raises ValueError naming the problems."""
    problems = validate_query(query, kr)
    if problems:
        raise ValueError("; ".join(f"{p.field}: {p.message}" for p in problems))
    where = query.get("where") or {}
    return JiraQuery(
        jql=" ".join(str(query["jql"]).split()),
        metric=str(query.get("metric", default_metric(kr))),
        done_status=tuple(str(v) for v in _listed(query["done_status"]))
        if "done_status" in query else (),
        completed_on=str(query.get("completed_on", "resolutiondate")),
        where=tuple((str(k), tuple(str(v).lower() if isinstance(v, bool) else str(v)
                                   for v in _listed(val))) for k, val in where.items()),
    )
