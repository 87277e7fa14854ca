"""A key result's HubSpot query: validation, placeholders and search-request bodies (no I/O).

A query names a CRM ``object``, ``filters`` (one AND group) or ``filter_groups`` (OR of AND
groups), an ``aggregate`` (count, sum, avg, min, max) of a ``property``, and optionally the
``date_property`` that dates each record, which limits records to the request's window and
makes daily series possible.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from okrcore.sources import QueryProblem

__all__ = [
    "AGGREGATES",
    "MAX_FILTERS",
    "MAX_FILTERS_PER_GROUP",
    "MAX_GROUPS",
    "OPERATORS",
    "HubSpotQuery",
    "Window",
    "day_end_ms",
    "day_start_ms",
    "parse_query",
    "validate_query",
]

AGGREGATES = ("count", "sum", "avg", "min", "max")
OPERATORS = (
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
)  # fmt: skip
# HubSpot's search limits since 2024-08-26: 5 OR-groups, 10 filters per group, 25 in total.
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
# Placeholders a filter value may use; starts expand to 00:00:00.000 UTC, ends to 23:59:59.999 UTC.
PLACEHOLDERS = ("start", "end", "as_of", "cycle_start", "cycle_end")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_OBJECT = re.compile(r"^[A-Za-z0-9_-]+$")
_KEYS = {"object", "filters", "filter_groups", "aggregate", "property", "date_property"}
_NO_VALUE = ("HAS_PROPERTY", "NOT_HAS_PROPERTY")
_EPOCH = dt.date(1970, 1, 1)


def day_start_ms(day: dt.date) -> int:
    """Milliseconds since the epoch at 00:00:00.000 UTC of ``day``."""
    return (day - _EPOCH).days * 86_400_000


def day_end_ms(day: dt.date) -> int:
    """Milliseconds since the epoch at 23:59:59.999 UTC of ``day``."""
    return day_start_ms(day) + 86_399_999


@attrs.frozen
class Window:
    """Bounds of a date window in epoch milliseconds, both inclusive (HubSpot's BETWEEN)."""

    low: int
    high: int

    def halves(self) -> tuple[Window, Window]:
        """Split in two non-overlapping halves (the caller checks ``high > low``)."""
        mid = (self.low + self.high) // 2
        return Window(self.low, mid), Window(mid + 1, self.high)


@attrs.frozen
class HubSpotQuery:
    """A validated query."""

    object: str
    groups: tuple[tuple[Mapping[str, Any], ...], ...]
    aggregate: str = "count"
    property: str | None = None
    date_property: str | None = None

    def properties(self) -> list[str]:
        """The record properties a search must return to compute the aggregate."""
        names = [p for p in (self.property, self.date_property) if p]
        return list(dict.fromkeys(names)) or ["hs_object_id"]

    def body(
        self,
        values: Mapping[str, int],
        window: Window | None,
        *,
        limit: int,
        after: str | None = None,
    ) -> dict[str, Any]:
        """The JSON body of ``POST /crm/v3/objects/{object}/search``.

        ``values`` fill the placeholders (epoch milliseconds); ``window`` adds a BETWEEN filter on
        the date property to every group (AND), so the OR of groups stays within the window.
        """
        groups: list[dict[str, Any]] = []
        for group in self.groups or ((),):
            filters = [_wire_filter(f, values) for f in group]
            if window is not None and self.date_property:
                filters.append(
                    {
                        "propertyName": self.date_property,
                        "operator": "BETWEEN",
                        "value": str(window.low),
                        "highValue": str(window.high),
                    }
                )
            if filters:
                groups.append({"filters": filters})
        body: dict[str, Any] = {"limit": limit, "properties": self.properties()}
        if groups:
            body["filterGroups"] = groups
        if after is not None:
            body["after"] = after
        return body


def _wire_filter(spec: Mapping[str, Any], values: Mapping[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"propertyName": spec["property"], "operator": spec["operator"]}
    if "value" in spec:
        out["value"] = _wire_value(spec["value"], values)
    if "high_value" in spec:
        out["highValue"] = _wire_value(spec["high_value"], values)
    if "values" in spec:
        out["values"] = [_wire_value(v, values) for v in spec["values"]]
    return out


def _wire_value(value: Any, values: Mapping[str, int]) -> str:
    """HubSpot compares strings; placeholders become epoch milliseconds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return str(int(aware.timestamp() * 1000))
    if isinstance(value, dt.date):
        return str(day_start_ms(value))
    text = str(value)
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def _groups_of(query: Mapping[str, Any]) -> list[Any]:
    if "filter_groups" in query:
        groups = query["filter_groups"]
        return list(groups) if isinstance(groups, Sequence) and not isinstance(groups, str) else []
    filters = query.get("filters")
    return [filters] if filters else []


def validate_query(query: Mapping[str, Any]) -> list[QueryProblem]:
    """Every problem with a query mapping, found without I/O (used at lint time)."""
    problems: list[QueryProblem] = []
    for key in sorted(set(query) - _KEYS):
        problems.append(
            QueryProblem(key, f"unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        )
    obj = query.get("object")
    if not isinstance(obj, str) or not _OBJECT.match(obj):
        problems.append(
            QueryProblem(
                "object",
                "object must name a CRM object: deals, contacts, companies, tickets "
                "or a custom object id such as 2-1234567",
            )
        )
    aggregate = query.get("aggregate", "count")
    if aggregate not in AGGREGATES:
        problems.append(
            QueryProblem("aggregate", f"aggregate must be one of {', '.join(AGGREGATES)}")
        )
    prop = query.get("property")
    if aggregate in AGGREGATES[1:] and not (isinstance(prop, str) and prop):
        problems.append(QueryProblem("property", f"aggregate {aggregate} needs a property"))
    date_property = query.get("date_property")
    if date_property is not None and not (isinstance(date_property, str) and date_property):
        problems.append(QueryProblem("date_property", "date_property must be a property name"))
    if "filters" in query and "filter_groups" in query:
        problems.append(QueryProblem("filters", "use either filters or filter_groups, not both"))
    field = "filter_groups" if "filter_groups" in query else "filters"
    raw = query.get(field)
    if raw is not None and (not isinstance(raw, Sequence) or isinstance(raw, str)):
        problems.append(QueryProblem(field, "expected a list"))
        return problems
    groups = _groups_of(query)
    extra = 1 if date_property else 0  # the window filter added to every group
    total = 0
    for g, group in enumerate(groups):
        where = f"{field}[{g}]" if field == "filter_groups" else field
        if not isinstance(group, Sequence) or isinstance(group, str):
            problems.append(QueryProblem(where, "a filter group is a list of filters"))
            continue
        if len(group) + extra > MAX_FILTERS_PER_GROUP:
            problems.append(
                QueryProblem(
                    where,
                    f"{len(group) + extra} filters in one group (including the date window) "
                    f"exceed HubSpot's limit of {MAX_FILTERS_PER_GROUP}",
                )
            )
        total += len(group) + extra
        for i, spec in enumerate(group):
            problems.extend(_filter_problems(f"{where}[{i}]", spec))
    if len(groups) > MAX_GROUPS:
        problems.append(
            QueryProblem(
                field, f"{len(groups)} filter groups exceed HubSpot's limit of {MAX_GROUPS}"
            )
        )
    if total > MAX_FILTERS:
        problems.append(
            QueryProblem(
                field, f"{total} filters in all (including date windows) exceed HubSpot's "
                f"limit of {MAX_FILTERS}",
            )
        )
    return problems


def _filter_problems(where: str, spec: Any) -> list[QueryProblem]:
    if not isinstance(spec, Mapping):
        return [QueryProblem(where, "a filter is a mapping: {property, operator, value}")]
    out: list[QueryProblem] = []
    unknown = set(spec) - {"property", "operator", "value", "values", "high_value"}
    if unknown:
        out.append(QueryProblem(where, f"unknown filter keys: {', '.join(sorted(unknown))}"))
    if not isinstance(spec.get("property"), str) or not spec.get("property"):
        out.append(QueryProblem(where, "a filter needs a property"))
    op = spec.get("operator")
    if op not in OPERATORS:
        out.append(QueryProblem(where, f"operator {op!r} is not one of {', '.join(OPERATORS)}"))
        return out
    if op in ("IN", "NOT_IN"):
        values = spec.get("values")
        if not isinstance(values, Sequence) or isinstance(values, str) or not values:
            out.append(QueryProblem(where, f"{op} needs a non-empty list in values"))
    elif op == "BETWEEN":
        if "value" not in spec or "high_value" not in spec:
            out.append(QueryProblem(where, "BETWEEN needs value and high_value"))
    elif op not in _NO_VALUE and "value" not in spec:
        out.append(QueryProblem(where, f"{op} needs a value"))
    for key in ("value", "high_value", "values"):
        items = spec.get(key)
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, str):
                for name in _PLACEHOLDER.findall(item):
                    if name not in PLACEHOLDERS:
                        out.append(
                            QueryProblem(
                                where,
                                f"unknown placeholder {{{name}}} (known: "
                                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + ")",
                            )
                        )
    return out


def parse_query(query: Mapping[str, Any]) -> HubSpotQuery:
    """A :class:`HubSpotQuery` from a valid mapping; raises ValueError naming the problems."""
    problems = validate_query(query)
    if problems:
        raise ValueError("; ".join(f"{p.field or 'query'}: {p.message}" for p in problems))
    groups = tuple(tuple(group) for group in _groups_of(query))
    return HubSpotQuery(
        object=query["object"],
        groups=groups,
        aggregate=query.get("aggregate", "count"),
        property=query.get("property"),
        date_property=query.get("date_property"),
    )
