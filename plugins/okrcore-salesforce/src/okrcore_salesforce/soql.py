"""SOQL for key results: literals, named placeholders, the structured form, validation (no I/O).

A query is either ``soql`` (text with named placeholders such as ``:start`` or ``:stage``) or the
structured form ``{object, where, aggregate, field, date_field, date_field_type}``, which is
turned into SOQL. Placeholder values are always bound as SOQL literals (quoted and escaped
strings, date and datetime literals, numbers), never pasted as text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from okrcore.sources import QueryProblem

__all__ = [
    "AGGREGATES",
    "BUILTINS",
    "bind",
    "builtin_values",
    "literal",
    "placeholders",
    "to_series_soql",
    "to_soql",
    "validate_query",
]

AGGREGATES = ("count", "sum", "avg", "min", "max")
BUILTINS = ("start", "end", "as_of", "cycle_start", "cycle_end", "start_time", "end_time")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYS_SOQL = {"soql", "params", "value", "aggregate"}
_KEYS_STRUCTURED = {"object", "where", "aggregate", "field", "date_field", "date_field_type",
                    "params"}  # fmt: skip
_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\b": "\\b", "\f": "\\f"}  # fmt: skip
_SUM_LIKE = re.compile(r"^\s*SELECT\s+(SUM|COUNT|COUNT_DISTINCT)\s*\(", re.IGNORECASE)
COUNT_ONLY = re.compile(r"^\s*SELECT\s+COUNT\(\s*\)\s+FROM\b", re.IGNORECASE)


def literal(value: Any) -> str:
    """``value`` as a SOQL literal; raises ValueError for what SOQL cannot express."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return repr(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"
    if isinstance(value, Sequence):
        if not value:
            raise ValueError("an empty list cannot be bound (IN () is not valid SOQL)")
        return "(" + ", ".join(literal(v) for v in value) + ")"
    raise ValueError(f"cannot bind a {type(value).__name__} as a SOQL literal")


def _scan(soql: str) -> list[tuple[bool, str]]:
    """Split SOQL into (is_placeholder, text) parts, leaving quoted strings untouched."""
    parts: list[tuple[bool, str]] = []
    i, start, n = 0, 0, len(soql)
    while i < n:
        ch = soql[i]
        if ch == "'":
            i += 1
            while i < n and soql[i] != "'":
                i += 2 if soql[i] == "\\" else 1
            i += 1
            continue
        if ch == ":" and (i == 0 or not (soql[i - 1].isalnum() or soql[i - 1] == "_")):
            match = _NAME.match(soql, i + 1)
            if match:
                parts.append((False, soql[start:i]))
                parts.append((True, match.group()))
                i = start = match.end()
                continue
        i += 1
    parts.append((False, soql[start:]))
    return parts


def placeholders(soql: str) -> list[str]:
    """Names of the ``:name`` placeholders outside string literals, in order."""
    return [text for is_name, text in _scan(soql) if is_name]


def bind(soql: str, values: Mapping[str, Any]) -> str:
    """SOQL with every placeholder replaced by its value as a literal.

    Raises KeyError naming an unknown placeholder, ValueError for an unbindable value.
    """
    out = []
    for is_name, text in _scan(soql):
        if is_name:
            if text not in values:
                raise KeyError(text)
            out.append(literal(values[text]))
        else:
            out.append(text)
    return "".join(out)


def builtin_values(
    start: dt.date, end: dt.date, as_of: dt.date, cycle_start: dt.date, cycle_end: dt.date
) -> dict[str, Any]:
    """Values of the built-in placeholders; ``end_time`` is exclusive (the next midnight UTC)."""
    utc = dt.timezone.utc
    return {
        "start": start,
        "end": end,
        "as_of": as_of,
        "cycle_start": cycle_start,
        "cycle_end": cycle_end,
        "start_time": dt.datetime(start.year, start.month, start.day, tzinfo=utc),
        "end_time": dt.datetime(end.year, end.month, end.day, tzinfo=utc) + dt.timedelta(days=1),
    }


def to_soql(query: Mapping[str, Any], *, gauge: bool) -> str:
    """The SOQL text (with placeholders) of a query in either form.

    The structured form limits records to the window by ``date_field``: from ``:start`` to
    ``:end`` for a cumulative key result, up to ``:end`` for a gauge (the level at the end).
    """
    if "soql" in query:
        return str(query["soql"])
    aggregate = query.get("aggregate", "count")
    obj = query["object"]
    if aggregate == "count":
        select = f"SELECT COUNT() FROM {obj}"
    else:
        select = f"SELECT {aggregate.upper()}({query['field']}) value FROM {obj}"
    conditions = []
    if query.get("where"):
        conditions.append(f"({query['where']})")
    date_field = query.get("date_field")
    if date_field:
        if query.get("date_field_type", "date") == "datetime":
            low, high = f"{date_field} >= :start_time", f"{date_field} < :end_time"
        else:
            low, high = f"{date_field} >= :start", f"{date_field} <= :end"
        conditions.extend([high] if gauge else [low, high])
    return select + (" WHERE " + " AND ".join(conditions) if conditions else "")


def to_series_soql(query: Mapping[str, Any]) -> str:
    """The structured form as one query grouped by day (columns ``day`` and ``value``).

    Used for a cumulative daily series: one call instead of one per day.
    """
    aggregate = query.get("aggregate", "count")
    date_field = query["date_field"]
    datetime = query.get("date_field_type", "date") == "datetime"
    day = f"DAY_ONLY({date_field})" if datetime else date_field
    value = "COUNT(Id)" if aggregate == "count" else f"{aggregate.upper()}({query['field']})"
    conditions = [f"({query['where']})"] if query.get("where") else []
    if datetime:
        conditions += [f"{date_field} >= :start_time", f"{date_field} < :end_time"]
    else:
        conditions += [f"{date_field} >= :start", f"{date_field} <= :end"]
    return (
        f"SELECT {day} day, {value} value FROM {query['object']} "
        f"WHERE {' AND '.join(conditions)} GROUP BY {day}"
    )


def null_is_zero(soql: str) -> bool:
    """Whether an empty result means 0: a SUM or COUNT over no rows (not so for AVG/MIN/MAX)."""
    return bool(_SUM_LIKE.match(soql))


def validate_query(query: Mapping[str, Any]) -> list[QueryProblem]:
    """Every problem with a query mapping, found without I/O (used at lint time)."""
    problems: list[QueryProblem] = []
    structured = "soql" not in query
    known = _KEYS_STRUCTURED if structured else _KEYS_SOQL
    for key in sorted(set(query) - known):
        problems.append(
            QueryProblem(key, f"unknown key {key!r} (known: {', '.join(sorted(known))})")
        )
    params = query.get("params", {})
    if not isinstance(params, Mapping):
        problems.append(QueryProblem("params", "params must be a mapping of name: value"))
        params = {}
    for name, value in params.items():
        if name in BUILTINS:
            problems.append(QueryProblem("params", f"{name!r} is a built-in placeholder"))
        elif not (isinstance(name, str) and _NAME.fullmatch(name)):
            problems.append(QueryProblem("params", f"{name!r} is not a placeholder name"))
        try:
            literal(value)
        except ValueError as exc:
            problems.append(QueryProblem("params", f"{name}: {exc}"))
    aggregate = query.get("aggregate", "count" if structured else "sum")
    if aggregate not in AGGREGATES:
        problems.append(
            QueryProblem("aggregate", f"aggregate must be one of {', '.join(AGGREGATES)}")
        )
    if structured:
        if not (isinstance(query.get("object"), str) and _IDENT.match(query["object"])):
            problems.append(
                QueryProblem("", "give soql, or the structured form with object (e.g. Opportunity)")
            )
        if aggregate in AGGREGATES[1:] and not (
            isinstance(query.get("field"), str) and _IDENT.match(query["field"])
        ):
            problems.append(QueryProblem("field", f"aggregate {aggregate} needs a field"))
        for key in ("date_field",):
            if key in query and not (isinstance(query[key], str) and _IDENT.match(query[key])):
                problems.append(QueryProblem(key, f"{key} must be a field name"))
        if query.get("date_field_type", "date") not in ("date", "datetime"):
            problems.append(QueryProblem("date_field_type", "date_field_type is date or datetime"))
        if "where" in query and not isinstance(query["where"], str):
            problems.append(QueryProblem("where", "where is a SOQL condition (text)"))
        if problems:
            return problems
    elif not isinstance(query["soql"], str) or not query["soql"].strip():
        return [*problems, QueryProblem("soql", "soql must be a SELECT statement")]
    soql = to_soql(query, gauge=False)
    if soql.lstrip()[:6].upper() != "SELECT":
        problems.append(QueryProblem("soql", "soql must be a SELECT statement"))
    for name in dict.fromkeys(placeholders(soql)):
        if name not in BUILTINS and name not in params:
            problems.append(
                QueryProblem(
                    "soql" if not structured else "where",
                    f"placeholder :{name} has no value (built-ins: "
                    + ", ".join(f":{b}" for b in BUILTINS) + "; others come from params)",
                )
            )
    if "value" in query and not (isinstance(query["value"], str) and _IDENT.match(query["value"])):
        problems.append(QueryProblem("value", "value names a column or alias, e.g. expr0"))
    return problems
