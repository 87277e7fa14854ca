"""The YAML examples of every metric-source plugin's docs page and README pass that plugin's lint.

The sources come from the installed plugins (``nox -s tests`` installs them all); a page whose
plugin is not installed is skipped, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from okrcore.model import Connection, KeyResult
from okrcore.plugins import PluginManager

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PLUGINS = ("ga4", "hubspot", "salesforce", "social", "asana", "notion", "jira", "trello",
                  "sheets")
PAGES = [ROOT / "docs" / "plugins" / f"{name}.md" for name in SOURCE_PLUGINS] + [
    ROOT / "plugins" / f"okrcore-{name}" / "README.md" for name in SOURCE_PLUGINS
]
SOURCES = PluginManager().sources


def yaml_blocks(page: Path) -> list[dict[str, Any]]:
    text = page.read_text(encoding="utf-8")
    loaded = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    return [b for b in loaded if isinstance(b, dict)]


def key_results(node: Any) -> Iterator[dict[str, Any]]:
    """Every key-result mapping (one whose ``source`` names a connection) inside ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get("source"), dict) and "connection" in node["source"]:
            yield node
        for value in node.values():
            yield from key_results(value)
    elif isinstance(node, list):
        for value in node:
            yield from key_results(value)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_pass_the_plugins_lint(page: Path) -> None:
    blocks = yaml_blocks(page)
    connections = {
        name: conn
        for block in blocks
        for name, conn in block.get("connections", block).items()
        if isinstance(conn, dict) and "plugin" in conn
    }
    assert connections, f"{page.name} shows no connection"
    missing = {c["plugin"] for c in connections.values()} - set(SOURCES)
    if missing:
        pytest.skip(f"source plugins not installed: {', '.join(sorted(missing))}")
    for name, conn in connections.items():
        settings = {k: v for k, v in conn.items() if k not in ("plugin", "endpoint")}
        connection = Connection(name, conn["plugin"], settings, endpoint=conn.get("endpoint"))
        assert SOURCES.get(conn["plugin"]).validate_connection(connection) == [], name
    checked = 0
    for block in blocks:
        for kr in key_results(block):
            query = {k: v for k, v in kr["source"].items() if k != "connection"}
            source = SOURCES.get(connections[kr["source"]["connection"]]["plugin"])
            kr_id = kr.get("id", "a bare source example")
            key_result = KeyResult(kr_id, "t", measure=kr.get("measure", "gauge"), baseline=0,
                                   target=1)
            assert source.validate_query(query, key_result) == [], (page.name, kr_id)
            checked += 1
    assert checked, f"{page.name} shows no key result"
