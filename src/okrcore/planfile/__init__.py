"""Plan files: load and dump plans as YAML, TOML or JSON, with exact error positions.

One table of field specs (:data:`PLAN_SPEC`) drives both the loader's validation and the published
JSON Schema (:func:`plan_schema`), so the two cannot drift. The loader reports every problem of a
file in one :class:`~okrcore.errors.PlanError`, each with its field path
(``objectives[1].key_results[0].target``), line and column.

The package's parts: ``_read`` (text -> data with positions, through one reader per format:
``_read_yaml``, ``_read_json``, ``_read_toml``; ``_yaml_plain`` is the fast path of a plain YAML
plan), ``_spec`` (the schema mini-language), ``_format`` (the plan format written in it),
``_build`` (data -> model) and ``_dump`` (model -> data -> text).

Regenerate the schema with ``python -m okrcore.planfile --schema > docs/plan.schema.json``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from okrcore.errors import PlanError, Problem, ValidationError
from okrcore.model import Plan

from ._build import build
from ._format import FORMATS, PLAN_SPEC, VERSION, plan_schema
from ._limits import MAX_BYTES
from ._read import READERS, parse
from ._spec import Ctx, Relative, parse_relative

if TYPE_CHECKING:
    from ._dump import dump_plan, dumps_plan, plan_data

__all__ = [
    "FORMATS",
    "PLAN_SPEC",
    "VERSION",
    "Relative",
    "dump_plan",
    "dumps_plan",
    "load_plan",
    "loads_plan",
    "parse_relative",
    "plan_data",
    "plan_schema",
]

_DUMPING = ("dump_plan", "dumps_plan", "plan_data")


def __getattr__(name: str) -> Any:
    # Dumping (tomli_w, the YAML dumper) is imported on first use: loading a plan does not need it.
    if name in _DUMPING:
        from . import _dump

        return getattr(_dump, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def loads_plan(
    text: str, format: str = "yaml", *, name: str | None = None, base_dir: str | None = None
) -> Plan:
    """Load a plan from text in ``format`` (``yaml``, ``toml`` or ``json``).

    ``name`` is used in messages and as the plan's ``source_path``; ``base_dir`` is the folder that
    relative paths in connection settings and queries are read from (default: the folder of
    ``name`` when given). Raises :class:`~okrcore.PlanError` listing every problem, each with its
    line and column; plans must stay within the limits in docs/limits.md.
    """
    format = "yaml" if format == "yml" else format
    if format not in READERS:
        raise ValidationError(f"unknown plan format {format!r}; expected yaml, toml or json")
    if base_dir is None and name is not None:
        base_dir = os.path.dirname(os.path.abspath(name))
    ctx = Ctx({}, file=name)
    data = parse(text, format, ctx)
    return build(data, ctx, name, base_dir)


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
        with open(name, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        message = f"cannot read the plan file ({exc.strerror})"
        raise PlanError([Problem("", message)], name) from None
    if len(raw) > MAX_BYTES:
        message = f"the plan file is over {MAX_BYTES:,} bytes, the most a plan may have"
        raise PlanError([Problem("", message, 1, 1)], name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = (
            f"the plan file is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start:,} ({exc.reason}); save it as UTF-8"
        )
        raise PlanError([Problem("", message, line, column)], name) from None
    # universal newlines, as reading in text mode did
    return loads_plan(text.replace("\r\n", "\n").replace("\r", "\n"), format, name=name)
