"""Plan files: load and dump plans as YAML, TOML or JSON, with exact error positions.

One table of field specs (:data:`PLAN_SPEC`) drives both the loader's validation and the published
JSON Schema (:func:`plan_schema`), so the two cannot drift. The loader reports every problem of a
file in one :class:`~okrcore.errors.PlanError`, each with its field path
(``objectives[1].key_results[0].target``), line and column.

Positions: YAML positions come from the composed node tree, JSON positions from a small scanner over
the (already valid) text. TOML positions are best effort: a line scan that follows ``[table]`` and
``[[array]]`` headers and ``key = value`` lines; keys inside inline tables and arrays are located at
their enclosing key.

Regenerate the schema with ``python -m okrcore.planfile --schema > docs/plan.schema.json``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import yaml

from .errors import PlanError, Problem
from .model import (
    Connection,
    Cycle,
    Funnel,
    FunnelSplit,
    FunnelStep,
    Goal,
    KeyResult,
    Objective,
    Plan,
    Strategy,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "FORMATS",
    "PLAN_SPEC",
    "VERSION",
    "dump_plan",
    "dumps_plan",
    "load_plan",
    "loads_plan",
    "plan_data",
    "plan_schema",
]

VERSION = 1
"""The plan format version this okrcore reads and writes (the ``okrcore:`` key)."""

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}
"""File extension -> format name."""

Positions = dict[str, tuple[int, int]]

# json's own string scanner (not in the typeshed stubs): decodes one JSON string literal
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*%\s*$")
_RELATIVE_PATTERN = r"^\s*[+-]\s*[0-9]+(\.[0-9]+)?\s*%\s*$"
_DOTTED = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- validation context -----------------------------------------------------------------------


class _Bad:
    """The sentinel of a rejected value (its problem is already recorded)."""

    def __repr__(self) -> str:
        return "<bad>"


BAD = _Bad()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _locate(positions: Mapping[str, tuple[int, int]], path: str) -> tuple[int | None, int | None]:
    while path:
        if path in positions:
            return positions[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None, None


@attrs.define
class _Ctx:
    positions: Mapping[str, tuple[int, int]]
    problems: list[Problem] = attrs.field(factory=list)
    file: str | None = None

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, *_locate(self.positions, path)))


def _show(value: Any) -> str:
    """How a wrong value is named in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dt.datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _exponent_hint(value: Any) -> str:
    if isinstance(value, str) and re.match(r"^[+-]?\d+(\.\d*)?[eE][+-]?\d+$", value.strip()):
        return " (YAML reads 1e6 as text: write 1.0e+6 or the digits)"
    return ""


def _has_bad(value: Any) -> bool:
    if value is BAD:
        return True
    if isinstance(value, dict):
        return any(_has_bad(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_bad(v) for v in value)
    return False


# -- field specs: each validates a loaded value and describes itself as JSON Schema -----------


class Spec:
    """A field type: ``check`` validates a loaded value, ``schema`` describes it."""

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


@attrs.frozen
class Text(Spec):
    """A string; ``min_length`` 1 by default, optionally matching ``pattern``."""

    min_length: int = 1
    pattern: str | None = None
    what: str = "text"

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, str):
            hint = ""
            if isinstance(value, bool):
                hint = " (YAML reads yes/no/on/off as true/false: quote the word)"
            elif _is_number(value) or isinstance(value, dt.date):
                hint = " (quote it to make it text)"
            ctx.add(path, f"expected {self.what}, got {_show(value)}{hint}")
            return BAD
        if len(value.strip()) < self.min_length:
            ctx.add(path, f"expected {self.what}, got an empty string")
            return BAD
        if self.pattern is not None and not re.match(self.pattern, value):
            ctx.add(path, f"expected {self.what}, got {value!r}")
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.min_length:
            out["minLength"] = self.min_length
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out


@attrs.frozen
class Number(Spec):
    """An int or float (not a bool), optionally bounded."""

    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if not _is_number(value) or not math.isfinite(value):
            ctx.add(path, f"expected a number, got {_show(value)}{_exponent_hint(value)}")
            return BAD
        if self.minimum is not None and value < self.minimum:
            ctx.add(path, f"expected a number >= {self.minimum:g}, got {value!r}")
            return BAD
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            ctx.add(path, f"expected a number > {self.exclusive_minimum:g}, got {value!r}")
            return BAD
        if self.maximum is not None and value > self.maximum:
            ctx.add(path, f"expected a number <= {self.maximum:g}, got {value!r}")
            return BAD
        return float(value)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.exclusive_minimum is not None:
            out["exclusiveMinimum"] = self.exclusive_minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


@attrs.frozen
class Boolean(Spec):
    """true or false."""

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, bool):
            ctx.add(path, f"expected true or false, got {_show(value)}")
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "boolean"}


@attrs.frozen
class Date(Spec):
    """A date: a YAML/TOML date or a ``YYYY-MM-DD`` string."""

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and _DATE.match(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError as exc:
                ctx.add(path, f"not a valid date: {value!r} ({exc})")
                return BAD
        ctx.add(path, f"expected a date YYYY-MM-DD, got {_show(value)}")
        return BAD

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


@attrs.frozen
class Choice(Spec):
    """One of a fixed set of words."""

    values: tuple[str, ...]

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        hint = _suggest(value, self.values) if isinstance(value, str) else ""
        allowed = ", ".join(self.values)
        ctx.add(path, f"expected one of {allowed}; got {_show(value)}{hint}")
        return BAD

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


@attrs.frozen
class Relative:
    """A relative target as written ("+20%"): resolved against the baseline by the loader."""

    percent: float
    text: str

    def resolve(self, baseline: float) -> float:
        return baseline * (100.0 + self.percent) / 100.0


@attrs.frozen
class Target(Spec):
    """A number, or a relative string such as "+20%" that needs the sibling ``relative_to``."""

    relative_to: str = "baseline"

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if _is_number(value) and math.isfinite(value):
            return float(value)
        if isinstance(value, str):
            m = _RELATIVE.match(value)
            if m:
                percent = float(m.group(2)) * (-1.0 if m.group(1) == "-" else 1.0)
                return Relative(percent, value.strip())
        expected = "expected a number or a relative target such as '+20%'"
        ctx.add(path, f"{expected}, got {_show(value)}{_exponent_hint(value)}")
        return BAD

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": _RELATIVE_PATTERN},
            ]
        }


@attrs.frozen
class Ids(Spec):
    """One id or a list of ids."""

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if isinstance(value, str) and value.strip():
            return [value]
        if isinstance(value, list):
            out = [ID.check(v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]
            return BAD if any(v is BAD for v in out) else out
        ctx.add(path, f"expected an id or a list of ids, got {_show(value)}")
        return BAD

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        item = ID.schema(defs)
        return {"anyOf": [item, {"type": "array", "items": item}]}


@attrs.frozen
class Const(Spec):
    """Exactly this value (the format version)."""

    value: int

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if value != self.value or isinstance(value, bool):
            message = f"unsupported plan format {_show(value)}; this okrcore reads {self.value}"
            ctx.add(path, message)
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"const": self.value}


@attrs.frozen
class ListOf(Spec):
    """A list whose items all match ``item``."""

    item: Spec

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, list):
            ctx.add(path, f"expected a list, got {_show(value)}")
            return BAD
        return [self.item.check(v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema(defs)}


@attrs.frozen
class MapOf(Spec):
    """A mapping from names to values matching ``value``."""

    value: Spec

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, Mapping):
            ctx.add(path, f"expected a mapping, got {_show(value)}")
            return BAD
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                ctx.add(path, f"names must be text, got {_show(key)}")
                continue
            out[key] = self.value.check(item, _join(path, key), ctx)
        return out

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": self.value.schema(defs)}


@attrs.frozen
class FreeMap(Spec):
    """A mapping kept as written (plugin settings, policy settings)."""

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, Mapping):
            ctx.add(path, f"expected a mapping, got {_show(value)}")
            return BAD
        return dict(value)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object"}


@attrs.frozen
class AnyOf(Spec):
    """The first of ``options`` that accepts the value."""

    options: tuple[Spec, ...]
    what: str

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        for option in self.options:
            scratch = _Ctx(ctx.positions)
            out = option.check(value, path, scratch)
            if not scratch.problems:
                return out
        ctx.add(path, f"expected {self.what}, got {_show(value)}")
        return BAD

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [o.schema(defs) for o in self.options]}


@attrs.frozen
class Field:
    """One key of an :class:`Obj`."""

    name: str
    spec: Spec
    required: bool = False
    doc: str = ""


@attrs.frozen
class Obj(Spec):
    """A mapping with known keys. ``extra`` keeps unknown keys (plugin settings) as written;
    ``one_of`` names keys of which exactly one must be given."""

    name: str | None
    fields: tuple[Field, ...]
    extra: bool = False
    one_of: tuple[str, ...] = ()
    doc: str = ""

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def check(self, value: Any, path: str, ctx: _Ctx) -> Any:
        what = (self.name or "plan").replace("_", " ")
        if not isinstance(value, Mapping):
            ctx.add(path, f"expected a mapping (a {what}), got {_show(value)}")
            return BAD
        known = {f.name: f for f in self.fields}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                ctx.add(path, f"keys must be text, got {_show(key)}")
                continue
            where = _join(path, key)
            if key in known:
                out[key] = known[key].spec.check(item, where, ctx)
            elif self.extra:
                out[key] = item
            else:
                hint = _suggest(key, known) or "; allowed: " + ", ".join(known)
                ctx.add(where, f"unknown key {key!r} in a {what}{hint}")
        for f in self.fields:  # a missing key leaves BAD, so the object is not built
            if f.required and f.name not in value:
                ctx.add(_join(path, f.name), f"missing: a {what} needs {f.name!r}")
                out[f.name] = BAD
        if self.one_of:
            given = [k for k in self.one_of if k in value]
            names = ", ".join(self.one_of)
            if not given:
                ctx.add(path, f"a {what} needs one of {names}")
                out[self.one_of[0]] = BAD
            elif len(given) > 1:
                ctx.add(_join(path, given[1]), f"a {what} takes only one of {names}")
                out[given[1]] = BAD
        for f in self.fields:  # relative targets need their reference value
            relative = isinstance(out.get(f.name), Relative)
            if relative and isinstance(f.spec, Target) and f.spec.relative_to not in value:
                rel = out[f.name].text
                message = f"a relative value ({rel!r}) needs a {f.spec.relative_to}"
                ctx.add(_join(path, f.name), message)
                out[f.name] = BAD
        return out

    def body(self, defs: dict[str, Any]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for f in self.fields:
            prop = f.spec.schema(defs)
            if f.doc:
                prop = {**prop, "description": f.doc}
            props[f.name] = prop
        out: dict[str, Any] = {"type": "object"}
        if self.doc:
            out["description"] = self.doc
        out["properties"] = props
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        out["additionalProperties"] = self.extra
        if self.one_of:
            out["oneOf"] = [{"required": [k]} for k in self.one_of]
        rules = [
            {
                "if": {"properties": {f.name: {"type": "string"}}, "required": [f.name]},
                "then": {"required": [f.spec.relative_to]},
            }
            for f in self.fields
            if isinstance(f.spec, Target)
        ]
        if rules:
            out["allOf"] = rules
        return out

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        if self.name is None:
            return self.body(defs)
        if self.name not in defs:
            defs[self.name] = {}  # placeholder first: guards against recursion
            defs[self.name] = self.body(defs)
        return {"$ref": f"#/$defs/{self.name}"}


# -- the format ------------------------------------------------------------------------------

ID = Text(what="an id (text)")
TEXT = Text()
OWNER = Text(what="an owner (text)")
WEIGHT = Number(minimum=0)
MONEY = Number(minimum=0)

KINDS = ("increase", "decrease", "maintain_above", "maintain_below", "milestone", "count")
MEASURES = ("gauge", "cumulative")
CADENCES = ("daily", "weekly", "monthly")
LEVELS = ("company", "team", "project", "individual")

CYCLE = Obj(
    "cycle",
    (
        Field("id", ID, True, "Cycle id, referenced by objectives' `cycle`."),
        Field("title", TEXT),
        Field("start", Date(), True, "First day (inclusive)."),
        Field("end", Date(), True, "Last day (inclusive)."),
    ),
    doc="A time box: a quarter, a year or custom dates.",
)

GOAL = Obj(
    "goal",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("owner", OWNER),
        Field("description", TEXT),
    ),
    doc="A broad, long-term outcome, measured through the objectives aligned to it.",
)

SOURCE = Obj(
    "source",
    (Field("connection", ID, True, "Name of an entry of the plan's `connections`."),),
    extra=True,
    doc="Where the key result's actual comes from; other keys are the plugin's query.",
)

KEY_RESULT = Obj(
    "key_result",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("kind", Choice(KINDS), doc="How progress is measured (default increase)."),
        Field("measure", Choice(MEASURES), doc="gauge: latest level; cumulative: sum of amounts."),
        Field("unit", Text(min_length=0)),
        Field("metric", TEXT, doc="Name of the measured metric."),
        Field("baseline", Number(), doc="Value at the start."),
        Field("target", Target(), doc='A number, or relative to the baseline: "+20%", "-10%".'),
        Field("floor", Target(), doc="Committed minimum (same forms as target)."),
        Field("stretch", Target(), doc="Aspirational value graded 1.0 (same forms as target)."),
        Field("weight", WEIGHT, doc="Weight in the objective's score (default 1)."),
        Field("owner", OWNER),
        Field("deadline", Date(), doc="Defaults to the cycle's end."),
        Field("cadence", Choice(CADENCES), doc="How often it is checked in."),
        Field("tolerance", Number(minimum=0), doc="Linear fall-off beyond a maintain bound."),
        Field("depends_on", Ids(), doc="Ids of key results this one depends on."),
        Field("committed", Boolean(), doc="Committed (1.0 expected) or aspirational (0.7)."),
        Field("source", SOURCE),
    ),
    doc="A measurable, time-bound result that shows progress on an objective.",
)

STRATEGY = Obj(
    "strategy",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("owner", OWNER),
        Field("budget", MONEY),
        Field("resources", Ids(), doc="People, teams or tools assigned."),
        Field("status", TEXT, doc="Default active."),
        Field("depends_on", Ids(), doc="Ids of strategies or key results it depends on."),
    ),
    doc="How an owner pursues an objective.",
)

OBJECTIVE = Obj(
    "objective",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("owner", OWNER),
        Field("level", Choice(LEVELS), doc="Default team."),
        Field("cycle", ID, True, "Id of a cycle."),
        Field("goal", ID, doc="Id of the goal it aligns to."),
        Field("parent", ID, doc="Id of the parent objective it aligns to."),
        Field("weight", WEIGHT, doc="Weight of this alignment in the parent's rollup."),
        Field("budget", MONEY),
        Field("key_results", ListOf(KEY_RESULT)),
        Field("strategies", ListOf(STRATEGY)),
    ),
    doc="A specific, inspiring outcome for one cycle and one owner.",
)

CONNECTION = Obj(
    "connection",
    (
        Field("plugin", ID, True, "Name of the source plugin (file, http, ga4...)."),
        Field("endpoint", TEXT, doc="Base URL override (proxies, test servers)."),
    ),
    extra=True,
    doc="A named connection; other keys are plugin settings (secrets as env:NAME references).",
)

NOTIFY_CHANNEL = Obj(
    "notify_channel",
    (Field("plugin", ID, True, "Name of the notifier plugin (slack, teams, email...)."),),
    extra=True,
    doc="A notification channel; other keys are the notifier's settings.",
)

FUNNEL_STEP = Obj(
    "funnel_step",
    (
        Field("name", ID, True, "Name of the stage this step derives."),
        Field("divide_by", Number(exclusive_minimum=0), doc="Value per unit (average contract)."),
        Field("rate", Number(exclusive_minimum=0, maximum=1), doc="Conversion rate into `of`."),
        Field("multiply_by", Number(exclusive_minimum=0), doc="Cost per unit (CAC)."),
        Field("of", ID, doc="Stage it derives from (default: the previous one)."),
        Field("unit", Text(min_length=0)),
        Field("key_result", ID, doc="Key result whose target this stage sets."),
    ),
    one_of=("divide_by", "rate", "multiply_by"),
)

FUNNEL_SPLIT = Obj(
    "funnel_split",
    (
        Field("of", ID, True, "Stage to split."),
        Field("shares", MapOf(Number(minimum=0, maximum=1)), True, "Channel -> share (sum 1)."),
        Field("key_results", MapOf(ID), doc="Channel -> key result id."),
    ),
)

FUNNEL = Obj(
    "funnel",
    (
        Field("id", ID, True),
        Field("start", ID, True, "Name of the first stage."),
        Field("value", Number(exclusive_minimum=0), True, "Value of the first stage."),
        Field("unit", Text(min_length=0)),
        Field("key_result", ID),
        Field("steps", ListOf(FUNNEL_STEP)),
        Field("splits", ListOf(FUNNEL_SPLIT)),
    ),
    doc="A funnel from a company target down to marketing targets.",
)

PLAN_SPEC = Obj(
    None,
    (
        Field("$schema", TEXT, doc="Optional schema reference for editors; ignored."),
        Field("okrcore", Const(VERSION), True, "Plan format version."),
        Field("title", TEXT),
        Field("cycles", ListOf(CYCLE)),
        Field("goals", ListOf(GOAL)),
        Field("objectives", ListOf(OBJECTIVE)),
        Field("connections", MapOf(CONNECTION), doc="Connection name -> settings."),
        Field(
            "checks",
            MapOf(AnyOf((Boolean(), FreeMap()), "true, false or a mapping of settings")),
            doc="Check name -> false (off), true, or settings.",
        ),
        Field("policy", FreeMap(), doc="Grading and status policy settings."),
        Field("notify", MapOf(NOTIFY_CHANNEL), doc="Channel name -> notifier settings."),
        Field("plugins", ListOf(Text(pattern=_DOTTED, what="a dotted module name"))),
        Field("funnels", ListOf(FUNNEL)),
    ),
)
"""The whole plan format: the loader validates with it and :func:`plan_schema` publishes it."""


def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of plan files, generated from :data:`PLAN_SPEC`."""
    defs: dict[str, Any] = {}
    body = PLAN_SPEC.body(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://okrcore.readthedocs.io/plan.schema.json",
        "title": "okrcore plan",
        "description": "An okrcore plan file: cycles, goals, objectives, key results, strategies, "
        "connections, checks, policy, notify, plugins and funnels.",
        **body,
        "$defs": dict(sorted(defs.items())),
    }


# -- building the model ----------------------------------------------------------------------


_KR_FIELDS = ("target", "floor", "stretch", "baseline", "tolerance", "weight")


def _model_problem(
    ctx: _Ctx, path: str, exc: ValueError, fields: Iterable[str] = (), default: str = ""
) -> None:
    """Turn a model validator's ValueError into problems placed at the field it names."""
    text = str(exc)
    text = re.sub(r"^(key result|funnel step|split of) '[^']*'?:?\s*", "", text)
    for part in text.split("; "):
        named = [(part.find(f), f) for f in fields if re.search(rf"\b{f}\b", part)]
        field = min(named)[1] if named else default
        ctx.add(_join(path, field) if field else path, part)


def _build_key_result(raw: dict[str, Any], path: str, ctx: _Ctx) -> KeyResult | None:
    fields = dict(raw)
    baseline = fields.get("baseline")
    for name in ("target", "floor", "stretch"):
        if isinstance(fields.get(name), Relative):
            fields[name] = fields[name].resolve(baseline)
    if "depends_on" in fields:
        fields["depends_on"] = tuple(fields["depends_on"])
    try:
        return KeyResult(**fields)
    except ValueError as exc:
        _model_problem(ctx, path, exc, _KR_FIELDS)
        return None


def _clean_items(items: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) of the list items that passed validation."""
    if not isinstance(items, list):
        return []
    return [(i, x) for i, x in enumerate(items) if isinstance(x, dict) and not _has_bad(x)]


def _ids_of(items: Any) -> list[tuple[int, str]]:
    if not isinstance(items, list):
        return []
    return [
        (i, x["id"])
        for i, x in enumerate(items)
        if isinstance(x, dict) and "id" in x and isinstance(x["id"], str)
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _duplicates(ctx: _Ctx, seen: dict[str, str], path: str, ident: str, what: str) -> None:
    if ident in seen:
        ctx.add(path, f"duplicate {what} id {ident!r} (also at {seen[ident]})")
    else:
        seen[ident] = path


def _check_references(doc: dict[str, Any], ctx: _Ctx) -> None:
    """Ids that must be unique or must exist, checked on the validated data."""
    cycles: dict[str, str] = {}
    for i, ident in _ids_of(doc.get("cycles")):
        _duplicates(ctx, cycles, f"cycles[{i}].id", ident, "cycle")
    goals: dict[str, str] = {}
    for i, ident in _ids_of(doc.get("goals")):
        _duplicates(ctx, goals, f"goals[{i}].id", ident, "goal")
    objectives: dict[str, str] = {}
    krs: dict[str, str] = {}
    strategies: dict[str, str] = {}
    objs = _list(doc.get("objectives"))
    for i, ident in _ids_of(objs):
        _duplicates(ctx, objectives, f"objectives[{i}].id", ident, "objective")
    for i, obj in enumerate(objs):
        if not isinstance(obj, dict):
            continue
        for j, ident in _ids_of(obj.get("key_results")):
            where = f"objectives[{i}].key_results[{j}].id"
            if ident in objectives:
                ctx.add(where, f"key result id {ident!r} is also an objective id")
            _duplicates(ctx, krs, where, ident, "key result")
        for j, ident in _ids_of(obj.get("strategies")):
            _duplicates(ctx, strategies, f"objectives[{i}].strategies[{j}].id", ident, "strategy")
    connections = doc.get("connections")
    connections = connections if isinstance(connections, dict) else {}
    parents: dict[str, str] = {}
    for i, obj in enumerate(objs):
        if not isinstance(obj, dict):
            continue
        at = f"objectives[{i}]"
        for key, known, what in (
            ("cycle", cycles, "cycle"),
            ("goal", goals, "goal"),
            ("parent", objectives, "objective"),
        ):
            ref = obj.get(key)
            if isinstance(ref, str) and ref not in known:
                ctx.add(f"{at}.{key}", f"unknown {what} {ref!r}{_suggest(ref, known)}")
        if isinstance(obj.get("parent"), str) and isinstance(obj.get("id"), str):
            parents[obj["id"]] = obj["parent"]
        for j, kr in enumerate(obj.get("key_results") or []):
            if not isinstance(kr, dict):
                continue
            kat = f"{at}.key_results[{j}]"
            for k, dep in enumerate(kr.get("depends_on") or []):
                if isinstance(dep, str) and dep not in krs:
                    message = f"unknown key result {dep!r}{_suggest(dep, krs)}"
                    ctx.add(f"{kat}.depends_on[{k}]", message)
            source = kr.get("source")
            if isinstance(source, dict) and isinstance(source.get("connection"), str):
                name = source["connection"]
                if name not in connections:
                    names = ", ".join(connections) or "none defined"
                    hint = _suggest(name, connections) or f" (connections: {names})"
                    ctx.add(f"{kat}.source.connection", f"unknown connection {name!r}{hint}")
        for j, st in enumerate(obj.get("strategies") or []):
            if not isinstance(st, dict):
                continue
            for k, dep in enumerate(st.get("depends_on") or []):
                if isinstance(dep, str) and dep not in strategies and dep not in krs:
                    ctx.add(
                        f"{at}.strategies[{j}].depends_on[{k}]",
                        f"unknown strategy or key result {dep!r}",
                    )
    _check_loops(parents, objectives, ctx)
    funnels = _list(doc.get("funnels"))
    seen: dict[str, str] = {}
    for i, ident in _ids_of(funnels):
        _duplicates(ctx, seen, f"funnels[{i}].id", ident, "funnel")
    for i, funnel in enumerate(funnels):
        if isinstance(funnel, dict):
            _check_funnel(funnel, f"funnels[{i}]", krs, ctx)


def _check_loops(parents: dict[str, str], where: dict[str, str], ctx: _Ctx) -> None:
    reported: set[str] = set()
    for start in parents:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in path:
            path.append(node)
            node = parents.get(node)
        if node is not None and node not in reported:
            loop = path[path.index(node) :]
            reported.update(loop)
            chain = " -> ".join([*loop, loop[0]])
            at = where[loop[0]].removesuffix(".id") + ".parent"
            ctx.add(at, f"alignment loop: {chain}")


def _check_funnel(funnel: dict[str, Any], at: str, krs: Mapping[str, str], ctx: _Ctx) -> None:
    stages = [funnel["start"]] if isinstance(funnel.get("start"), str) else []

    def kr_ref(value: Any, path: str) -> None:
        if isinstance(value, str) and value not in krs:
            ctx.add(path, f"unknown key result {value!r}{_suggest(value, krs)}")

    kr_ref(funnel.get("key_result"), f"{at}.key_result")
    for j, step in enumerate(funnel.get("steps") or []):
        if not isinstance(step, dict):
            continue
        of = step.get("of")
        if isinstance(of, str) and of not in stages:
            ctx.add(
                f"{at}.steps[{j}].of",
                f"unknown or later stage {of!r}; earlier stages: " + ", ".join(stages),
            )
        kr_ref(step.get("key_result"), f"{at}.steps[{j}].key_result")
        if isinstance(step.get("name"), str):
            stages.append(step["name"])
    for j, split in enumerate(funnel.get("splits") or []):
        if not isinstance(split, dict):
            continue
        of = split.get("of")
        if isinstance(of, str) and of not in stages:
            ctx.add(f"{at}.splits[{j}].of", f"unknown stage {of!r}{_suggest(of, stages)}")
        shares = split.get("shares")
        channels = shares if isinstance(shares, dict) else {}
        if channels and not _has_bad(channels):
            total = sum(channels.values())
            if not math.isclose(total, 1.0, abs_tol=1e-9):
                ctx.add(f"{at}.splits[{j}].shares", f"shares sum to {total:g}, expected 1")
        bound = split.get("key_results")
        for channel, kr in bound.items() if isinstance(bound, dict) else ():
            where = f"{at}.splits[{j}].key_results.{channel}"
            if channel not in channels:
                ctx.add(where, f"channel {channel!r} has no share")
            kr_ref(kr, where)


def _build_funnel(raw: dict[str, Any], path: str, ctx: _Ctx) -> Funnel | None:
    steps = []
    for j, s in enumerate(raw.get("steps", [])):
        op = next(k for k in ("divide_by", "rate", "multiply_by") if k in s)
        try:
            steps.append(
                FunnelStep(
                    s["name"], op, s[op], s.get("of"), s.get("unit", ""), s.get("key_result")
                )
            )
        except ValueError as exc:
            _model_problem(ctx, f"{path}.steps[{j}]", exc, (op,))
            return None
    try:
        splits = [
            FunnelSplit(s["of"], s["shares"], s.get("key_results", {}))
            for s in raw.get("splits", [])
        ]
        return Funnel(
            raw["id"],
            raw["start"],
            raw["value"],
            raw.get("unit", ""),
            raw.get("key_result"),
            steps,
            splits,
        )
    except ValueError as exc:
        _model_problem(ctx, path, exc)
        return None


def _build_objective(raw: dict[str, Any], path: str, ctx: _Ctx) -> Objective | None:
    krs: list[KeyResult] = []
    ok = True
    for j, kr_raw in enumerate(raw.get("key_results", [])):
        if not isinstance(kr_raw, dict) or _has_bad(kr_raw):
            ok = False
            continue
        kr = _build_key_result(kr_raw, f"{path}.key_results[{j}]", ctx)
        ok = ok and kr is not None
        if kr is not None:
            krs.append(kr)
    strategies: list[Strategy] = []
    for j, st in _clean_items(raw.get("strategies", [])):
        fields = dict(st)
        for key in ("resources", "depends_on"):
            if key in fields:
                fields[key] = tuple(fields[key])
        try:
            strategies.append(Strategy(**fields))
        except ValueError as exc:
            _model_problem(ctx, f"{path}.strategies[{j}]", exc)
    if not ok or _has_bad(raw):
        return None
    fields = {k: v for k, v in raw.items() if k not in ("key_results", "strategies")}
    try:
        return Objective(**fields, key_results=krs, strategies=strategies)
    except ValueError as exc:
        _model_problem(ctx, path, exc)
        return None


def _build(data: Any, ctx: _Ctx, source_path: str | None, base_dir: str | None) -> Plan:
    """Validate loaded data against the format and build the plan, or raise every problem."""
    if data is None:
        ctx.add("", "the plan is empty; it needs at least 'okrcore: 1'")
        raise PlanError(ctx.problems, source_path)
    doc = PLAN_SPEC.check(data, "", ctx)
    if doc is BAD:
        raise PlanError(ctx.problems, source_path)
    cycles = []
    for i, c in _clean_items(doc.get("cycles")):
        try:
            cycles.append(Cycle(**c))
        except ValueError as exc:
            _model_problem(ctx, f"cycles[{i}]", exc, default="end")
    goals = [Goal(**g) for _i, g in _clean_items(doc.get("goals"))]
    objectives = []
    for i, raw in enumerate(doc.get("objectives") or []):
        if isinstance(raw, dict):
            obj = _build_objective(raw, f"objectives[{i}]", ctx)
            if obj is not None:
                objectives.append(obj)
    connections = {}
    for name, conn in (doc.get("connections") or {}).items():
        if isinstance(conn, dict) and not _has_bad(conn):
            settings = {k: v for k, v in conn.items() if k not in ("plugin", "endpoint")}
            connections[name] = Connection(
                name, conn["plugin"], settings, conn.get("endpoint"), base_dir=base_dir
            )
    funnels = []
    for i, raw in _clean_items(doc.get("funnels")):
        funnel = _build_funnel(raw, f"funnels[{i}]", ctx)
        if funnel is not None:
            funnels.append(funnel)
    _check_references(doc, ctx)
    if ctx.problems or _has_bad(doc):
        ordered = sorted(ctx.problems, key=lambda p: (p.line or 0, p.column or 0))
        raise PlanError(ordered, source_path)
    try:
        return Plan(
            cycles=cycles,
            goals=goals,
            objectives=objectives,
            connections=connections,
            funnels=funnels,
            checks=doc.get("checks", {}),
            policy=doc.get("policy", {}),
            notify=doc.get("notify", {}),
            plugins=tuple(doc.get("plugins", ())),
            title=doc.get("title"),
            source_path=source_path,
            positions=dict(ctx.positions),
        )
    except PlanError as exc:  # a model rule the loader does not check itself
        for p in exc.problems:
            ctx.add(p.path, p.message)
        raise PlanError(ctx.problems, source_path) from None


# -- parsing with positions ------------------------------------------------------------------


def _yaml_walk(
    node: yaml.Node, path: str, positions: Positions, ctx: _Ctx, stack: set[int]
) -> None:
    if id(node) in stack:  # an alias to its own ancestor: the data would be infinite
        message = "recursive YAML alias: a value cannot contain itself"
        raise PlanError([Problem(path, message, *_locate(positions, path))], ctx.file)
    stack = stack | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            where = _join(path, key)
            mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            # keys merged in with "<<: *anchor" lie outside this mapping; its own keys override
            own = node.start_mark.index <= key_node.start_mark.index <= node.end_mark.index
            if own and key in seen:
                message = f"duplicate key {key!r} (first on line {seen[key]})"
                ctx.problems.append(Problem(where, message, *mark))
            elif own or where not in positions:
                if own:
                    seen[key] = mark[0]
                positions[where] = mark
            _yaml_walk(value_node, where, positions, ctx, stack)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            where = f"{path}[{i}]"
            positions[where] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _yaml_walk(item, where, positions, ctx, stack)


class _Loader(yaml.SafeLoader):
    """Safe loading, but an impossible date (2026-13-01) stays text for the checker to report."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


class _Dumper(yaml.SafeDumper):
    """Safe dumping; text holding YAML line breaks (NEL, LS, PS) is written double-quoted."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if any(ch in data for ch in "\x85\u2028\u2029"):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)


_Dumper.add_representer(str, _Dumper.represent_str)


def _parse_yaml(text: str, file: str | None, ctx: _Ctx, positions: Positions) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise PlanError([Problem("", f"YAML syntax error: {what}", line, col)], file) from None
    except yaml.YAMLError as exc:
        raise PlanError([Problem("", f"YAML error: {exc}")], file) from None
    finally:
        loader.dispose()
    if node is not None:
        _yaml_walk(node, "", positions, ctx, set())
    return data


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_ATOM = re.compile(
    r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|"
    r"-?Infinity"
)


def _json_positions(text: str, ctx: _Ctx, positions: Positions) -> None:
    """Record the position of every key and item of (valid) JSON text."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def pos(index: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, index)
        return line, index - starts[line - 1] + 1

    def skip(i: int) -> int:
        m = _JSON_WS.match(text, i)
        return m.end() if m else i

    def value(i: int, path: str) -> int:
        i = skip(i)
        c = text[i]
        if c == "{":
            seen: dict[str, int] = {}
            i = skip(i + 1)
            while text[i] != "}":
                key, end = scanstring(text, i + 1)
                where = _join(path, key)
                if key in seen:
                    message = f"duplicate key {key!r} (first on line {seen[key]})"
                    ctx.problems.append(Problem(where, message, *pos(i)))
                else:
                    seen[key] = pos(i)[0]
                    positions[where] = pos(i)
                i = skip(end) + 1  # past the colon
                i = skip(value(i, where))
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if c == "[":
            n = 0
            i = skip(i + 1)
            while text[i] != "]":
                where = f"{path}[{n}]"
                positions[where] = pos(i)
                i = skip(value(i, where))
                n += 1
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if c == '"':
            return scanstring(text, i + 1)[1]
        m = _JSON_ATOM.match(text, i)
        return m.end() if m else i + 1

    value(0, "")


def _parse_json(text: str, file: str | None, ctx: _Ctx, positions: Positions) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(
            [Problem("", f"JSON syntax error: {exc.msg}", exc.lineno, exc.colno)], file
        ) from None
    _json_positions(text, ctx, positions)
    return data


_TOML_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_TOML_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*\]\]?")
_TOML_ASSIGN = re.compile(rf"^(\s*)({_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*)\s*=")


def _toml_parts(dotted: str) -> list[str]:
    parts = re.findall(_TOML_KEY, dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _toml_positions(text: str, positions: Positions) -> None:
    """Best effort: follow table headers and ``key =`` lines (see the module docstring)."""
    counts: dict[str, int] = {}
    current = ""
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            in_string = line.count('"""') % 2 == 0 and line.count("'''") % 2 == 0
            continue
        header = _TOML_HEADER.match(line)
        if header:
            parts = _toml_parts(header.group(2))
            base = ""
            for part in parts[:-1]:
                base = _join(base, part)
                if base in counts:
                    base = f"{base}[{counts[base] - 1}]"
            table = _join(base, parts[-1])
            if header.group(1) == "[[":
                counts[table] = counts.get(table, 0) + 1
                positions.setdefault(table, (number, line.index("[") + 1))
                table = f"{table}[{counts[table] - 1}]"
            current = table
            positions[current] = (number, line.index("[") + 1)
            continue
        assign = _TOML_ASSIGN.match(line)
        if assign:
            where = current
            for part in _toml_parts(assign.group(2)):
                where = _join(where, part)
            positions.setdefault(where, (number, len(assign.group(1)) + 1))
            rest = line[assign.end() :]
            in_string = rest.count('"""') % 2 == 1 or rest.count("'''") % 2 == 1


def _parse_toml(text: str, file: str | None, ctx: _Ctx, positions: Positions) -> Any:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        message = message[: m.start()] if m else message
        raise PlanError([Problem("", f"TOML syntax error: {message}", line, col)], file) from None
    _toml_positions(text, positions)
    return data


_PARSERS = {"yaml": _parse_yaml, "json": _parse_json, "toml": _parse_toml}


# -- public loading API ----------------------------------------------------------------------


def loads_plan(
    text: str, format: str = "yaml", *, name: str | None = None, base_dir: str | None = None
) -> Plan:
    """Load a plan from text in ``format`` (``yaml``, ``toml`` or ``json``).

    ``name`` is used in messages and as the plan's ``source_path``; ``base_dir`` is the folder that
    relative paths in connection settings and queries are read from (default: the folder of
    ``name`` when given). Raises :class:`~okrcore.PlanError` listing every problem.
    """
    parser = _PARSERS.get("yaml" if format == "yml" else format)
    if parser is None:
        raise ValueError(f"unknown plan format {format!r}; expected yaml, toml or json")
    if base_dir is None and name is not None:
        base_dir = os.path.dirname(os.path.abspath(name))
    positions: Positions = {}
    ctx = _Ctx(positions, file=name)
    data = parser(text, name, ctx, positions)
    return _build(data, ctx, name, base_dir)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Load a plan file; the format follows the extension (.yaml/.yml, .toml, .json).

    Raises :class:`~okrcore.PlanError` naming the file, line, column and field path of every
    problem, or the file itself when it cannot be read.
    """
    name = os.fspath(path)
    format = FORMATS.get(os.path.splitext(name)[1].lower())
    if format is None:
        message = "unknown plan file type; use .yaml, .yml, .toml or .json"
        raise PlanError([Problem("", message)], name)
    try:
        with open(name, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        message = f"cannot read the plan file ({exc.strerror})"
        raise PlanError([Problem("", message)], name) from None
    except UnicodeDecodeError as exc:
        raise PlanError(
            [Problem("", f"the plan file is not UTF-8 text ({exc.reason})")], name
        ) from None
    return loads_plan(text, format, name=name)


# -- dumping ---------------------------------------------------------------------------------


def _num(value: float) -> int | float:
    """Integral floats are written as ints (readable, and exact within 2**53)."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _plain(value: Any) -> Any:
    """Free-form settings as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is None or (isinstance(value, (tuple, list, Mapping)) and not value):
        return
    if isinstance(value, float):
        value = _num(value)
    elif isinstance(value, tuple):
        value = list(value)
    out[key] = value


def _kr_data(kr: KeyResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": kr.id,
        "title": kr.title,
        "kind": kr.kind.value,
        "measure": kr.measure.value,
    }
    if kr.unit:
        out["unit"] = kr.unit
    for key in ("metric", "baseline", "target", "floor", "stretch"):
        _put(out, key, getattr(kr, key))
    if kr.weight != 1.0:
        _put(out, "weight", kr.weight)
    _put(out, "owner", kr.owner)
    _put(out, "deadline", kr.deadline)
    _put(out, "cadence", kr.cadence.value if kr.cadence else None)
    _put(out, "tolerance", kr.tolerance)
    _put(out, "depends_on", kr.depends_on)
    _put(out, "committed", kr.committed)
    if kr.source is not None:
        out["source"] = _plain(kr.source)
    return out


def _strategy_data(st: Strategy) -> dict[str, Any]:
    out: dict[str, Any] = {"id": st.id, "title": st.title}
    _put(out, "owner", st.owner)
    _put(out, "budget", st.budget)
    _put(out, "resources", st.resources)
    if st.status != "active":
        out["status"] = st.status
    _put(out, "depends_on", st.depends_on)
    return out


def _objective_data(obj: Objective) -> dict[str, Any]:
    out: dict[str, Any] = {"id": obj.id, "title": obj.title}
    _put(out, "owner", obj.owner)
    out["level"] = obj.level.value
    out["cycle"] = obj.cycle
    _put(out, "goal", obj.goal)
    _put(out, "parent", obj.parent)
    if obj.weight != 1.0:
        _put(out, "weight", obj.weight)
    _put(out, "budget", obj.budget)
    _put(out, "key_results", [_kr_data(kr) for kr in obj.key_results])
    _put(out, "strategies", [_strategy_data(st) for st in obj.strategies])
    return out


def _funnel_data(funnel: Funnel) -> dict[str, Any]:
    out: dict[str, Any] = {"id": funnel.id, "start": funnel.start, "value": _num(funnel.value)}
    if funnel.unit:
        out["unit"] = funnel.unit
    _put(out, "key_result", funnel.key_result)
    steps = []
    for s in funnel.steps:
        step: dict[str, Any] = {"name": s.name, s.op: _num(s.value)}
        _put(step, "of", s.of)
        if s.unit:
            step["unit"] = s.unit
        _put(step, "key_result", s.key_result)
        steps.append(step)
    _put(out, "steps", steps)
    splits = []
    for sp in funnel.splits:
        split: dict[str, Any] = {
            "of": sp.of,
            "shares": {k: _num(float(v)) for k, v in sp.shares.items()},
        }
        _put(split, "key_results", dict(sp.key_results))
        splits.append(split)
    _put(out, "splits", splits)
    return out


def plan_data(plan: Plan) -> dict[str, Any]:
    """The plan as plain data in the file format (numbers resolved to absolute values)."""
    out: dict[str, Any] = {"okrcore": VERSION}
    _put(out, "title", plan.title)
    _put(
        out,
        "cycles",
        [
            {
                k: v
                for k, v in (("id", c.id), ("title", c.title), ("start", c.start), ("end", c.end))
                if v is not None
            }
            for c in plan.cycles
        ],
    )
    _put(
        out,
        "goals",
        [
            {
                k: v
                for k, v in (
                    ("id", g.id),
                    ("title", g.title),
                    ("owner", g.owner),
                    ("description", g.description),
                )
                if v is not None
            }
            for g in plan.goals
        ],
    )
    _put(out, "objectives", [_objective_data(o) for o in plan.objectives])
    connections = {}
    for name, conn in plan.connections.items():
        entry: dict[str, Any] = {"plugin": conn.plugin}
        _put(entry, "endpoint", conn.endpoint)
        entry.update(_plain(conn.settings))
        connections[name] = entry
    _put(out, "connections", connections)
    _put(out, "checks", _plain(plan.checks))
    _put(out, "policy", _plain(plan.policy))
    _put(out, "notify", _plain(plan.notify))
    _put(out, "plugins", plan.plugins)
    _put(out, "funnels", [_funnel_data(f) for f in plan.funnels])
    return out


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {type(value).__name__} to TOML")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_table(table: Mapping[str, Any], prefix: str, lines: list[str]) -> None:
    for key, value in table.items():
        if value is None or isinstance(value, dict) or _is_table_list(value):
            continue
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in table.items():
        name = f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)
        if isinstance(value, dict):
            lines.extend(["", f"[{name}]"])
            _toml_table(value, name, lines)
        elif _is_table_list(value):
            for item in value:
                lines.extend(["", f"[[{name}]]"])
                _toml_table(item, name, lines)


def dumps_plan(plan: Plan, format: str = "yaml") -> str:
    """The plan as text in ``format`` (``yaml``, ``toml`` or ``json``); loading it gives an
    equal plan. Relative targets are written as the absolute values they resolved to.

    TOML has no null: a null inside free-form settings (policy, connection settings) is left
    out of a TOML dump.
    """
    data = plan_data(plan)
    if format == "yaml":
        return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if format == "json":
        return (
            json.dumps(data, indent=2, ensure_ascii=False, default=lambda v: v.isoformat()) + "\n"
        )
    if format == "toml":
        lines: list[str] = []
        _toml_table(data, "", lines)
        return "\n".join(lines).lstrip("\n") + "\n"
    raise ValueError(f"unknown plan format {format!r}; expected yaml, toml or json")


def dump_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write the plan to a file; the format follows the extension (.yaml/.yml, .toml, .json)."""
    name = os.fspath(path)
    format = FORMATS.get(os.path.splitext(name)[1].lower())
    if format is None:
        raise ValueError(f"unknown plan file type {name!r}; use .yaml, .yml, .toml or .json")
    text = dumps_plan(plan, format)
    with open(name, "w", encoding="utf-8") as fh:
        fh.write(text)


def _main(argv: list[str]) -> int:
    if argv == ["--schema"]:
        sys.stdout.write(json.dumps(plan_schema(), indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stderr.write("usage: python -m okrcore.planfile --schema\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
