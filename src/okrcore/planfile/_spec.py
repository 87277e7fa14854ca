"""The schema mini-language of plan files: field specs that validate a loaded value and describe
themselves as JSON Schema, and the context that collects problems with their positions.

A little over 600 lines on purpose: the language is one set of small classes, each a check and a
schema side by side, and reads best as one list.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from okrcore.errors import Problem

from ._limits import FIRST_DATE, LAST_DATE, MAX_NUMBER, MAX_SHOWN

_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*%\s*$")
_RELATIVE_PATTERN = r"^\s*[+-]\s*[0-9]+(\.[0-9]+)?\s*%\s*$"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# -- validation context -----------------------------------------------------------------------


class _Bad:
    """The sentinel of a rejected value (its problem is already recorded)."""

    def __repr__(self) -> str:
        return "<bad>"


BAD = _Bad()


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def locate(positions: Mapping[str, tuple[int, int]], path: str) -> tuple[int | None, int | None]:
    """The position of ``path``, else of its nearest located ancestor, else of the document."""
    while path:
        if path in positions:
            return positions[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return positions.get("", (None, None))


class Ctx:
    """The problems found while checking a plan, each with the position of its path."""

    __slots__ = ("file", "positions", "problems")

    def __init__(
        self,
        positions: Mapping[str, tuple[int, int]],
        problems: list[Problem] | None = None,
        file: str | None = None,
    ) -> None:
        self.positions = positions
        self.problems: list[Problem] = [] if problems is None else problems
        self.file = file

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, *locate(self.positions, path)))

    def bad(self, value: Any) -> bool:
        """Whether ``value`` holds a rejected part (only possible once a problem is recorded)."""
        return bool(self.problems) and has_bad(value)


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
    return short(repr(value))


def short(text: str) -> str:
    """``text`` cut to a length a message can quote."""
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 10]}... ({len(text):,} chars)"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def suggest(word: str, choices: Iterable[str]) -> str:
    if len(word) > MAX_SHOWN:  # difflib is quadratic in the word's length
        return ""
    import difflib  # only for a message about a wrong name

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _exponent_hint(value: Any) -> str:
    if (
        isinstance(value, str)
        and len(value) < MAX_SHOWN
        and re.match(r"^[+-]?\d+(\.\d*)?[eE][+-]?\d+$", value.strip())
    ):
        return " (YAML reads 1e6 as text: write 1.0e+6 or the digits)"
    return ""


def _in_range(value: float, path: str, ctx: Ctx) -> bool:
    """Whether a number is finite and within +-MAX_NUMBER (docs/limits.md); records why not."""
    if isinstance(value, float) and not math.isfinite(value):
        ctx.add(path, f"expected a number, got {_show(value)}")
        return False
    if abs(value) > MAX_NUMBER:
        shown = short(str(value)) if isinstance(value, int) else f"{value:g}"
        ctx.add(path, f"number too large: {shown}; plan numbers lie within +-{MAX_NUMBER:.0e}")
        return False
    return True


def has_bad(value: Any) -> bool:
    if value is BAD:
        return True
    if isinstance(value, dict):
        return any(has_bad(v) for v in value.values())
    if isinstance(value, list):
        return any(has_bad(v) for v in value)
    return False


# -- field specs: each validates a loaded value and describes itself as JSON Schema -----------


class Spec:
    """A field type: ``check`` validates a loaded value, ``schema`` describes it.

    The specs are plain classes with ``__slots__``, not attrs classes: the plan format builds
    its schema from them when ``okrcore.planfile`` is imported, and attrs' generated methods
    cost about half a millisecond per class, a measurable part of okrcore's start-up.
    """

    __slots__ = ()

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


class Text(Spec):
    """A string; ``min_length`` 1 by default, optionally matching ``pattern``."""

    __slots__ = ("min_length", "pattern", "what")

    def __init__(
        self,
        min_length: int = 1,
        pattern: str | None = None,
        what: str = "text",
    ) -> None:
        self.min_length = min_length
        self.pattern = pattern
        self.what = what

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
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
            ctx.add(path, f"expected {self.what}, got {_show(value)}")
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.min_length:
            out["minLength"] = self.min_length
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out


ID = Text(what="an id (text)")


class Number(Spec):
    """An int or float (not a bool), optionally bounded."""

    __slots__ = ("exclusive_minimum", "maximum", "minimum")

    def __init__(
        self,
        minimum: float | None = None,
        exclusive_minimum: float | None = None,
        maximum: float | None = None,
    ) -> None:
        self.minimum = minimum
        self.exclusive_minimum = exclusive_minimum
        self.maximum = maximum

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if not _is_number(value):
            ctx.add(path, f"expected a number, got {_show(value)}{_exponent_hint(value)}")
            return BAD
        if not _in_range(value, path, ctx):
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


class Integer(Spec):
    """A whole number (an int, not a bool), at least ``minimum``."""

    __slots__ = ("minimum",)

    def __init__(self, minimum: int = 0) -> None:
        self.minimum = minimum

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            ctx.add(path, f"expected a whole number, got {_show(value)}")
            return BAD
        if value < self.minimum:
            ctx.add(path, f"expected a whole number >= {self.minimum}, got {value!r}")
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum}


class Boolean(Spec):
    """true or false."""

    __slots__ = ()

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, bool):
            ctx.add(path, f"expected true or false, got {_show(value)}")
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "boolean"}


class Date(Spec):
    """A date: a YAML/TOML date or a ``YYYY-MM-DD`` string."""

    __slots__ = ()

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if isinstance(value, str) and _DATE.match(value.strip()):
            try:
                value = dt.date.fromisoformat(value.strip())
            except ValueError as exc:
                ctx.add(path, f"not a valid date: {value!r} ({exc})")
                return BAD
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            ctx.add(path, f"expected a date YYYY-MM-DD, got {_show(value)}")
            return BAD
        if not FIRST_DATE <= value <= LAST_DATE:
            ctx.add(path, f"date {value} is out of range: plans hold {FIRST_DATE} to {LAST_DATE}")
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


class Choice(Spec):
    """One of a fixed set of words."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if isinstance(value, str) and value in self.values:
            return value
        hint = suggest(value, self.values) if isinstance(value, str) else ""
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
        """The value this change makes of ``baseline``."""
        return baseline * (100.0 + self.percent) / 100.0


def parse_relative(text: str) -> Relative | None:
    """A change relative to the baseline (``+20%``, ``-10%``, ``+ 2.5 %``), or None when
    ``text`` is not one. The one parser of relative targets, for plan files and ``okr retarget``."""
    m = _RELATIVE.match(text)
    if m is None:
        return None
    percent = float(m.group(2)) * (-1.0 if m.group(1) == "-" else 1.0)
    return Relative(percent, text.strip())


class Target(Spec):
    """A number, or a relative string such as "+20%" that needs the sibling ``relative_to``."""

    __slots__ = ("relative_to",)

    def __init__(self, relative_to: str = "baseline") -> None:
        self.relative_to = relative_to

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if _is_number(value):
            return float(value) if _in_range(value, path, ctx) else BAD
        if isinstance(value, str):
            relative = parse_relative(value)
            if relative is not None:
                return relative
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


class Ids(Spec):
    """One id or a list of ids."""

    __slots__ = ()

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
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


class Const(Spec):
    """Exactly this value (the format version)."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if value != self.value or isinstance(value, bool):
            message = f"unsupported plan format {_show(value)}; this okrcore reads {self.value}"
            ctx.add(path, message)
            return BAD
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"const": self.value}


class ListOf(Spec):
    """A list whose items all match ``item``."""

    __slots__ = ("item",)

    def __init__(self, item: Spec) -> None:
        self.item = item

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, list):
            ctx.add(path, f"expected a list, got {_show(value)}")
            return BAD
        return [self.item.check(v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema(defs)}


class MapOf(Spec):
    """A mapping from names to values matching ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: Spec) -> None:
        self.value = value

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, Mapping):
            ctx.add(path, f"expected a mapping, got {_show(value)}")
            return BAD
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                ctx.add(path, f"names must be text, got {_show(key)}")
                continue
            out[key] = self.value.check(item, join(path, key), ctx)
        return out

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": self.value.schema(defs)}


class FreeMap(Spec):
    """A mapping kept as written (plugin settings, policy settings)."""

    __slots__ = ()

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, Mapping):
            ctx.add(path, f"expected a mapping, got {_show(value)}")
            return BAD
        return dict(value)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object"}


class AnyOf(Spec):
    """The first of ``options`` that accepts the value."""

    __slots__ = ("options", "what")

    def __init__(self, options: tuple[Spec, ...], what: str) -> None:
        self.options = options
        self.what = what

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        for option in self.options:
            # a failed option's problems are dropped unread: no positions to look up for them
            scratch = Ctx({})
            out = option.check(value, path, scratch)
            if not scratch.problems:
                return out
        ctx.add(path, f"expected {self.what}, got {_show(value)}")
        return BAD

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return {"anyOf": [o.schema(defs) for o in self.options]}


class Field:
    """One key of an :class:`Obj`."""

    __slots__ = ("doc", "name", "required", "spec")

    def __init__(self, name: str, spec: Spec, required: bool = False, doc: str = "") -> None:
        self.name = name
        self.spec = spec
        self.required = required
        self.doc = doc



class Obj(Spec):
    """A mapping with known keys. ``extra`` keeps unknown keys (plugin settings) as written;
    ``one_of`` names keys of which exactly one must be given, ``at_most_one`` keys of which one
    may be given."""

    __slots__ = (
        "_known", "_required", "_targets", "at_most_one", "doc", "extra", "fields", "name", "one_of"
    )

    def __init__(
        self,
        name: str | None,
        fields: tuple[Field, ...],
        extra: bool = False,
        one_of: tuple[str, ...] = (),
        doc: str = "",
        at_most_one: tuple[str, ...] = (),  # keys of which one may be given, not several
    ) -> None:
        self.name = name
        self.fields = fields
        self.extra = extra
        self.one_of = one_of
        self.doc = doc
        self.at_most_one = at_most_one
        # derived from ``fields`` once (checking runs for every key result of a plan)
        self._known = {f.name: f for f in fields}
        self._required = tuple(f.name for f in fields if f.required)
        self._targets = tuple(
            (f.name, f.spec.relative_to) for f in fields if isinstance(f.spec, Target)
        )

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def check(self, value: Any, path: str, ctx: Ctx) -> Any:
        noun = (self.name or "plan").replace("_", " ")
        what = f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"  # "an objective", "a key result"
        if not isinstance(value, dict) and not isinstance(value, Mapping):  # dict: fast path
            ctx.add(path, f"expected a mapping ({what}), got {_show(value)}")
            return BAD
        known = self._known
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                ctx.add(path, f"keys must be text, got {_show(key)}")
                continue
            where = f"{path}.{key}" if path else key  # join(), inlined: once per key of a plan
            if key in known:
                out[key] = known[key].spec.check(item, where, ctx)
            elif self.extra:
                out[key] = item
            else:
                hint = suggest(key, known) or "; allowed: " + ", ".join(known)
                ctx.add(where, f"unknown key {short(repr(key))} in {what}{hint}")
        for name in self._required:  # a missing key leaves BAD, so the object is not built
            if name not in value:
                ctx.add(join(path, name), f"missing: {what} needs {name!r}")
                out[name] = BAD
        if self.one_of:
            given = [k for k in self.one_of if k in value]
            names = ", ".join(self.one_of)
            if not given:
                ctx.add(path, f"{what} needs one of {names}")
                out[self.one_of[0]] = BAD
            elif len(given) > 1:
                ctx.add(join(path, given[1]), f"{what} takes only one of {names}")
                out[given[1]] = BAD
        given = [k for k in self.at_most_one if k in value]
        if len(given) > 1:
            names = " or ".join(self.at_most_one)
            ctx.add(join(path, given[1]), f"{what} takes {names}, not both")
            out[given[1]] = BAD
        for name, relative_to in self._targets:  # relative targets need their reference value
            if isinstance(out.get(name), Relative) and relative_to not in value:
                rel = out[name].text
                message = f"a relative value ({short(repr(rel))}) needs a {relative_to}"
                ctx.add(join(path, name), message)
                out[name] = BAD
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
        if self.at_most_one:
            out["not"] = {"required": list(self.at_most_one)}
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
