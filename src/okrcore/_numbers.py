"""How okrcore shows a number to people: the one formatter every report, command, lint finding and
status reason uses, so a value reads the same wherever it appears (docs/reports.md, "Numbers").

It sits at the bottom of the layers so that the math (the grading and status policies' reasons)
can use it as well as the reports and the command line.
"""

from __future__ import annotations

import decimal
import math
import re
from typing import Any

MISSING = "—"
SIGNIFICANT = 4  # digits kept below 1,000; from 1,000 on, whole numbers
MAX_DECIMALS = 6
_WIDE = decimal.Context(prec=400)


def num(value: Any, unit: str = "") -> str:
    """A number for people, with its unit: thousands separators; whole numbers from 1,000 on,
    else 4 significant digits (at most 6 decimals), trailing zeros dropped, halves rounded up
    (``1,234.5`` -> ``1,235``, ``47.766`` -> ``47.77``, ``0.012345`` -> ``0.01235``).
    ``"—"`` when missing or not finite; text that is not a number is returned as it is. After a
    value shown as exactly 1, a unit written in the plural is singular (``1 lead``)."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return MISSING
    exact = decimal.Decimal(repr(float(value)))  # the shortest form: 2.675 stays 2.675
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    places = min(MAX_DECIMALS, max(0, SIGNIFICANT - 1 - magnitude))
    rounded = exact.quantize(  # every digit of the largest float fits: 1e308 is 309 digits
        decimal.Decimal(1).scaleb(-places), decimal.ROUND_HALF_UP, _WIDE
    )
    text = f"{rounded:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if unit in ("%", ""):
        return f"{text}{unit}"
    if text in ("1", "-1"):
        unit = singular(unit)
    return f"{text} {unit}"


# a unit written as a lowercase plural word, or words ("leads", "new customers"); not "USD", "kWh"
_PLURAL = re.compile(r"[a-z][a-z -]*[a-z]s")


def singular(unit: str) -> str:
    """The singular of a unit written in the plural, shown after exactly 1 (``1 lead``, ``1 story``,
    ``1 new customer``); any other unit (``USD``, ``bonus``, ``%``) as it is."""
    if not _PLURAL.fullmatch(unit) or unit.endswith(("ss", "us", "is")):
        return unit
    if unit.endswith("ies"):
        return unit[:-3] + "y"
    if unit.endswith(("ches", "shes", "xes", "sses")):
        return unit[:-2]
    return unit[:-1]
