"""okrcore: OKRs and SMART goals as a library.

Build or load a plan, score it, roll it up, check its quality, refresh key-result actuals from live
systems through plugins, and render reports::

    import okrcore
    plan = okrcore.load_plan("okrs.yaml")
    store = okrcore.open_store("sqlite:///okr.db")
    card = okrcore.score(plan, store, at=datetime.date.today())

Names are imported lazily, so ``import okrcore`` stays cheap and loads no plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from ._log import quiet

# A library logs only where the application asks it to: the "okrcore" logger gets a NullHandler
# now if the application has imported logging, else when it does (okrcore._log).
quiet()

# public name -> module that defines it
_EXPORTS = {
    # model
    "Alignment": "model",
    "Cadence": "model",
    "CheckIn": "model",
    "Connection": "model",
    "Cycle": "model",
    "Funnel": "model",
    "FunnelSplit": "model",
    "FunnelStep": "model",
    "Goal": "model",
    "Initiative": "model",
    "InitiativeChange": "model",
    "InitiativeStatus": "model",
    "KeyResult": "model",
    "Kind": "model",
    "Kpi": "model",
    "KpiPeriod": "model",
    "Level": "model",
    "Measure": "model",
    "Objective": "model",
    "Owner": "model",
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
    "StoreNotFoundError": "errors",
    "PluginError": "errors",
    "SourceError": "errors",
    "ValidationError": "errors",
    "WrongTypeError": "errors",
    "FetchError": "errors",
    "FunnelError": "errors",
    "MissingExtra": "errors",
    "NotifyError": "errors",
    # plan files
    "load_plan": "planfile",
    "loads_plan": "planfile",
    "dump_plan": "planfile",
    "dumps_plan": "planfile",
    # math
    "score": "scoring",
    "plan_in_force": "changes",
    "move_target": "changes",
    "Scorecard": "scorecard",
    "check": "checks",
    "Finding": "checks",
    "derive_funnel": "funnel",
    "apply_funnel": "funnel",
    # I/O at the edges
    "open_store": "store",
    "Store": "store",
    "refresh": "engine",
    "follow_initiatives": "follow",
    "FollowResult": "follow",
    "report": "reports",
    "reminders": "remind",
    "send_reminders": "remind",
    # plugins
    "hookimpl": "hookspecs",
    "PluginManager": "plugins",
    # more of the public API, by module
    "Light": "policies",
    "KRScore": "scorecard",
    "NodeScore": "scorecard",
    "LiveScore": "scoring",
    "Rollup": "rollup",
    "RollupTree": "rollup",
    "Severity": "checks",
    "Check": "checks",
    "FunnelResult": "funnel",
    "rates_from_actuals": "funnel",
    "SQLiteStore": "store",
    "MemoryStore": "store",
    "AddResult": "store",
    "CheckInRecord": "store",
    "RefreshOptions": "engine",
    "RefreshResult": "engine",
    "Report": "reports",
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


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs (X as X: re-exported)
    from .changes import (
        move_target as move_target,
        plan_in_force as plan_in_force,
    )
    from .checks import (
        Check as Check,
        Finding as Finding,
        Severity as Severity,
        check as check,
    )
    from .engine import (
        RefreshOptions as RefreshOptions,
        RefreshResult as RefreshResult,
        refresh as refresh,
    )
    from .errors import (
        AlignmentLoopError as AlignmentLoopError,
        FetchError as FetchError,
        FunnelError as FunnelError,
        MissingExtra as MissingExtra,
        NotifyError as NotifyError,
        OkrError as OkrError,
        PlanError as PlanError,
        PluginError as PluginError,
        Problem as Problem,
        SourceError as SourceError,
        StoreError as StoreError,
        StoreNotFoundError as StoreNotFoundError,
        ValidationError as ValidationError,
        WrongTypeError as WrongTypeError,
    )
    from .follow import (
        FollowResult as FollowResult,
        follow_initiatives as follow_initiatives,
    )
    from .funnel import (
        FunnelResult as FunnelResult,
        apply_funnel as apply_funnel,
        derive_funnel as derive_funnel,
        rates_from_actuals as rates_from_actuals,
    )
    from .hookspecs import (
        hookimpl as hookimpl,
    )
    from .model import (
        Alignment as Alignment,
        Cadence as Cadence,
        CheckIn as CheckIn,
        Connection as Connection,
        Cycle as Cycle,
        Funnel as Funnel,
        FunnelSplit as FunnelSplit,
        FunnelStep as FunnelStep,
        Goal as Goal,
        Initiative as Initiative,
        InitiativeChange as InitiativeChange,
        InitiativeStatus as InitiativeStatus,
        KeyResult as KeyResult,
        Kind as Kind,
        Kpi as Kpi,
        KpiPeriod as KpiPeriod,
        Level as Level,
        Measure as Measure,
        Objective as Objective,
        Owner as Owner,
        Plan as Plan,
        RunOutcome as RunOutcome,
        RunRecord as RunRecord,
        Strategy as Strategy,
        StrategyChange as StrategyChange,
        TargetChange as TargetChange,
    )
    from .planfile import (
        dump_plan as dump_plan,
        dumps_plan as dumps_plan,
        load_plan as load_plan,
        loads_plan as loads_plan,
    )
    from .plugins import (
        PluginManager as PluginManager,
    )
    from .policies import (
        Light as Light,
    )
    from .remind import (
        reminders as reminders,
        send_reminders as send_reminders,
    )
    from .reports import (
        Report as Report,
        report as report,
    )
    from .rollup import (
        Rollup as Rollup,
        RollupTree as RollupTree,
    )
    from .scorecard import (
        KRScore as KRScore,
        NodeScore as NodeScore,
        Scorecard as Scorecard,
    )
    from .scoring import (
        LiveScore as LiveScore,
        score as score,
    )
    from .store import (
        AddResult as AddResult,
        CheckInRecord as CheckInRecord,
        MemoryStore as MemoryStore,
        SQLiteStore as SQLiteStore,
        Store as Store,
        open_store as open_store,
    )
