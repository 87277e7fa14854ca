"""A key result's Trello query: validation and card filters (no I/O).

A query names a ``board``, a ``metric`` (see :mod:`okrcore_trello.progress`), what it counts
(``cards``, or the ``checklist`` items of the cards), when a card is done (it sits in a ``done``
list, or its due date is marked complete), and filters a card must all pass: ``list``, ``label``
and ``member`` (each: any of the names).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import attrs

from okrcore.model import KeyResult, Kind, Measure
from okrcore.sources import QueryProblem, unknown_keys
from okrcore.tasks import METRICS

__all__ = ["TrelloQuery", "board_id", "card_created", "card_id", "default_metric", "done_lists",
           "parse_query", "validate_query"]

_KEYS = ("board", "metric", "count", "done", "completed_on", "list", "label", "member",
         "archived")
_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_SHORT = re.compile(r"^[0-9A-Za-z]{8}$")
_URL = re.compile(r"trello\.com/b/([0-9A-Za-z]{8})(?:/|$)")
_CARD_URL = re.compile(r"trello\.com/c/([0-9A-Za-z]{8})(?:/|$)")
COMPLETED_ON = ("last_activity", "due")


def board_id(value: Any) -> str | None:
    """A board's id or short link, from either, or from the board's URL."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _URL.search(text)
    if match:
        return match.group(1)
    return text if _ID.match(text) or _SHORT.match(text) else None


def card_id(value: Any) -> str | None:
    """A card's id or short link, from either, or from the card's URL."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _CARD_URL.search(text)
    if match:
        return match.group(1)
    return text if _ID.match(text) or _SHORT.match(text) else None


def done_lists(done: Any) -> tuple[str, ...] | None:
    """The done lists of a ``done`` setting (``{list: NAME or [NAMES]}``; empty for
    ``due_complete``), or ``None`` when it is neither."""
    if done == "due_complete":
        return ()
    if isinstance(done, Mapping) and set(done) == {"list"} and _good_names(done["list"]):
        return _names(done["list"])
    return None


def card_created(card_id: str) -> dt.date | None:
    """The UTC day a card was created: its id starts with the creation time in seconds (hex)."""
    try:
        seconds = int(card_id[:8], 16)
    except (TypeError, ValueError):
        return None
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).date()


def _names(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(str(v) for v in items)


def _good_names(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, str) and v.strip() for v in items)


@attrs.frozen
class TrelloQuery:
    """A validated query. ``done_lists`` empty: a card is done when its due date is complete."""

    board: str
    metric: str
    checklist: bool = False
    done_lists: tuple[str, ...] = ("Done",)
    completed_on: str = "last_activity"
    lists: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    archived: bool = False

    def matches(self, card: Mapping[str, Any], list_names: Mapping[str, str],
                member_names: Mapping[str, set[str]]) -> bool:
        """Whether a card passes the list, label and member filters."""
        if self.lists and not _among(card.get("idList"), list_names, self.lists):
            return False
        if self.labels:
            have = {str(label.get("name", "")).lower() for label in card.get("labels") or []
                    if isinstance(label, Mapping)}
            if not have & {name.lower() for name in self.labels}:
                return False
        if self.members:
            have = set()
            for ident in card.get("idMembers") or []:
                have |= {ident.lower(), *member_names.get(ident, set())}
            if not have & {name.lower() for name in self.members}:
                return False
        return True

    def is_done(self, card: Mapping[str, Any], list_names: Mapping[str, str]) -> bool:
        """In one of the done lists, or (without done lists) its due date marked complete."""
        if self.done_lists:
            return _among(card.get("idList"), list_names, self.done_lists)
        return card.get("dueComplete") is True


def _among(list_id: Any, list_names: Mapping[str, str], wanted: tuple[str, ...]) -> bool:
    names = {w.lower() for w in wanted}
    return str(list_id).lower() in names or list_names.get(str(list_id), "").lower() in names


def validate_query(query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
    """Every problem with a query mapping for key result ``kr``, found without I/O."""
    problems = unknown_keys(query, _KEYS, "key")
    if board_id(query.get("board")) is None:
        problems.append(QueryProblem("board", "board is the board's URL "
                                              "(https://trello.com/b/<short link>/...), its "
                                              "short link or its id"))
    metric = query.get("metric", default_metric(kr))
    if metric not in METRICS:
        problems.append(QueryProblem("metric", f"metric must be one of {', '.join(METRICS)}"))
    elif kr.measure is Measure.CUMULATIVE and metric != "completed":
        problems.append(QueryProblem(
            "metric", f"a cumulative key result adds up daily amounts: use metric completed, "
            f"or make the key result a gauge to track {metric}"))
    count = query.get("count", "cards")
    if count not in ("cards", "checklist"):
        problems.append(QueryProblem("count", "count is cards or checklist"))
    elif count == "checklist" and kr.measure is Measure.CUMULATIVE:
        problems.append(QueryProblem("count", "Trello keeps no date for a checked item: "
                                              "checklists fit gauges only"))
    if done_lists(query.get("done", {"list": "Done"})) is None:
        problems.append(QueryProblem("done", "done is {list: NAME or [NAMES]} or due_complete"))
    if query.get("completed_on", "last_activity") not in COMPLETED_ON:
        problems.append(QueryProblem("completed_on", "completed_on is last_activity or due"))
    for key in ("list", "label", "member"):
        if key in query and not _good_names(query[key]):
            problems.append(QueryProblem(key, f"{key} is a name or a list of names"))
    if "archived" in query and not isinstance(query["archived"], bool):
        problems.append(QueryProblem("archived", "archived is true or false"))
    return problems


def default_metric(kr: KeyResult) -> str:
    """Completions for a cumulative key result, the fraction done for a milestone, else the
    percentage done."""
    if kr.measure is Measure.CUMULATIVE:
        return "completed"
    return "fraction_done" if kr.kind is Kind.MILESTONE else "percent_done"


def parse_query(query: Mapping[str, Any], kr: KeyResult) -> TrelloQuery:
    """A :class:`TrelloQuery` from a valid mapping; raises ValueError naming the problems."""
    problems = validate_query(query, kr)
    if problems:
        raise ValueError("; ".join(f"{p.field}: {p.message}" for p in problems))
    return TrelloQuery(
        board=str(board_id(query["board"])),
        metric=str(query.get("metric", default_metric(kr))),
        checklist=query.get("count") == "checklist",
        done_lists=done_lists(query.get("done", {"list": "Done"})) or (),
        completed_on=str(query.get("completed_on", "last_activity")),
        lists=_names(query["list"]) if "list" in query else (),
        labels=_names(query["label"]) if "label" in query else (),
        members=_names(query["member"]) if "member" in query else (),
        archived=bool(query.get("archived", False)),
    )
