"""The limits a plan file must stay within (documented in docs/limits.md).

They keep a hostile or broken file from exhausting memory, recursion or time, and keep every
number and date a plan holds inside the range the scoring, funnel and report code can compute with.
"""

from __future__ import annotations

import datetime as dt

MAX_BYTES = 10_000_000
"""Largest plan file (or text) read: 10 MB."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists."""

MAX_NODES = 200_000
"""Most values (mappings, lists and scalars) in a plan, counted after YAML aliases are expanded."""

MAX_NUMBER = 1e15
"""Largest magnitude of a number in a plan, and of a stage a funnel derives from it."""

FIRST_DATE = dt.date(1970, 1, 1)
"""Earliest date a plan may hold."""

LAST_DATE = dt.date(9998, 1, 1)
"""Latest date a plan may hold (a year before the end of the calendar dates can do arithmetic
in)."""

MAX_SHOWN = 60
"""Longest value quoted in an error message; longer values are cut."""
