"""Every YAML example in docs/ is valid: it parses, the plan fragments of a page load with the
plan loader (merged into one plan around a minimal cycle and objective, as a reader would paste
them), and every notification channel passes its notifier's own lint (docs/reports.md).

Source plugins' connections and queries are checked against the plugins by
tests/test_plugin_docs.py; a GitHub Actions workflow (a block with ``jobs``) or a Kubernetes
manifest (``apiVersion``) is only parsed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from okrcore.notifiers import Channel
from okrcore.notify import OWN_KEYS
from okrcore.planfile import loads_plan
from okrcore.plugins import PluginManager

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "plugins/okrcore-notify/README.md"]
BLOCK = re.compile(r"```ya?ml\n(.*?)```", re.S)
PLAN_KEYS = set(json.loads((ROOT / "docs/plan.schema.json").read_text("utf-8"))["properties"])
CYCLE = {"start": "2026-10-01", "end": "2026-12-31"}


def blocks(page: Path) -> list[Any]:
    """The page's YAML blocks that parse (test_every_yaml_block_parses reports the others)."""
    out = []
    for text in BLOCK.findall(page.read_text(encoding="utf-8")):
        try:
            out.append(yaml.safe_load(text))
        except yaml.YAMLError:
            continue
    return out


def is_connection(value: Any) -> bool:
    return isinstance(value, dict) and "plugin" in value


def plan_of(page: Path) -> dict[str, Any] | None:
    """The page's plan fragments merged into one plan, or ``None`` when it shows none."""
    plan: dict[str, Any] = {}
    krs: list[Any] = []
    for block in blocks(page):
        if isinstance(block, list):  # a list of key results
            krs += block
        elif not isinstance(block, dict) or "jobs" in block or "apiVersion" in block:
            continue
        elif set(block) == {"source"}:  # one key result's source
            krs.append(
                {
                    "id": f"kr{len(krs)}",
                    "title": "Leads reach 100",
                    "kind": "increase",
                    "baseline": 0,
                    "target": 100,
                    **block,
                }
            )
        elif all(is_connection(v) for v in block.values()) and not set(block) & PLAN_KEYS:
            plan.setdefault("connections", {}).update(block)  # bare connection entries
        else:
            unknown = set(block) - PLAN_KEYS - {"source"}
            assert not unknown, f"{page.name}: not plan keys: {sorted(unknown)}"
            for key, value in block.items():
                if key == "source":
                    continue
                if isinstance(value, dict) and isinstance(plan.get(key), dict):
                    plan[key].update(value)
                elif isinstance(value, list) and isinstance(plan.get(key), list):
                    plan[key] += value
                else:
                    plan[key] = value
    if not plan and not krs:
        return None
    # a funnel fragment binds key results of the reader's plan: stand-ins for those not shown
    shown = {kr.get("id") for o in plan.get("objectives", []) for kr in o.get("key_results", [])}
    shown |= {kr.get("id") for kr in krs}
    for kr_id in sorted(bound(plan.get("funnels", [])) - shown):
        krs.append(
            {"id": kr_id, "title": "Stand-in", "kind": "increase", "baseline": 0, "target": 100}
        )
    plan.setdefault("okrcore", 1)
    objectives = plan.setdefault("objectives", [])
    if krs or not objectives:
        objectives.append(
            {
                "id": "docs-example",
                "title": "Grow",
                "key_results": krs
                or [
                    {
                        "id": "leads",
                        "title": "Leads reach 100",
                        "kind": "increase",
                        "baseline": 0,
                        "target": 100,
                    }
                ],
            }
        )
    cycles = plan.setdefault("cycles", [])
    known = {c.get("id") for c in cycles}
    wanted = {o.get("cycle") for o in objectives if o.get("cycle")}
    cycles += [{"id": cid, **CYCLE} for cid in sorted(wanted - known)]
    if not cycles:
        cycles.append({"id": "q4", **CYCLE})
    for o in objectives:
        o.setdefault("cycle", cycles[0]["id"])
    return plan


def bound(node: Any) -> set[str]:
    """Key-result ids a funnel fragment binds (``key_result`` and ``key_results`` values)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "key_result" and isinstance(value, str):
                out.add(value)
            elif key == "key_results" and isinstance(value, dict):
                out |= {v for v in value.values() if isinstance(v, str)}
            else:
                out |= bound(value)
    elif isinstance(node, list):
        for value in node:
            out |= bound(value)
    return out


PLAN_PAGES = [p for p in PAGES if plan_of(p) is not None]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_block_parses(page: Path) -> None:
    for text in BLOCK.findall(page.read_text(encoding="utf-8")):
        yaml.safe_load(text)


@pytest.mark.parametrize("page", PLAN_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plan_fragments_load(page: Path) -> None:
    plan = plan_of(page)
    loads_plan(yaml.safe_dump(plan, sort_keys=False), name=str(page.with_suffix(".yaml")))


def channels() -> list[tuple[Path, str, dict[str, Any]]]:
    found = []
    for page in PAGES:
        for block in blocks(page):
            if isinstance(block, dict) and isinstance(block.get("notify"), dict):
                found += [(page, name, entry) for name, entry in block["notify"].items()]
    return found


@pytest.mark.parametrize(
    ("page", "name", "entry"), channels(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_channel_passes_its_notifiers_lint(
    page: Path, name: str, entry: dict[str, Any]
) -> None:
    notifiers = PluginManager().notifiers
    if entry["plugin"] not in notifiers:
        pytest.skip(f"notifier {entry['plugin']!r} not installed (okrcore-notify)")
    settings = {k: v for k, v in entry.items() if k not in OWN_KEYS}
    problems = notifiers.get(entry["plugin"]).validate_channel(
        Channel(name, entry["plugin"], settings)
    )
    assert problems == [], f"{page.relative_to(ROOT)}: notify.{name}: {problems}"


def test_the_docs_show_channels() -> None:
    assert {entry["plugin"] for _, _, entry in channels()} >= {"slack", "email", "webhook"}
