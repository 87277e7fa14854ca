"""Confidence (docs/scoring.md "Confidence"): the latest confidence of each key result, rolled up
to objectives and goals like the score, on the plan's stated scale, in every report format and in
`okr checkin`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from okrcore.cli import main
from okrcore.errors import PlanError
from okrcore.model import CheckIn
from okrcore.planfile import loads_plan
from okrcore.plugins import PluginManager
from okrcore.reports import render, report
from okrcore.scoring import LiveScore, score
from okrcore.store import MemoryStore, SQLiteStore

AT = dt.date(2026, 2, 14)
T0 = dt.datetime(2026, 2, 1, 9, tzinfo=dt.timezone.utc)

PLAN = """\
okrcore: 1
cycles: [{id: q1, start: 2026-01-01, end: 2026-03-31}]
goals: [{id: g, title: Growth}]
policy: {confidence_scale: SCALE}
objectives:
  - id: web
    title: Website
    cycle: q1
    goal: g
    owner: ann
    key_results:
      - {id: visits, title: Visits up, baseline: 0, target: 100, weight: 3}
      - {id: signups, title: Signups up, baseline: 0, target: 100}
      - {id: bounce, title: Bounce down, kind: decrease, baseline: 50, target: 40}
"""


def plan(scale: int = 10) -> object:
    return loads_plan(PLAN.replace("SCALE", str(scale)), "yaml")


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    return PluginManager(load_entry_points=False)


def checkins() -> list[CheckIn]:
    return [
        CheckIn("visits", 40, dt.date(2026, 2, 1), confidence=0.9, recorded_at=T0),
        # a later day without a confidence keeps the latest one stated
        CheckIn("visits", 50, dt.date(2026, 2, 8), recorded_at=T0),
        CheckIn("signups", 10, dt.date(2026, 2, 1), confidence=0.8, recorded_at=T0),
        # the same day recorded later corrects the confidence too
        CheckIn(
            "signups",
            10,
            dt.date(2026, 2, 1),
            confidence=0.4,
            recorded_at=T0 + dt.timedelta(hours=1),
        ),
        # after the scoring date: not in force yet
        CheckIn("signups", 12, dt.date(2026, 2, 20), confidence=1.0, recorded_at=T0),
        CheckIn("bounce", 45, dt.date(2026, 2, 1), recorded_at=T0),
    ]


def test_latest_confidence_rolls_up_by_weight(manager: PluginManager) -> None:
    card = score(plan(), checkins(), at=AT, manager=manager)  # type: ignore[arg-type]
    krs = card.key_results
    assert krs["visits"].confidence == 0.9
    assert krs["signups"].confidence == 0.4
    assert krs["bounce"].confidence is None  # left out of the mean, like a missing score
    assert card.objectives["web"].confidence == pytest.approx((0.9 * 3 + 0.4) / 4)
    assert card.goals["g"].confidence == pytest.approx((0.9 * 3 + 0.4) / 4)
    assert card.by_owner["ann"].confidence == pytest.approx((0.9 * 3 + 0.4) / 4)
    data = card.to_dict()
    assert data["policy"]["confidence_scale"] == 10
    assert data["objectives"][0]["confidence"] == pytest.approx(0.775)


def test_no_confidence_anywhere_means_none(manager: PluginManager) -> None:
    values = [CheckIn("visits", 40, dt.date(2026, 2, 1))]
    card = score(plan(), values, at=AT, manager=manager)  # type: ignore[arg-type]
    assert card.objectives["web"].confidence is None
    assert card.key_results["visits"].confidence is None


def test_a_live_score_takes_a_first_confidence_later(manager: PluginManager) -> None:
    live = LiveScore(plan(), [], at=AT, manager=manager)  # type: ignore[arg-type]
    assert live.scorecard().objectives["web"].confidence is None
    live.add(CheckIn("signups", 10, dt.date(2026, 2, 1), confidence=0.5))
    assert live.scorecard().objectives["web"].confidence == 0.5
    live.add(CheckIn("visits", 10, dt.date(2026, 2, 1), confidence=0.1))
    assert live.scorecard().objectives["web"].confidence == pytest.approx((0.3 + 0.5) / 4)


def test_only_scale_1_or_10(manager: PluginManager) -> None:
    with pytest.raises(PlanError, match="policy.confidence_scale"):
        score(plan(5), [], at=AT, manager=manager)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scale", "objective", "kr"), [(10, "7.8/10", "9/10"), (1, "0.78", "0.90")]
)
def test_reports_show_confidence_next_to_the_score(
    manager: PluginManager, scale: int, objective: str, kr: str
) -> None:
    store = MemoryStore()
    store.add_checkins(checkins())
    rep = report(plan(scale), store, "monthly", at=AT, manager=manager)  # type: ignore[arg-type]
    text = render(rep, "text", width=80)
    assert f"Website — score 0.42, confidence {objective}, " in text
    assert all(len(line) <= 80 for line in text.splitlines())
    md = render(rep, "md")
    assert f"score 0.42, confidence {objective} (expected" in md
    assert f"Visits up: score 0.50, confidence {kr}," in md
    html = render(rep, "html")
    assert f"confidence {objective}" in html
    data = json.loads(render(rep, "json"))
    assert data["objectives"][0]["confidence"] == pytest.approx(0.775)
    assert data["key_results"][0]["confidence"] == 0.9
    daily = render(report(plan(scale), store, "daily", at=AT, manager=manager), "md")  # type: ignore[arg-type]
    assert f"Website · ann · confidence {objective}" in daily


def test_checkin_takes_confidence_on_the_plan_s_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("SCALE", "10"), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'okr.db'}"
    monkeypatch.setenv("OKRCORE_STORE", url)
    monkeypatch.setenv("OKRCORE_LOAD_PLUGINS", "")

    def okr(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.output

    code, out = okr("checkin", str(path), "visits", "40", "--at", "2026-02-01", "--confidence", "7")
    assert code == 0, out
    with SQLiteStore(tmp_path / "okr.db") as store:
        assert store.checkins(["visits"])[0].confidence == pytest.approx(0.7)
    code, out = okr("checkin", str(path), "visits", "4", "--at", "2026-02-02", "--confidence", "11")
    assert code == 2
    assert "from 0 to 10, got 11" in out
    code, out = okr("history", str(path), "visits")
    assert code == 0
    assert "7/10" in out
