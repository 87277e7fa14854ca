"""The YAML examples of this plugin's docs page and README pass the plugin's own lint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from okrcore_social import FacebookSource, InstagramSource, YouTubeSource

from okrcore.model import Connection, KeyResult
from okrcore.sources import Source

HERE = Path(__file__).resolve().parent
PAGES = [HERE.parents[2] / "docs" / "plugins" / "social.md", HERE.parent / "README.md"]
SOURCES: dict[str, type[Source]] = {
    cls.name: cls for cls in (FacebookSource, InstagramSource, YouTubeSource)
}


def blocks(page: Path) -> list[Any]:
    text = page.read_text(encoding="utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def walk(node: Any) -> list[dict[str, Any]]:
    """Every key-result mapping (one with a source naming a connection) inside ``node``."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("source"), dict) and "connection" in node["source"]:
            found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(walk(value))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_examples_pass_lint(page):
    if not page.exists():
        pytest.skip(f"{page} is not part of this checkout")
    docs = [b for b in blocks(page) if isinstance(b, dict)]
    connections: dict[str, dict[str, Any]] = {}
    for block in docs:
        conns = block.get("connections", block)
        for name, conn in conns.items():
            if isinstance(conn, dict) and conn.get("plugin") in SOURCES:
                connections[name] = conn
    assert connections, "the page shows no connection"
    for name, conn in connections.items():
        settings = {k: v for k, v in conn.items() if k not in ("plugin", "endpoint")}
        cls = SOURCES[conn["plugin"]]
        problems = cls.validate_connection(Connection(name, conn["plugin"], settings))
        assert problems == [], (name, problems)
    checked = 0
    for block in docs:
        for kr in walk(block):
            source = kr["source"]
            cls = SOURCES[connections[source["connection"]]["plugin"]]
            query = {k: v for k, v in source.items() if k != "connection"}
            kr_id = kr.get("id", "a bare source example")
            key_result = KeyResult(kr_id, "t", measure=kr.get("measure", "gauge"), baseline=0,
                                   target=1)
            assert cls.validate_query(query, key_result) == [], kr_id
            checked += 1
    assert checked, "the page shows no key result"
