"""okrcore: OKRs and SMART goals as a library.

Build or load a plan, score it, roll it up, check its quality, refresh key-result actuals from live
systems through plugins, and render reports::

    import okrcore
    plan = okrcore.load_plan("okrs.yaml")
    store = okrcore.open_store("sqlite:///okr.db")
    card = okrcore.score(plan, store.checkins(), at=datetime.date.today())

Names are imported lazily, so ``import okrcore`` stays cheap and loads no plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # model
    "Cadence": "model",
    "CheckIn": "model",
    "Connection": "model",
    "Cycle": "model",
    "Funnel": "model",
    "FunnelSplit": "model",
    "FunnelStep": "model",
    "Goal": "model",
    "KeyResult": "model",
    "Kind": "model",
    "Level": "model",
    "Measure": "model",
    "Objective": "model",
    "Plan": "model",
    "RunOutcome": "model",
    "RunRecord": "model",
    "Strategy": "model",
    "StrategyChange": "model",
    "TargetChange": "model",
    # errors
    "OkrError": "errors",
    "PlanError": "errors",
    "Problem": "errors",
    "AlignmentLoopError": "errors",
    "StoreError": "errors",
    "PluginError": "errors",
    "SourceError": "errors",
    # plan files
    "load_plan": "planfile",
    "loads_plan": "planfile",
    "dump_plan": "planfile",
    "dumps_plan": "planfile",
    # math
    "score": "scoring",
    "Scorecard": "scoring",
    "check": "checks",
    "Finding": "checks",
    "derive_funnel": "funnel",
    "apply_funnel": "funnel",
    # I/O at the edges
    "open_store": "store",
    "Store": "store",
    "refresh": "refresh",
    "report": "reports",
    # plugins
    "hookimpl": "hookspecs",
    "PluginManager": "plugins",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'okrcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .checks import Finding, check
    from .errors import (
        AlignmentLoopError,
        OkrError,
        PlanError,
        PluginError,
        Problem,
        SourceError,
        StoreError,
    )
    from .funnel import apply_funnel, derive_funnel
    from .hookspecs import hookimpl
    from .model import (
        Cadence,
        CheckIn,
        Connection,
        Cycle,
        Funnel,
        FunnelSplit,
        FunnelStep,
        Goal,
        KeyResult,
        Kind,
        Level,
        Measure,
        Objective,
        Plan,
        RunOutcome,
        RunRecord,
        Strategy,
        StrategyChange,
        TargetChange,
    )
    from .planfile import dump_plan, dumps_plan, load_plan, loads_plan
    from .plugins import PluginManager
    from .refresh import refresh
    from .reports import report
    from .scoring import Scorecard, score
    from .store import Store, open_store
