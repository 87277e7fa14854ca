"""Plan templates: commented, lint-clean plan files to start from (``okr init``).

A template is plan-file text with a few placeholders for the cycle it starts in, so a plan written
today starts in today's quarter: ``{{cycle_id}}`` (``2026-Q4``), ``{{cycle_title}}``
(``Q4 2026``), ``{{start}}`` and ``{{end}}`` (the quarter's first and last day, ISO). The built-in
templates are registered through the ``okrcore_register_templates`` hook like a plugin's.
"""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources

import attrs

from .errors import OkrError

__all__ = ["Template", "quarter_of", "render"]

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _check_name(_inst: object, _attr: attrs.Attribute[str], value: str) -> None:
    if not _NAME.match(value):
        raise OkrError(f"template name {value!r}: use lowercase letters, digits and '-'")


@attrs.frozen
class Template:
    """A named plan template: ``text`` is a plan file (``format``: yaml, toml or json)."""

    name: str = attrs.field(validator=_check_name)
    description: str
    text: str = attrs.field(repr=False)
    format: str = "yaml"

    @classmethod
    def from_package(cls, package: str, filename: str, name: str, description: str) -> Template:
        """A template shipped as a data file of ``package`` (as the built-in ones are)."""
        text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
        return cls(name, description, text, filename.rsplit(".", 1)[-1])


def quarter_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the calendar quarter that holds ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    last_month = first_month + 2
    after = dt.date(day.year + last_month // 12, last_month % 12 + 1, 1)
    return dt.date(day.year, first_month, 1), after - dt.timedelta(days=1)


def render(template: Template, *, start: dt.date, end: dt.date) -> str:
    """The template's text with its placeholders filled for the cycle ``start`` to ``end``."""
    quarter = (start.month - 1) // 3 + 1
    values = {
        "cycle_id": f"{start.year}-Q{quarter}",
        "cycle_title": f"Q{quarter} {start.year}",
        "start": start.isoformat(),
        "end": end.isoformat(),
    }

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            known = ", ".join("{{" + k + "}}" for k in values)
            name = "{{" + key + "}}"
            raise OkrError(f"template {template.name!r}: unknown placeholder {name} ({known})")
        return values[key]

    return _PLACEHOLDER.sub(fill, template.text)
