"""A key result's Notion query: validation, and reading page properties (no I/O).

A query names a ``database`` (or one of its ``data_source`` ids), a ``metric`` (see
:mod:`okrcore_notion.progress`), how a page counts as ``done``, optionally the date property it
was ``completed_on``, ``where`` filters evaluated on each page, and an optional ``filter`` passed
to Notion's query as is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from okrcore.model import KeyResult, Kind, Measure
from okrcore.sources import QueryProblem, unknown_keys
from okrcore.tasks import METRICS, TaskCache

__all__ = [
    "DEFAULT_DONE",
    "NotionQuery",
    "Table",
    "default_metric",
    "normalize_id",
    "parse_query",
    "parse_tracks",
    "properties_of",
    "texts",
    "validate_query",
]

_KEYS = ("database", "data_source", "metric", "done", "completed_on", "where", "filter")
_ID = re.compile(r"([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?"
                 r"([0-9a-fA-F]{12})$")
DEFAULT_DONE = {"property": "Status", "equals": "Done"}
# page attributes that ``completed_on`` may name besides a date property
TIMESTAMPS = ("last_edited_time",)


def normalize_id(value: Any) -> str | None:
    """A Notion id in its dashed form, from 32 hex digits (dashed or not) or a URL ending in one."""
    if not isinstance(value, str):
        return None
    match = _ID.search(value.strip().split("?")[0])
    return "-".join(match.groups()).lower() if match else None


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and value != ""


@attrs.frozen
class NotionQuery:
    """A validated query. ``target`` is ``("database", id)`` or ``("data_source", id)`` (or
    ``("page", id)`` for what an initiative tracks: :func:`parse_tracks`)."""

    target: tuple[str, str]
    metric: str
    done_property: str
    done_values: tuple[Any, ...]
    completed_on: str | None = None
    where: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    filter: str | None = None  # JSON text of Notion's filter object, so queries are hashable

    @property
    def group(self) -> tuple[str, str, str | None]:
        """Queries with the same group are answered by one paged read."""
        return (*self.target, self.filter)

    def select(self, table: Table) -> list[int]:
        """The indices of the table's pages that pass every ``where`` filter."""
        chosen: Sequence[int] = range(len(table.pages))
        for name, wanted in self.where:
            column, keys = table.texts(name), _keys(wanted)
            chosen = [i for i in chosen if column[i] & keys]
        return list(chosen)

    def is_done(self, table: Table, index: int) -> bool:
        """Whether a page counts as done; ValueError when the done property cannot tell."""
        prop = properties_of(table.pages[index]).get(self.done_property)
        if not isinstance(prop, Mapping):
            raise ValueError(f"pages have no property {self.done_property!r} (set done)")
        if not self.done_values:
            value = _boolean(prop)
            if value is None:
                raise ValueError(
                    f"done property {self.done_property!r} is a {prop.get('type')}, not a "
                    "checkbox: say which values mean done with done.equals")
            return value
        return bool(table.texts(self.done_property)[index] & _keys(self.done_values))


class Table:
    """The pages of one read. Each property's comparable texts are worked out once, however many
    key results filter on it."""

    def __init__(self, pages: Sequence[Mapping[str, Any]]) -> None:
        self.pages = list(pages)
        self._texts: dict[str, list[frozenset[str]]] = {}
        self.tasks = TaskCache()  # each page's task, built once per done rule

    def texts(self, name: str) -> list[frozenset[str]]:
        """Per page, the lower-cased texts property ``name`` holds (see :func:`texts`)."""
        column = self._texts.get(name)
        if column is None:
            column = [frozenset(t.lower() for t in texts(properties_of(p).get(name)))
                      for p in self.pages]
            self._texts[name] = column
        return column


def properties_of(page: Mapping[str, Any]) -> Mapping[str, Any]:
    """A page's ``properties`` mapping (empty when missing)."""
    props = page.get("properties")
    return props if isinstance(props, Mapping) else {}


def _boolean(prop: Mapping[str, Any]) -> bool | None:
    if prop.get("type") == "checkbox":
        return bool(prop.get("checkbox"))
    formula = prop.get("formula")
    if (prop.get("type") == "formula" and isinstance(formula, Mapping)
            and formula.get("type") == "boolean"):
        return bool(formula.get("boolean"))
    return None


def texts(prop: Any) -> set[str]:
    """A property value as the strings it may be compared with (names, emails, ids, text)."""
    if not isinstance(prop, Mapping):
        return set()
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if kind == "formula" and isinstance(value, Mapping):
        return texts({"type": value.get("type"), value.get("type"): value.get(value.get("type"))})
    if kind in ("checkbox", "boolean"):
        return {str(bool(value)).lower()}
    if kind == "number" or (kind == "formula" and isinstance(value, (int, float))):
        return {_number_text(value)} if isinstance(value, (int, float)) else set()
    if kind in ("title", "rich_text", "string") and isinstance(value, list):
        return {"".join(str(t.get("plain_text", "")) for t in value if isinstance(t, Mapping))}
    if kind == "string":
        return {str(value)} if value is not None else set()
    if kind == "date" and isinstance(value, Mapping):
        return {str(value.get("start"))}
    items = value if isinstance(value, list) else [value]
    found: set[str] = set()
    for item in items:
        if isinstance(item, Mapping):
            for key in ("name", "id"):
                if item.get(key):
                    found.add(str(item[key]))
            person = item.get("person")
            if isinstance(person, Mapping) and person.get("email"):
                found.add(str(person["email"]))
        elif isinstance(item, str):
            found.add(item)
    return found


def _number_text(value: float) -> str:
    return f"{float(value):g}"


def _keys(wanted: tuple[Any, ...]) -> frozenset[str]:
    """Wanted values as the lower-cased texts :func:`texts` gives (``true``, ``3``, ``done``): a
    property holds a value when the two sets meet (any option of a multi-select or people)."""
    return frozenset(
        str(v).lower() if isinstance(v, bool) else _number_text(v)
        if isinstance(v, (int, float)) else str(v).lower()
        for v in wanted
    )


def validate_query(query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
    """Every problem with a query mapping for key result ``kr``, found without I/O."""
    problems = unknown_keys(query, _KEYS, "key")
    targets = [k for k in ("database", "data_source") if k in query]
    if len(targets) != 1:
        problems.append(QueryProblem(
            "database", "name the database (its id or URL), or one data_source id"))
    elif normalize_id(query[targets[0]]) is None:
        problems.append(QueryProblem(
            targets[0], f"{targets[0]} must be a Notion id: 32 hex digits, or the database's URL"))
    metric = query.get("metric", default_metric(kr))
    if metric not in METRICS:
        problems.append(QueryProblem("metric", f"metric must be one of {', '.join(METRICS)}"))
    elif kr.measure is Measure.CUMULATIVE and metric != "completed":
        problems.append(QueryProblem(
            "metric", f"a cumulative key result adds up daily amounts: use metric completed, "
            f"or make the key result a gauge to track {metric}"))
    if kr.measure is Measure.CUMULATIVE and "completed_on" not in query:
        problems.append(QueryProblem(
            "completed_on", "counting completions per day needs the date each page was done: "
            "set completed_on to a date property (or last_edited_time)"))
    problems += _done_problems(query.get("done", DEFAULT_DONE))
    completed_on = query.get("completed_on")
    if completed_on is not None and not (isinstance(completed_on, str) and completed_on):
        problems.append(QueryProblem("completed_on", "completed_on names a date property"))
    where = query.get("where")
    if where is not None:
        if not isinstance(where, Mapping) or not where:
            problems.append(QueryProblem("where", "where maps a property name to a value or "
                                                  "list of values"))
        else:
            for name, value in where.items():
                if not _listed(value) or not all(_scalar(v) for v in _listed(value)):
                    problems.append(QueryProblem(f"where.{name}",
                                                 "expected a value or a list of values"))
    raw_filter = query.get("filter")
    if raw_filter is not None and not isinstance(raw_filter, Mapping):
        problems.append(QueryProblem("filter", "filter is a Notion filter object, e.g. "
                                               "{property: Team, select: {equals: Growth}}"))
    return problems


def _done_problems(done: Any) -> list[QueryProblem]:
    if not isinstance(done, Mapping) or not (
        isinstance(done.get("property"), str) and done["property"]
    ):
        return [QueryProblem("done", "done is {property: NAME} (a checkbox) or "
                                     "{property: NAME, equals: VALUE or [VALUES]}")]
    problems = [QueryProblem(f"done.{p.field}", p.message)
                for p in unknown_keys(done, ("property", "equals"), "key")]
    if "equals" in done and not (_listed(done["equals"]) and all(
            _scalar(v) for v in _listed(done["equals"]))):
        problems.append(QueryProblem("done.equals", "equals is a value or list of values"))
    return problems


def parse_tracks(tracks: Mapping[str, Any]) -> NotionQuery:
    """What an initiative's ``tracks`` names: ``page`` (its id or URL) and the ``done`` rule of
    a key result's query (default ``{property: Status, equals: Done}``), as a query whose target
    is ``("page", id)``. Raises ValueError naming the problems."""
    problems = [QueryProblem(p.field, p.message) for p in unknown_keys(tracks, ("page", "done"),
                                                                        "key")]
    page = normalize_id(tracks.get("page"))
    if page is None:
        problems.append(QueryProblem("page", "name the page by its URL or id (32 hex digits)"))
    done = tracks.get("done", DEFAULT_DONE)
    problems += _done_problems(done)
    if problems or page is None:
        raise ValueError("; ".join(f"{p.field}: {p.message}" for p in problems))
    return NotionQuery(
        target=("page", page), metric="total", done_property=str(done["property"]),
        done_values=tuple(_listed(done["equals"])) if "equals" in done else ())


def default_metric(kr: KeyResult) -> str:
    """Completions for a cumulative key result, the fraction done for a milestone, else the
    percentage done."""
    if kr.measure is Measure.CUMULATIVE:
        return "completed"
    return "fraction_done" if kr.kind is Kind.MILESTONE else "percent_done"


def parse_query(query: Mapping[str, Any], kr: KeyResult) -> NotionQuery:
    """A :class:`NotionQuery` from a valid mapping; raises ValueError naming the problems."""
    problems = validate_query(query, kr)
    if problems:
        raise ValueError("; ".join(f"{p.field}: {p.message}" for p in problems))
    kind = "database" if "database" in query else "data_source"
    done = query.get("done", DEFAULT_DONE)
    where = query.get("where") or {}
    raw_filter = query.get("filter")
    return NotionQuery(
        target=(kind, str(normalize_id(query[kind]))),
        metric=str(query.get("metric", default_metric(kr))),
        done_property=str(done["property"]),
        done_values=tuple(_listed(done["equals"])) if "equals" in done else (),
        completed_on=query.get("completed_on"),
        where=tuple((str(k), tuple(_listed(v))) for k, v in where.items()),
        filter=json.dumps(raw_filter, sort_keys=True) if raw_filter is not None else None,
    )
