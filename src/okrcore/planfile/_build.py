"""Building the model: validated plan data -> :class:`~okrcore.model.Plan`, with the checks of
references (unique ids, known ids, alignment loops, funnel stages) the field specs cannot make."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from okrcore._graph import find_loops
from okrcore.errors import PlanError
from okrcore.model import (
    Alignment,
    Connection,
    Cycle,
    Funnel,
    FunnelSplit,
    FunnelStep,
    Goal,
    Initiative,
    KeyResult,
    Kpi,
    Objective,
    Owner,
    Plan,
    Strategy,
)

from ._format import PLAN_SPEC
from ._limits import MAX_NUMBER
from ._spec import BAD, Ctx, Relative, join, suggest

_KR_FIELDS = (
    "target", "floor", "stretch", "baseline", "tolerance", "weight", "rollup", "sum_of"
)


def _model_problem(
    ctx: Ctx, path: str, exc: ValueError, fields: Iterable[str] = (), default: str = ""
) -> None:
    """Turn a model validator's ValueError into problems placed at the field it names."""
    text = str(exc)
    text = re.sub(r"^(key result|funnel step|split of) '[^']*'?:?\s*", "", text)
    for part in text.split("; "):
        named = [(part.find(f), f) for f in fields if re.search(rf"\b{f}\b", part)]
        field = min(named)[1] if named else default
        ctx.add(join(path, field) if field else path, part)


def _build_key_result(raw: dict[str, Any], path: str, ctx: Ctx) -> KeyResult | None:
    fields = dict(raw)
    baseline = fields.get("baseline")
    for name in ("target", "floor", "stretch"):
        if isinstance(fields.get(name), Relative):
            fields[name] = fields[name].resolve(baseline)
            if not abs(fields[name]) <= MAX_NUMBER:  # also catches nan
                message = (
                    f"{fields[name]:g} is too large; plan numbers lie within +-{MAX_NUMBER:.0e}"
                )
                ctx.add(join(path, name), message)
                return None
    if "depends_on" in fields:
        fields["depends_on"] = tuple(fields["depends_on"])
    try:
        return KeyResult(**fields)
    except ValueError as exc:
        _model_problem(ctx, path, exc, _KR_FIELDS)
        return None


def _clean_items(items: Any, ctx: Ctx) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) of the list items that passed validation."""
    if not isinstance(items, list):
        return []
    return [(i, x) for i, x in enumerate(items) if isinstance(x, dict) and not ctx.bad(x)]


def _ids_of(items: Any) -> list[tuple[int, str]]:
    if not isinstance(items, list):
        return []
    return [
        (i, x["id"])
        for i, x in enumerate(items)
        if isinstance(x, dict) and "id" in x and isinstance(x["id"], str)
    ]


def _list(value: Any) -> list[Any]:
    """A validated list, or nothing for a missing or rejected one."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    """A validated mapping, or nothing for a missing or rejected one."""
    return value if isinstance(value, dict) else {}


def _duplicates(ctx: Ctx, seen: dict[str, str], path: str, ident: str, what: str) -> None:
    if ident in seen:
        ctx.add(path, f"duplicate {what} id {ident!r} (also at {seen[ident]})")
    else:
        seen[ident] = path


def _check_connection(source: Any, at: str, connections: Mapping[str, Any], ctx: Ctx) -> None:
    """A source (of a key result or a KPI, at ``at``) names a connection the plan defines."""
    if isinstance(source, dict) and isinstance(source.get("connection"), str):
        name = source["connection"]
        if name not in connections:
            names = ", ".join(connections) or "none defined"
            hint = suggest(name, connections) or f" (connections: {names})"
            ctx.add(f"{at}.connection", f"unknown connection {name!r}{hint}")


def _check_references(doc: dict[str, Any], ctx: Ctx) -> None:
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
    initiatives: dict[str, str] = {}
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
        for j, st in enumerate(_list(obj.get("strategies"))):
            if isinstance(st, dict) and isinstance(st.get("id"), str):
                where = f"objectives[{i}].strategies[{j}].id"
                _duplicates(ctx, strategies, where, st["id"], "strategy")
            for k, ident in _ids_of(st.get("initiatives") if isinstance(st, dict) else None):
                where = f"objectives[{i}].strategies[{j}].initiatives[{k}].id"
                _duplicates(ctx, initiatives, where, ident, "initiative")
    owners: dict[str, str] = {}
    for i, ident in _ids_of(doc.get("owners")):
        _duplicates(ctx, owners, f"owners[{i}].id", ident, "owner")
    channels = _dict(doc.get("notify"))
    for i, owner in enumerate(_list(doc.get("owners"))):
        ref = owner.get("notify") if isinstance(owner, dict) else None
        if isinstance(ref, str) and ref not in channels:
            hint = suggest(ref, channels) or f" (channels: {', '.join(channels) or 'none defined'})"
            ctx.add(f"owners[{i}].notify", f"unknown notify channel {ref!r}{hint}")
    linked: set[str] = set()  # key results some initiative names
    connections = _dict(doc.get("connections"))
    parents: dict[str, list[str]] = {}
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
                ctx.add(f"{at}.{key}", f"unknown {what} {ref!r}{suggest(ref, known)}")
        named = [obj.get("parent")] + [a.get("id") for a in _list(obj.get("parents")) if a]
        ups = [u for u in named if isinstance(u, str)]
        if ups and isinstance(obj.get("id"), str):
            parents[obj["id"]] = ups
        seen_up: set[str] = set()
        for k, a in enumerate(_list(obj.get("parents"))):
            ref = a.get("id") if isinstance(a, dict) else None
            if not isinstance(ref, str):
                continue
            if ref not in objectives:
                message = f"unknown objective {ref!r}{suggest(ref, objectives)}"
                ctx.add(f"{at}.parents[{k}].id", message)
            elif ref in seen_up:
                ctx.add(f"{at}.parents[{k}].id", f"aligned to {ref!r} twice")
            seen_up.add(ref)
        for j, kr in enumerate(_list(obj.get("key_results"))):
            if not isinstance(kr, dict):
                continue
            kat = f"{at}.key_results[{j}]"
            for k, dep in enumerate(_list(kr.get("depends_on"))):
                if isinstance(dep, str) and dep not in krs:
                    message = f"unknown key result {dep!r}{suggest(dep, krs)}"
                    ctx.add(f"{kat}.depends_on[{k}]", message)
            _check_connection(kr.get("source"), f"{kat}.source", connections, ctx)
        for j, st in enumerate(_list(obj.get("strategies"))):
            if not isinstance(st, dict):
                continue
            for k, ini in enumerate(_list(st.get("initiatives"))):
                refs = _list(ini.get("key_results")) if isinstance(ini, dict) else []
                for n, ref in enumerate(refs):
                    if isinstance(ref, str) and ref not in krs:
                        where = f"{at}.strategies[{j}].initiatives[{k}].key_results[{n}]"
                        ctx.add(where, f"unknown key result {ref!r}{suggest(ref, krs)}")
                    elif isinstance(ref, str):
                        linked.add(ref)
            for k, dep in enumerate(_list(st.get("depends_on"))):
                if isinstance(dep, str) and dep not in strategies and dep not in krs:
                    ctx.add(
                        f"{at}.strategies[{j}].depends_on[{k}]",
                        f"unknown strategy or key result {dep!r}",
                    )
    for i, obj in enumerate(objs):
        for j, kr in enumerate(_list(obj.get("key_results")) if isinstance(obj, dict) else []):
            from_initiatives = isinstance(kr, dict) and kr.get("progress_from") == "initiatives"
            if from_initiatives and kr.get("id") not in linked:
                ctx.add(
                    f"objectives[{i}].key_results[{j}].progress_from",
                    f"key result {kr.get('id')!r} takes its progress from initiatives, but "
                    "no initiative names it in its key_results",
                )
    for i, kpi in enumerate(_list(doc.get("kpis"))):
        if isinstance(kpi, dict):
            _check_connection(kpi.get("source"), f"kpis[{i}].source", connections, ctx)
    _check_loops(parents, objectives, ctx)
    funnels = _list(doc.get("funnels"))
    seen: dict[str, str] = {}
    for i, ident in _ids_of(funnels):
        _duplicates(ctx, seen, f"funnels[{i}].id", ident, "funnel")
    for i, funnel in enumerate(funnels):
        if isinstance(funnel, dict):
            _check_funnel(funnel, f"funnels[{i}]", krs, ctx)


def _check_loops(parents: dict[str, list[str]], where: dict[str, str], ctx: Ctx) -> None:
    for loop in find_loops(parents):
        chain = " -> ".join([*loop, loop[0]])
        at = where[loop[0]].removesuffix(".id")
        ups = parents[loop[0]]
        at += f".parents[{ups.index(loop[1 % len(loop)])}].id" if len(ups) > 1 else ".parent"
        ctx.add(at, f"alignment loop: {chain}")


def _check_funnel(funnel: dict[str, Any], at: str, krs: Mapping[str, str], ctx: Ctx) -> None:
    stages = [funnel["start"]] if isinstance(funnel.get("start"), str) else []

    def kr_ref(value: Any, path: str) -> None:
        if isinstance(value, str) and value not in krs:
            ctx.add(path, f"unknown key result {value!r}{suggest(value, krs)}")

    kr_ref(funnel.get("key_result"), f"{at}.key_result")
    for j, step in enumerate(_list(funnel.get("steps"))):
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
    for j, split in enumerate(_list(funnel.get("splits"))):
        if not isinstance(split, dict):
            continue
        of = split.get("of")
        if isinstance(of, str) and of not in stages:
            ctx.add(f"{at}.splits[{j}].of", f"unknown stage {of!r}{suggest(of, stages)}")
        shares = split.get("shares")
        channels = shares if isinstance(shares, dict) else {}
        if channels and not ctx.bad(channels):
            total = sum(channels.values())
            if not math.isclose(total, 1.0, abs_tol=1e-9):
                ctx.add(f"{at}.splits[{j}].shares", f"shares sum to {total:g}, expected 1")
        bound = split.get("key_results")
        for channel, kr in bound.items() if isinstance(bound, dict) else ():
            where = f"{at}.splits[{j}].key_results.{channel}"
            if channel not in channels:
                ctx.add(where, f"channel {channel!r} has no share")
            kr_ref(kr, where)


def _build_funnel(raw: dict[str, Any], path: str, ctx: Ctx) -> Funnel | None:
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


def _check_funnel_values(funnels: list[Funnel], ctx: Ctx) -> None:
    """Every stage a funnel derives stays within the plan's number range (docs/limits.md), so
    ``okr decompose`` can compute what ``okr lint`` accepts."""
    if not funnels:
        return
    from okrcore.funnel import derive_funnel  # imported only for a plan with funnels

    for i, funnel in enumerate(funnels):
        at = f"funnels[{i}]"
        try:
            result = derive_funnel(funnel)
        except PlanError as exc:
            for p in exc.problems:
                ctx.add(join(at, p.path), p.message)
            continue
        ops = {step.name: f"steps[{j}].{step.op}" for j, step in enumerate(funnel.steps)}
        for name, value in result.stages.items():
            if abs(value) > MAX_NUMBER:
                message = (
                    f"stage {name!r} would be {value:g}; funnel stages lie within "
                    f"+-{MAX_NUMBER:.0e}"
                )
                ctx.add(join(at, ops.get(name, "value")), message)


def _build_objective(raw: dict[str, Any], path: str, ctx: Ctx) -> Objective | None:
    krs: list[KeyResult] = []
    ok = True
    for j, kr_raw in enumerate(_list(raw.get("key_results"))):
        if not isinstance(kr_raw, dict) or ctx.bad(kr_raw):
            ok = False
            continue
        kr = _build_key_result(kr_raw, f"{path}.key_results[{j}]", ctx)
        ok = ok and kr is not None
        if kr is not None:
            krs.append(kr)
    strategies: list[Strategy] = []
    for j, st in _clean_items(raw.get("strategies", []), ctx):
        fields = dict(st)
        for key in ("resources", "depends_on"):
            if key in fields:
                fields[key] = tuple(fields[key])
        fields["initiatives"] = [Initiative(**ini) for ini in fields.get("initiatives", [])]
        try:
            strategies.append(Strategy(**fields))
        except ValueError as exc:
            _model_problem(ctx, f"{path}.strategies[{j}]", exc)
    if not ok or ctx.bad(raw):
        return None
    fields = {k: v for k, v in raw.items() if k not in ("key_results", "strategies")}
    if "parents" in fields:
        fields["parents"] = [Alignment(a["id"], a.get("weight", 1.0)) for a in fields["parents"]]
    try:
        return Objective(**fields, key_results=krs, strategies=strategies)
    except ValueError as exc:
        _model_problem(ctx, path, exc)
        return None


def build(data: Any, ctx: Ctx, source_path: str | None, base_dir: str | None) -> Plan:
    """Validate loaded data against the format and build the plan, or raise every problem."""
    if data is None:
        ctx.add("", "the plan is empty; it needs at least 'okrcore: 1'")
        raise PlanError(ctx.problems, source_path)
    doc = PLAN_SPEC.check(data, "", ctx)
    if doc is BAD:
        raise PlanError(ctx.problems, source_path)
    cycles = []
    for i, c in _clean_items(doc.get("cycles"), ctx):
        try:
            cycles.append(Cycle(**c))
        except ValueError as exc:
            _model_problem(ctx, f"cycles[{i}]", exc, default="end")
    goals = [Goal(**g) for _i, g in _clean_items(doc.get("goals"), ctx)]
    owners = [Owner(**o) for _i, o in _clean_items(doc.get("owners"), ctx)]
    objectives = []
    for i, raw in enumerate(_list(doc.get("objectives"))):
        if isinstance(raw, dict):
            obj = _build_objective(raw, f"objectives[{i}]", ctx)
            if obj is not None:
                objectives.append(obj)
    kpis = []
    for i, raw in _clean_items(doc.get("kpis"), ctx):
        try:
            kpis.append(Kpi(**raw))
        except ValueError as exc:
            _model_problem(ctx, f"kpis[{i}]", exc, ("direction", "targets"))
    connections = {}
    for name, conn in _dict(doc.get("connections")).items():
        if isinstance(conn, dict) and not ctx.bad(conn):
            settings = {k: v for k, v in conn.items() if k not in ("plugin", "endpoint")}
            connections[name] = Connection(
                name, conn["plugin"], settings, conn.get("endpoint"), base_dir=base_dir
            )
    funnels = []
    for i, raw in _clean_items(doc.get("funnels"), ctx):
        funnel = _build_funnel(raw, f"funnels[{i}]", ctx)
        if funnel is not None:
            funnels.append(funnel)
    _check_references(doc, ctx)
    if not ctx.problems:
        _check_funnel_values(funnels, ctx)
    if ctx.problems:
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
            reminders=doc.get("reminders", {}),
            plugins=tuple(doc.get("plugins", ())),
            title=doc.get("title"),
            owners=owners,
            kpis=kpis,
            source_path=source_path,
            positions=ctx.positions,
        )
    except PlanError as exc:  # a model rule the loader does not check itself
        for p in exc.problems:
            ctx.add(p.path, p.message)
        raise PlanError(ctx.problems, source_path) from None
