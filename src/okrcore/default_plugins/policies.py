"""Built-in grading and status policies, registered through the okrcore hooks.

``grading:default`` (clamp, or piecewise 0 / 0.7 / 1.0 with a stretch), ``grading:linear`` (clamp
only) and ``status:default`` (the traffic light of docs/scoring.md). A plugin adds its own with
the same hook and a plan picks it by name: ``policy: {grading: NAME, status: NAME}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl
from okrcore.policies import DefaultGrading, DefaultStatus, LinearGrading


@hookimpl
def okrcore_register_policies(register: Callable[[Any], None]) -> None:
    """Register the built-in policies."""
    register(DefaultGrading())
    register(LinearGrading())
    register(DefaultStatus())
