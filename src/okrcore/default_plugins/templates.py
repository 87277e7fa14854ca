"""Built-in plan templates (``okr init --template NAME``), registered through the okrcore hooks.

The files live in ``okrcore/default_plugins/plan_templates/``; a plugin adds its own templates with
the same hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okrcore.hookspecs import hookimpl
from okrcore.templates import Template

_PACKAGE = "okrcore.default_plugins.plan_templates"
BUILTIN_TEMPLATES = (
    ("marketing", "Quarterly marketing OKRs: pipeline, traffic, conversion"),
    ("sales", "Quarterly sales OKRs: new ARR, customers, pipeline"),
    ("product", "Quarterly product OKRs: activation, engagement, a launch milestone"),
    ("smart-goal", "One SMART goal with two key results"),
)


@hookimpl
def okrcore_register_templates(register: Callable[[Any], None]) -> None:
    """Register the built-in templates."""
    for name, description in BUILTIN_TEMPLATES:
        register(Template.from_package(_PACKAGE, f"{name}.yaml", name, description))
