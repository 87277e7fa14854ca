"""The filter language: parsing, compiling to GA4 FilterExpression JSON, errors with columns."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ga4_helpers import key_result
from google.analytics.data_v1beta.types import FilterExpression
from okrcore_ga4 import FilterError, GA4Source, compile_filter
from okrcore_ga4.filters import filter_fields, parse_filter


def as_json(text: str) -> dict[str, Any]:
    expr = FilterExpression.to_json(compile_filter(text), use_integers_for_enums=True)
    got: dict[str, Any] = json.loads(expr)
    return got


def exact(field: str, value: str) -> dict[str, Any]:
    return {"filter": {"fieldName": field, "stringFilter": {
        "matchType": 1, "value": value, "caseSensitive": True}}}


def test_and_with_in_list() -> None:
    got = as_json('sessionDefaultChannelGroup == "Organic Search" and country in ["FR", "DE"]')
    assert got == {"andGroup": {"expressions": [
        exact("sessionDefaultChannelGroup", "Organic Search"),
        {"filter": {"fieldName": "country",
                    "inListFilter": {"values": ["FR", "DE"], "caseSensitive": True}}},
    ]}}


def test_regex_is_partial_match() -> None:
    got = as_json('pagePath =~ "^/blog/"')
    assert got["filter"]["stringFilter"] == {"matchType": 6, "value": "^/blog/",
                                             "caseSensitive": True}


def test_negations_or_and_parentheses() -> None:
    got = as_json('not (country == "FR" or deviceCategory != "mobile") and pagePath !~ "x$"')
    assert got == {"andGroup": {"expressions": [
        {"notExpression": {"orGroup": {"expressions": [
            exact("country", "FR"),
            {"notExpression": exact("deviceCategory", "mobile")},
        ]}}},
        {"notExpression": {"filter": {"fieldName": "pagePath", "stringFilter": {
            "matchType": 6, "value": "x$", "caseSensitive": True}}}},
    ]}}


def test_and_binds_tighter_than_or() -> None:
    got = as_json('country == "FR" or country == "DE" and deviceCategory == "mobile"')
    assert list(got) == ["orGroup"]
    second = got["orGroup"]["expressions"][1]
    assert list(second) == ["andGroup"]


def test_word_operators_not_in_numbers_and_custom_dimensions() -> None:
    got = as_json('pagePath starts_with "/blog" and pagePath ends_with "/" and '
                  'pagePath contains "okr" and country not in [\'US\'] and '
                  'customEvent:plan_tier == "pro" and customEvent:seats >= 10 and x < 2.5')
    exprs = got["andGroup"]["expressions"]
    assert [e["filter"]["stringFilter"]["matchType"] for e in exprs[:3]] == [2, 3, 4]
    assert exprs[3] == {"notExpression": {"filter": {"fieldName": "country", "inListFilter": {
        "values": ["US"], "caseSensitive": True}}}}
    assert exprs[4]["filter"]["fieldName"] == "customEvent:plan_tier"
    assert exprs[5]["filter"]["numericFilter"] == {"operation": 5, "value": {"int64Value": "10"}}
    assert exprs[6]["filter"]["numericFilter"] == {"operation": 2, "value": {"doubleValue": 2.5}}


def test_keywords_are_case_insensitive_and_strings_take_escapes() -> None:
    got = as_json('country == "F\\"R" AND NOT country == \'D\\\\E\'')
    assert got["andGroup"]["expressions"][0]["filter"]["stringFilter"]["value"] == 'F"R'
    inner = got["andGroup"]["expressions"][1]["notExpression"]
    assert inner["filter"]["stringFilter"]["value"] == "D\\E"


def test_filter_fields_in_order_without_repeats() -> None:
    node = parse_filter('a == "1" and (b == "2" or a == "3") and not c in ["x"]')
    assert filter_fields(node) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ('country == ', 12, "expected a quoted string or a number after '=='"),
        ('country == "FR" and', 20, "expected a dimension name"),
        ('country == "FR" country', 17, "expected 'and', 'or' or the end"),
        ('(country == "FR"', 17, "expected ')'"),
        ('country in ["FR" "DE"]', 18, "expected ',' or ']'"),
        ('country in "FR"', 12, "expected '[' to open the list"),
        ('pagePath =~ "(unclosed"', 13, "invalid regular expression"),
        ('sessions > "10"', 12, "expected a number after '>'"),
        ('pagePath =~ 3', 13, "expected a quoted string after '=~'"),
        ('country = "FR"', 9, "unexpected character '='"),
        ('country == "FR', 12, "unterminated string"),
        ('country "FR"', 9, "expected an operator after 'country'"),
        ('', 1, "empty filter expression"),
        ('country not "FR"', 13, "expected 'in' after 'not'"),
    ],
)
def test_errors_point_at_the_bad_token(text: str, column: int, fragment: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    assert info.value.column == column
    assert fragment in info.value.message
    assert info.value.pointer().splitlines()[1] == " " * (column - 1) + "^"


def test_validate_query_reports_the_column() -> None:
    problems = GA4Source.validate_query(
        {"metric": "sessions", "filter": 'country == "FR" and or'}, key_result("k"))
    assert len(problems) == 1
    assert problems[0].field == "filter"
    assert problems[0].message.startswith("column 21: expected a dimension name, found 'or'")
