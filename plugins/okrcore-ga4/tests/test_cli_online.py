"""``okr lint --online`` through the real command line, the installed plugin and the fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_ga4 import FakeGA4

from okrcore.cli import main

PLAN = """\
okrcore: 1
cycles:
  - {{id: 2026-Q1, start: 2026-01-01, end: 2026-03-31}}
connections:
  ga:
    plugin: ga4
    endpoint: {url}
    property: "1001"
    anonymous: true
    transport: rest
objectives:
  - id: grow
    title: Be found by the people who need us
    cycle: 2026-Q1
    owner: marketing
    key_results:
      - id: organic
        title: Organic sessions +20%
        measure: cumulative
        unit: sessions
        baseline: 48000
        target: +20%
        source:
          connection: ga
          metric: sesions
          filter: sessionDefaultChannelGroup == "Organic Search"
      - id: bounce
        title: Bounce rate -10%
        kind: decrease
        unit: "%"
        baseline: 52
        target: -10%
        source: {{connection: ga, metric: bounceRate, scale: 100, filter: 'contry == "FR"'}}
"""


def test_lint_online_reports_unknown_names_at_their_place(
    fake: FakeGA4, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OKRCORE_LOAD_PLUGINS", raising=False)
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.format(url=fake.url))
    result = CliRunner().invoke(main, ["lint", "--online", str(path)])
    lines = [line for line in result.output.splitlines() if "ONLINE-002" in line]
    assert len(lines) == 2, result.output
    assert "plan.yaml:25:" in lines[0]
    assert "key result 'organic', connection 'ga': property 1001 has no metric 'sesions' " \
           "(did you mean 'sessions'?)" in lines[0]
    assert "has no dimension 'contry' (did you mean 'country'?)" in lines[1]
    assert [c.method for c in fake.calls] == ["getMetadata"]
    assert result.exit_code == 1
