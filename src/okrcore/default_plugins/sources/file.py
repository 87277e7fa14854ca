"""The ``file`` source: CSV, JSON and JSON Lines exports (docs/plugins.md, "Built-in sources")."""

from __future__ import annotations

import csv
import datetime as dt
import glob
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from okrcore.model import Connection, KeyResult
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
    unknown_keys,
)

from ._common import (
    base_dir,
    connection_limits,
    describe_bad,
    finite_number,
    limit_problems,
    reduce_rows,
    to_date,
)

__all__ = ["FILE_FORMATS", "FileSource"]

FILE_FORMATS = ("csv", "json", "jsonl")


class FileSource(Source):
    """Exports from any tool: CSV, JSON (a list of objects) or JSON Lines.

    Connection settings: ``base`` (folder for relative paths; default the plan's folder),
    ``format``. Query keys: ``path`` (file or glob), ``date`` (column, default ``date``), ``value``
    (column, default ``value``), ``where`` (column -> value or list of values), ``format``.
    """

    name = "file"
    QUERY_KEYS = ("path", "date", "value", "where", "format")

    def limits(self) -> Limits:
        return connection_limits(self.connection, Limits(max_batch=50, concurrency=2))

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        s = connection.settings
        problems = unknown_keys(s, ("base", "format", "max_batch", "concurrency", "rate"),
                                "file connection key")
        if "format" in s and s["format"] not in FILE_FORMATS:
            problems.append(QueryProblem("format", f"expected one of {', '.join(FILE_FORMATS)}"))
        return problems + limit_problems(s)

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        problems = unknown_keys(query, cls.QUERY_KEYS, "file query key")
        if not isinstance(query.get("path"), str) or not query.get("path"):
            problems.append(QueryProblem("path", "a file path or glob is required"))
        for key in ("date", "value"):
            if key in query and (not isinstance(query[key], str) or not query[key]):
                problems.append(QueryProblem(key, "expected a column name"))
        if "where" in query and not isinstance(query["where"], Mapping):
            problems.append(QueryProblem("where", "expected a mapping of column -> value"))
        if "format" in query and query["format"] not in FILE_FORMATS:
            problems.append(QueryProblem("format", f"expected one of {', '.join(FILE_FORMATS)}"))
        return problems

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        cache: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]] | str] = {}
        for r in requests:
            answer = self._one(r, cache)
            yield answer if isinstance(answer, Reading) else Failure(
                r, FailureKind.PERMANENT, answer
            )

    def _one(
        self,
        r: FetchRequest,
        cache: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]] | str],
    ) -> Reading | str:
        q = r.query
        pattern = str(q["path"])
        fmt = q.get("format") or self.connection.settings.get("format")
        key = (pattern, str(fmt))
        if key not in cache:
            cache[key] = self._read(pattern, fmt)
        rows = cache[key]
        if isinstance(rows, str):
            return rows
        date_col, value_col = str(q.get("date", "date")), str(q.get("value", "value"))
        where = {str(k): v for k, v in (q.get("where") or {}).items()}
        points: list[tuple[dt.date, float]] = []
        for place, row in rows:
            if not all(_matches(row.get(col), want) for col, want in where.items()):
                continue
            if date_col not in row or value_col not in row:
                missing = date_col if date_col not in row else value_col
                return f"{place}: no column {missing!r} (columns: {', '.join(map(str, row))})"
            day = to_date(row[date_col])
            if day is None:
                return f"{place}: {date_col} is {row[date_col]!r}, not a date (YYYY-MM-DD)"
            value = _file_number(row[value_col])
            if value is None:
                return f"{place}: {value_col} is {describe_bad(row[value_col])}"
            points.append((day, value))
        if not points:
            return f"no row of {pattern} matches {where}" if where else f"{pattern} has no rows"
        return reduce_rows(r, points)

    def _read(self, pattern: str, fmt: Any) -> list[tuple[str, Mapping[str, Any]]] | str:
        base = base_dir(self.connection)
        full = Path(pattern).expanduser()
        if not full.is_absolute():
            full = base / full
        if glob.has_magic(str(full)):
            paths = [Path(p) for p in sorted(glob.glob(str(full)))]
            if not paths:
                return f"no file matches {full}"
        else:
            paths = [full]
        rows: list[tuple[str, Mapping[str, Any]]] = []
        for path in paths:
            kind = fmt or _format_of(path)
            try:
                rows.extend(_read_rows(path, kind))
            except OSError as exc:
                return f"cannot read {path}: {exc.strerror or exc}"
            except (ValueError, csv.Error) as exc:
                return f"cannot parse {path} as {kind}: {exc}"
        return rows


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"ndjson": "jsonl", "jsonl": "jsonl", "json": "json"}.get(suffix, "csv")


def _read_rows(path: Path, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if kind == "csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                yield f"{path}:{i}", row
    elif kind == "json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError("expected a list of objects at the top level")
        for i, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise ValueError(f"item {i} is not an object")
            yield f"{path}[{i}]", row
    elif kind == "jsonl":
        with path.open(encoding="utf-8") as f:
            for i, line in enumerate(f, start=1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, Mapping):
                        raise ValueError(f"line {i} is not an object")
                    yield f"{path}:{i}", row
    else:
        raise ValueError(f"unknown format {kind!r} (known: {', '.join(FILE_FORMATS)})")


def _matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, (list, tuple)):
        return any(_matches(actual, w) for w in wanted)
    return actual is not None and str(actual) == str(wanted)


def _file_number(value: Any) -> float | None:
    if isinstance(value, str):  # CSV cells are text
        try:
            number = float(value.strip().replace(",", "")) if value.strip() else None
        except ValueError:
            return None
        return number if number is not None and math.isfinite(number) else None
    return finite_number(value)
