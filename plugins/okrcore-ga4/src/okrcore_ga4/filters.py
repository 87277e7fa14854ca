"""A small, readable filter language compiled to GA4's ``FilterExpression``.

Grammar (keywords are case-insensitive)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := NAME op STRING             op: == != =~ !~ contains starts_with ends_with
                | NAME ("in" | "not" "in") "[" STRING ("," STRING)* "]"
                | NAME numop NUMBER           numop: == != < <= > >=

``==``/``!=``/``in`` are exact and case-sensitive; ``=~`` is a partial regular-expression match
(anchor with ``^``/``$``; GA4 uses RE2 syntax); ``contains``/``starts_with``/``ends_with`` are
case-sensitive too. Names are GA4 API dimension names (``country``, ``pagePath``,
``customEvent:plan_tier``). Examples::

    sessionDefaultChannelGroup == "Organic Search" and country in ["FR", "DE"]
    pagePath =~ "^/blog/" and not (deviceCategory == "tablet" or country != "FR")

Errors carry the 1-based column of the offending token.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:  # the client library is imported when a filter is compiled, not to parse one
    from google.analytics.data_v1beta.types import FilterExpression, NumericValue

__all__ = ["FilterError", "compile_filter", "filter_fields", "parse_filter", "to_expression"]


class FilterError(ValueError):
    """A filter expression that cannot be parsed; ``column`` is 1-based."""

    def __init__(self, message: str, column: int, text: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column
        self.text = text

    def pointer(self) -> str:
        """The expression with a caret under the bad token (two lines)."""
        return f"{self.text}\n{' ' * (self.column - 1)}^"


# -- AST ---------------------------------------------------------------------------------------


@attrs.frozen
class Compare:
    """``field op value``; ``op`` one of the string/numeric operators."""

    field: str
    op: str
    value: str | float


@attrs.frozen
class InList:
    """``field in [values]``."""

    field: str
    values: tuple[str, ...]


@attrs.frozen
class Not:
    """``not expr``."""

    expr: Node


@attrs.frozen
class Group:
    """``and``/``or`` of two or more expressions."""

    op: str
    exprs: tuple[Node, ...]


Node = Compare | InList | Not | Group

# -- tokens ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w:]))
  | (?P<op>==|!=|=~|!~|<=|>=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z0-9_]+)?)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "starts_with", "ends_with"}
_WORD_OPS = {"contains", "starts_with", "ends_with"}


@attrs.frozen
class _Tok:
    kind: str  # string, number, op, punct, name, keyword, end
    text: str
    col: int
    value: str | float | None = None


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: m.group(1), body)


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch in "\"'":
                raise FilterError("unterminated string", pos + 1, text)
            raise FilterError(f"unexpected character {ch!r}", pos + 1, text)
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "string":
            out.append(_Tok("string", raw, pos + 1, _unquote(raw)))
        elif kind == "number":
            out.append(_Tok("number", raw, pos + 1, float(raw)))
        elif kind == "name" and raw.lower() in _KEYWORDS:
            out.append(_Tok("keyword", raw.lower(), pos + 1))
        elif kind != "ws":
            out.append(_Tok(kind, raw, pos + 1))
        pos = m.end()
    out.append(_Tok("end", "end of expression", len(text) + 1))
    return out


# -- parser ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, tok: _Tok) -> FilterError:
        return FilterError(message, tok.col, self.text)

    def describe(self, tok: _Tok) -> str:
        return tok.text if tok.kind == "end" else repr(tok.text)

    def expect(self, kind: str, text: str, what: str) -> _Tok:
        tok = self.take()
        if tok.kind != kind or tok.text != text:
            raise self.fail(f"expected {what}, found {self.describe(tok)}", tok)
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.fail("empty filter expression", self.peek())
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(f"expected 'and', 'or' or the end, found {self.describe(tok)}", tok)
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek().kind == "keyword" and self.peek().text == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Group("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self.peek().kind == "keyword" and self.peek().text == "and":
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else Group("and", tuple(parts))

    def not_expr(self) -> Node:
        tok = self.peek()
        if tok.kind == "keyword" and tok.text == "not":
            self.take()
            return Not(self.not_expr())
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            node = self.or_expr()
            self.expect("punct", ")", "')'")
            return node
        return self.comparison()

    def comparison(self) -> Node:
        name = self.take()
        if name.kind != "name":
            raise self.fail(f"expected a dimension name, found {self.describe(name)}", name)
        op = self.take()
        if op.kind == "keyword" and op.text == "not":
            self.expect("keyword", "in", "'in' after 'not'")
            return Not(InList(name.text, self.string_list()))
        if op.kind == "keyword" and op.text == "in":
            return InList(name.text, self.string_list())
        if op.kind == "keyword" and op.text in _WORD_OPS:
            return Compare(name.text, op.text, self.string_value(op.text))
        if op.kind != "op":
            raise self.fail(f"expected an operator after {name.text!r}, found "
                            f"{self.describe(op)}", op)
        value = self.take()
        if value.kind == "string" and op.text in ("==", "!=", "=~", "!~"):
            assert isinstance(value.value, str)
            if op.text in ("=~", "!~"):
                self.check_regex(value)
            return Compare(name.text, op.text, value.value)
        if value.kind == "number" and op.text not in ("=~", "!~"):
            assert isinstance(value.value, float)
            return Compare(name.text, op.text, value.value)
        wanted = "a quoted string" if op.text in ("=~", "!~") else (
            "a number" if op.text in ("<", "<=", ">", ">=") else "a quoted string or a number")
        raise self.fail(f"expected {wanted} after '{op.text}', found {self.describe(value)}",
                        value)

    def string_value(self, after: str) -> str:
        tok = self.take()
        if tok.kind != "string":
            raise self.fail(f"expected a quoted string after '{after}', found "
                            f"{self.describe(tok)}", tok)
        assert isinstance(tok.value, str)
        return tok.value

    def string_list(self) -> tuple[str, ...]:
        self.expect("punct", "[", "'[' to open the list")
        values = [self.string_value("[")]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            values.append(self.string_value(","))
        self.expect("punct", "]", "',' or ']'")
        return tuple(values)

    def check_regex(self, tok: _Tok) -> None:
        try:
            re.compile(str(tok.value))
        except re.error as exc:
            raise self.fail(f"invalid regular expression: {exc.msg}", tok) from None


def parse_filter(text: str) -> Node:
    """Parse a filter expression into its syntax tree; raises :class:`FilterError`."""
    return _Parser(text).parse()


# -- compile -----------------------------------------------------------------------------------

# Names of Filter.StringFilter.MatchType and Filter.NumericFilter.Operation members
_STRING_OPS = {
    "==": "EXACT",
    "!=": "EXACT",
    "=~": "PARTIAL_REGEXP",
    "!~": "PARTIAL_REGEXP",
    "contains": "CONTAINS",
    "starts_with": "BEGINS_WITH",
    "ends_with": "ENDS_WITH",
}
_NUMERIC_OPS = {
    "==": "EQUAL",
    "!=": "EQUAL",
    "<": "LESS_THAN",
    "<=": "LESS_THAN_OR_EQUAL",
    ">": "GREATER_THAN",
    ">=": "GREATER_THAN_OR_EQUAL",
}


def _numeric(value: float) -> NumericValue:
    from google.analytics.data_v1beta.types import NumericValue

    if value.is_integer() and abs(value) < 2**63:
        return NumericValue(int64_value=int(value))
    return NumericValue(double_value=value)


def _compile(node: Node) -> FilterExpression:
    from google.analytics.data_v1beta.types import Filter, FilterExpression, FilterExpressionList

    if isinstance(node, Group):
        group = FilterExpressionList(expressions=[_compile(e) for e in node.exprs])
        if node.op == "and":
            return FilterExpression(and_group=group)
        return FilterExpression(or_group=group)
    if isinstance(node, Not):
        return FilterExpression(not_expression=_compile(node.expr))
    if isinstance(node, InList):
        in_list = Filter.InListFilter(values=list(node.values), case_sensitive=True)
        return FilterExpression(filter=Filter(field_name=node.field, in_list_filter=in_list))
    if isinstance(node.value, str):
        match_type = getattr(Filter.StringFilter.MatchType, _STRING_OPS[node.op])
        sf = Filter.StringFilter(match_type=match_type, value=node.value, case_sensitive=True)
        expr = FilterExpression(filter=Filter(field_name=node.field, string_filter=sf))
    else:
        operation = getattr(Filter.NumericFilter.Operation, _NUMERIC_OPS[node.op])
        nf = Filter.NumericFilter(operation=operation, value=_numeric(node.value))
        expr = FilterExpression(filter=Filter(field_name=node.field, numeric_filter=nf))
    if node.op in ("!=", "!~"):
        return FilterExpression(not_expression=expr)
    return expr


def to_expression(node: Node) -> FilterExpression:
    """The GA4 ``FilterExpression`` of a parsed filter."""
    return _compile(node)


def compile_filter(text: str) -> FilterExpression:
    """Compile a filter expression to a GA4 ``FilterExpression``; raises :class:`FilterError`."""
    return _compile(parse_filter(text))


def filter_fields(node: Node) -> list[str]:
    """Dimension names a parsed filter uses, in order of first appearance."""
    out: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Group):
            for e in n.exprs:
                walk(e)
        elif isinstance(n, Not):
            walk(n.expr)
        elif n.field not in out:
            out.append(n.field)

    walk(node)
    return out


def canonical(node: Node | None) -> str:
    """A stable text form of a parsed filter, used to group key results into one report."""
    return "" if node is None else repr(node)
