"""The Literal types of the public signatures name the same values as the tuples the code checks
at run time, so a type checker and the run-time refusal agree."""

from __future__ import annotations

from typing import get_args

from okrcore.reports import FORMATS, KINDS, ReportFormat, ReportKind


def test_report_kinds_and_formats_match_their_literal_types() -> None:
    assert get_args(ReportKind) == KINDS
    assert get_args(ReportFormat) == FORMATS
