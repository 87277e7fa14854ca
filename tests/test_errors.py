"""One error family: every error okrcore raises on purpose is an OkrError (and its builtin)."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import okrcore
from okrcore import errors, funnel, notifiers, sources
from okrcore.default_plugins import sources as builtin_sources
from okrcore.model import Plan
from okrcore.store import open_store

SRC = Path(okrcore.__file__).parent


def test_every_error_class_is_an_okr_error() -> None:
    classes = [
        obj
        for _name, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == errors.__name__
    ]
    assert len(classes) >= 12
    assert [c.__name__ for c in classes if not issubclass(c, errors.OkrError)] == []


def test_errors_are_also_the_matching_builtin() -> None:
    assert issubclass(errors.PlanError, ValueError)
    assert issubclass(errors.ValidationError, ValueError)
    assert issubclass(errors.WrongTypeError, TypeError)
    assert issubclass(errors.FunnelError, ValueError)
    assert issubclass(errors.MissingExtra, ImportError)
    assert issubclass(errors.MissingExtra, errors.SourceError)


def test_contract_modules_re_export_the_same_classes() -> None:
    assert sources.FetchError is errors.FetchError is okrcore.FetchError
    assert sources.FailureKind is errors.FailureKind
    assert notifiers.NotifyError is errors.NotifyError is okrcore.NotifyError
    assert funnel.FunnelError is errors.FunnelError is okrcore.FunnelError
    assert builtin_sources.MissingExtra is errors.MissingExtra
    assert "FetchError" in sources.__all__


# Modules whose errors reach users of the public API; a bare builtin raised there would escape
# `except OkrError` (and the command line's error handling).
PUBLIC_MODULES = [
    "model.py",
    "errors.py",
    "scoring.py",
    "progress.py",
    "policies.py",
    "rollup.py",
    "checks.py",
    "funnel.py",
    "engine.py",
    "notifiers.py",
    "plugins.py",
    *(f"planfile/{p.name}" for p in sorted((SRC / "planfile").glob("*.py"))),
    *(f"sources/{p.name}" for p in sorted((SRC / "sources").glob("*.py"))),
]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_no_bare_builtin_error_is_raised_on_purpose(module: str) -> None:
    text = (SRC / module).read_text(encoding="utf-8")
    bare = re.findall(r"raise (?:ValueError|TypeError|RuntimeError|Exception)\(", text)
    assert bare == [], f"{module} raises a builtin instead of an okrcore.errors class"


ENTRY_POINTS = ["score", "report", "check", "rates_from_actuals", "refresh"]


def _entry_points(plan: Plan) -> dict[str, Callable[[Any], Any]]:
    store = open_store("memory://")
    funnel_id = plan.funnels[0].id
    return {
        "score": lambda at: okrcore.score(plan, [], at=at),
        "report": lambda at: okrcore.report(plan, store, "daily", at=at),
        "check": lambda at: okrcore.check(plan, [], at=at),
        "rates_from_actuals": lambda at: okrcore.rates_from_actuals(plan, funnel_id, [], at=at),
        "refresh": lambda at: okrcore.refresh(plan, store, at=at, dry_run=True),
    }


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_at_arguments_refuse_strings_naming_the_argument(example_plan: Plan, name: str) -> None:
    call = _entry_points(example_plan)[name]
    with pytest.raises(errors.WrongTypeError, match="^at must be a datetime.date, got str"):
        call("2026-11-20")


def test_at_arguments_take_a_datetime_as_its_date(example_plan: Plan) -> None:
    moment = dt.datetime(2026, 11, 20, 18, 0)
    day = dt.date(2026, 11, 20)
    assert okrcore.score(example_plan, [], at=moment) == okrcore.score(example_plan, [], at=day)
    store = open_store("memory://")
    assert okrcore.report(example_plan, store, "daily", at=moment).at == day
