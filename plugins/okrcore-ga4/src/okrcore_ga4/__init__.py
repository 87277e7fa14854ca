"""okrcore-ga4: Google Analytics 4 key-result actuals for okrcore (source name ``ga4``).

Install the distribution and name ``plugin: ga4`` in a plan's connection; see docs/plugins/ga4.md.
"""

from __future__ import annotations

from .filters import FilterError, compile_filter, parse_filter
from .query import GA4Query, additive, parse_query
from .source import GA4Source

__all__ = [
    "FilterError",
    "GA4Query",
    "GA4Source",
    "additive",
    "compile_filter",
    "parse_filter",
    "parse_query",
]
__version__ = "0.1.0"
