"""Dumping: a :class:`~okrcore.model.Plan` as plain data in the file format, and as YAML, JSON or
TOML text."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import tomli_w
import yaml

from okrcore.errors import ValidationError
from okrcore.model import (
    Alignment,
    Funnel,
    Initiative,
    InitiativeStatus,
    KeyResult,
    Kpi,
    Objective,
    Owner,
    Plan,
    Strategy,
)

from ._format import FORMATS, VERSION


class _Dumper(yaml.SafeDumper):
    """Safe dumping; text holding YAML line breaks (NEL, LS, PS) is written double-quoted."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if any(ch in data for ch in "\x85\u2028\u2029"):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)


_Dumper.add_representer(str, _Dumper.represent_str)


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
    _put(out, "progress_from", kr.progress_from)
    _put(out, "rollup", kr.rollup)
    _put(out, "sum_of", kr.sum_of)
    if kr.source is not None:
        out["source"] = _plain(kr.source)
    return out


def _kpi_data(kpi: Kpi) -> dict[str, Any]:
    out: dict[str, Any] = {"id": kpi.id, "title": kpi.title, "target": _num(kpi.target)}
    if kpi.direction != "above":
        out["direction"] = kpi.direction
    out["measure"] = kpi.measure.value
    out["period"] = kpi.period.value
    if kpi.unit:
        out["unit"] = kpi.unit
    _put(out, "metric", kpi.metric)
    _put(out, "owner", kpi.owner)
    if kpi.tolerance != 0.1:
        _put(out, "tolerance", kpi.tolerance)
    if kpi.targets:
        out["targets"] = {k: _num(v) for k, v in kpi.targets.items()}
    if kpi.source is not None:
        out["source"] = _plain(kpi.source)
    return out


def _initiative_data(ini: Initiative) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ini.id, "title": ini.title}
    _put(out, "owner", ini.owner)
    _put(out, "due", ini.due)
    if ini.status is not InitiativeStatus.PLANNED:
        out["status"] = ini.status.value
    _put(out, "budget", ini.budget)
    _put(out, "key_results", ini.key_results)
    _put(out, "blocked", ini.blocked)
    if ini.tracks is not None:
        out["tracks"] = dict(ini.tracks)
    return out


def _strategy_data(st: Strategy) -> dict[str, Any]:
    out: dict[str, Any] = {"id": st.id, "title": st.title}
    _put(out, "owner", st.owner)
    _put(out, "budget", st.budget)
    _put(out, "resources", st.resources)
    if st.status != "active":
        out["status"] = st.status
    _put(out, "depends_on", st.depends_on)
    _put(out, "initiatives", [_initiative_data(i) for i in st.initiatives])
    return out


def _alignment_data(alignment: Alignment) -> dict[str, Any]:
    out: dict[str, Any] = {"id": alignment.parent}
    if alignment.weight != 1.0:
        out["weight"] = _num(alignment.weight)
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
    _put(out, "parents", [_alignment_data(a) for a in obj.parents])
    _put(out, "budget", obj.budget)
    _put(out, "rollup", obj.rollup)
    _put(out, "key_results", [_kr_data(kr) for kr in obj.key_results])
    _put(out, "strategies", [_strategy_data(st) for st in obj.strategies])
    return out


def _owner_data(owner: Owner) -> dict[str, Any]:
    out: dict[str, Any] = {"id": owner.id}
    if owner.name != owner.id:
        out["name"] = owner.name
    if owner.external:
        out["external"] = True
    _put(out, "notify", owner.notify)
    _put(out, "email", owner.email)
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
    _put(out, "owners", [_owner_data(o) for o in plan.owners])
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
    _put(out, "kpis", [_kpi_data(k) for k in plan.kpis])
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
    _put(out, "reminders", _plain(plan.reminders))
    _put(out, "plugins", plan.plugins)
    _put(out, "funnels", [_funnel_data(f) for f in plan.funnels])
    return out


def _without_nulls(value: Any) -> Any:
    """TOML has no null: mapping entries that are null are left out."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_nulls(v) for v in value]
    return value


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
        try:
            return tomli_w.dumps(_without_nulls(data))
        except TypeError as exc:  # a null inside a list, or a value TOML has no type for
            raise ValidationError(f"cannot write the plan as TOML: {exc}") from None
    raise ValidationError(f"unknown plan format {format!r}; expected yaml, toml or json")


def dump_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write the plan to a file; the format follows the extension (.yaml/.yml, .toml, .json)."""
    name = os.fspath(path)
    format = FORMATS.get(os.path.splitext(name)[1].lower())
    if format is None:
        raise ValidationError(f"unknown plan file type {name!r}; use .yaml, .yml, .toml or .json")
    text = dumps_plan(plan, format)
    with open(name, "w", encoding="utf-8") as fh:
        fh.write(text)
