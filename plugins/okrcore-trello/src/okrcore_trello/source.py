"""The ``trello`` metric source: card and checklist progress of a board (REST API 1,
``GET /1/boards/{id}/cards``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from okrcore.errors import SourceError
from okrcore.model import KeyResult
from okrcore.sources import (
    Credentials,
    Failure,
    FailureKind,
    FetchError,
    FetchRequest,
    HttpSource,
    ItemState,
    QueryProblem,
    Reading,
    TrackedItem,
    parse_retry_after,
)
from okrcore.tasks import Task, day_of, tasks_reading

from ._version import __version__
from .query import TrelloQuery, card_created, card_id, done_lists, parse_query, validate_query

if TYPE_CHECKING:  # imported where it is used, so that listing plugins stays fast
    import requests

__all__ = ["CARD_FIELDS", "DEFAULT_ENDPOINT", "DEFAULT_RATE", "TrelloSource"]

DEFAULT_ENDPOINT = "https://api.trello.com/1"
# Trello allows 100 requests per 10 seconds per token (300 per API key): stay under it.
DEFAULT_RATE = 8.0
WINDOW = 10.0  # seconds of Trello's rate-limit window: how long a 429 without Retry-After waits
CARD_FIELDS = "idList,closed,due,dueComplete,dateLastActivity,labels,idMembers,badges"


class TrelloSource(HttpSource):
    """Share of done cards (or checklist items), completions by day, open and total cards.

    Connection settings: ``key`` and ``token`` (``env:NAME`` or ``file:PATH`` of the API key and
    a user token), optional ``requests_per_second`` (default 8), ``concurrency`` (default 2) and
    ``timeout`` (seconds, default 30); ``endpoint`` overrides ``https://api.trello.com/1``. Key
    results on one board share one read of its lists and cards.
    """

    name = "trello"
    service = "Trello"
    user_agent = f"okrcore-trello/{__version__}"
    default_endpoint = DEFAULT_ENDPOINT
    default_rate = DEFAULT_RATE
    secrets = (("key", "the Trello API key"), ("token", "the Trello user token"))

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        """Board, metric (fitting the measure), done, filters."""
        return validate_query(query, kr)

    def batches(self, requests: Sequence[FetchRequest]) -> list[list[FetchRequest]]:
        """One batch per board: its lists and cards are read once for all its key results."""
        groups: dict[Any, list[FetchRequest]] = {}
        for request in requests:
            try:
                query = parse_query(request.query, request.kr)
                key: Any = (query.board, query.archived)
            except ValueError:
                key = request.kr.id
            groups.setdefault(key, []).append(request)
        return list(groups.values())

    # -- fetching ---------------------------------------------------------------------------

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterable[Reading | Failure]:
        """Read each board once (lists, members when filtered on, cards), then compute every
        request of the batch from it."""
        groups: dict[tuple[str, bool], list[tuple[FetchRequest, TrelloQuery]]] = {}
        for request in requests:
            try:
                query = parse_query(request.query, request.kr)
            except ValueError as exc:
                yield Failure(request, FailureKind.PERMANENT, f"invalid trello query: {exc}")
                continue
            groups.setdefault((query.board, query.archived), []).append((request, query))
        for (board, archived), group in groups.items():
            calls = 0
            try:
                lists = {str(item.get("id")): str(item.get("name", ""))
                         for item in self._list(f"/boards/{board}/lists",
                                                {"fields": "name", "filter": "all"})}
                calls += 1
                members: dict[str, set[str]] = {}
                if any(q.members for _, q in group):
                    for person in self._list(f"/boards/{board}/members",
                                             {"fields": "username,fullName"}):
                        members[str(person.get("id"))] = {
                            str(person.get(k, "")).lower() for k in ("username", "fullName")}
                    calls += 1
                path = f"/boards/{board}/cards" + ("/all" if archived else "")
                cards = self._list(path, {"fields": CARD_FIELDS})
                calls += 1
            except FetchError as error:
                for request, _ in group:
                    yield error.failure(request)
                continue
            for request, query in group:
                yield _reading(request, query, cards, lists, members, calls)

    # -- initiatives that follow a card -------------------------------------------------------

    def item_states(self, items: Sequence[TrackedItem]) -> list[ItemState]:
        """Each tracked card's state (``tracks: {connection: trello, card: URL or id}``, with an
        optional ``done`` as in a key result's query, default ``{list: Done}``): a card that is
        done by that rule is ``done``, an archived one that is not ``dropped``, another
        ``open``; one ``GET /1/cards/{id}?fields=closed,dueComplete,idList&list=true`` per
        card."""
        out = []
        for item in items:
            ident = card_id(item.query.get("card"))
            lists = done_lists(item.query.get("done", {"list": "Done"}))
            unknown = sorted(set(item.query) - {"card", "done"})
            if ident is None or lists is None or unknown:
                out.append(ItemState(item, None, _tracks_problem(ident, lists, unknown)))
                continue
            try:
                card = self.call_object(
                    "GET", f"/cards/{ident}",
                    params={"fields": "closed,dueComplete,idList", "list": "true"},
                    what=f"card {ident}")
                out.append(ItemState(item, _card_state(card, lists, ident)))
            except FetchError as failed:
                out.append(ItemState(item, None, failed.message))
        return out

    # -- HTTP -------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """Trello takes the key and token as query parameters (no message names the URL)."""
        return Credentials(params={name: self.required_secret(name) for name in ("key", "token")})

    def error(self, response: requests.Response, what: str) -> FetchError:
        """Classify an error answer (see :func:`_error`)."""
        return _error(response, what)

    def _list(self, path: str, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """One paced GET answered by a JSON array (Trello's lists are not paged)."""
        return self.call_list("GET", path, params=params, what=path)

    # -- online check -----------------------------------------------------------------------

    def check_online(
        self, queries: Sequence[tuple[KeyResult, Mapping[str, Any]]]
    ) -> list[tuple[str, QueryProblem]]:
        """Check that each board is readable and has the lists the queries name.

        Reads each board's lists once. Authentication and network errors raise
        :class:`okrcore.errors.SourceError`.
        """
        found: list[tuple[str, QueryProblem]] = []
        boards: dict[str, set[str] | str] = {}
        try:
            for kr, raw in queries:
                if validate_query(raw, kr):
                    continue  # the offline lint reports these
                query = parse_query(raw, kr)
                if query.board not in boards:
                    boards[query.board] = self._list_names(query.board)
                names = boards[query.board]
                if isinstance(names, str):
                    found.append((kr.id, QueryProblem("board", names)))
                    continue
                for field, wanted in (("list", query.lists), ("done", query.done_lists)):
                    missing = [w for w in wanted if w.lower() not in names]
                    if missing:
                        found.append((kr.id, QueryProblem(
                            field, f"board {query.board} has no list "
                            f"{', '.join(map(repr, missing))} (lists: "
                            f"{', '.join(sorted(names)) or 'none'})")))
        except FetchError as failed:
            raise SourceError(failed.message) from None
        return found

    def _list_names(self, board: str) -> set[str] | str:
        try:
            lists = self._list(f"/boards/{board}/lists", {"fields": "name", "filter": "all"})
        except FetchError as failed:
            if failed.kind is FailureKind.PERMANENT:
                return failed.message
            raise
        return {str(item.get("name", "")).lower() for item in lists}


def _reading(
    request: FetchRequest,
    query: TrelloQuery,
    cards: Sequence[Mapping[str, Any]],
    lists: Mapping[str, str],
    members: Mapping[str, set[str]],
    calls: int,
) -> Reading | Failure:
    tasks: list[Task] = []
    try:
        for card in cards:
            if not query.matches(card, lists, members):
                continue
            created = card_created(str(card.get("id", "")))
            if query.checklist:
                badges = card.get("badges")
                if not isinstance(badges, Mapping):
                    raise ValueError(f"card {card.get('id')} has no badges")
                items, checked = int(badges["checkItems"]), int(badges["checkItemsChecked"])
                tasks += [Task(i < checked, created) for i in range(items)]
                continue
            done = query.is_done(card, lists)
            stamp = card.get("due" if query.completed_on == "due" else "dateLastActivity")
            tasks.append(Task(done, created, day_of(stamp) if done else None))
    except (KeyError, TypeError, ValueError) as exc:
        return Failure(request, FailureKind.TRANSIENT, f"Trello sent a malformed card: {exc}")
    return tasks_reading(request, tasks, query.metric, where=f"board {query.board}",
                         hint="check list, label and member",
                         info={"requests": calls, "items" if query.checklist else "cards":
                               len(tasks)})


def _tracks_problem(ident: str | None, lists: tuple[str, ...] | None, unknown: list[str]) -> str:
    if ident is None:
        return "tracks needs card: the card's URL (https://trello.com/c/<short link>/...), " \
               "short link or id"
    if lists is None:
        return "tracks' done is {list: NAME or [NAMES]} or due_complete"
    return f"tracks has unknown key(s) {', '.join(unknown)} (known: card, done)"


def _card_state(card: Mapping[str, Any], lists: tuple[str, ...], ident: str) -> str:
    """done, dropped (archived without being done) or open; FetchError for a malformed card."""
    closed, due_complete, in_list = card.get("closed"), card.get("dueComplete"), card.get("list")
    if not isinstance(closed, bool) or not isinstance(due_complete, bool):
        raise FetchError(FailureKind.TRANSIENT,
                         f"Trello answered card {ident} without closed or dueComplete")
    if not lists:
        done = due_complete
    elif isinstance(in_list, Mapping):
        names = {name.lower() for name in lists}
        done = bool({str(in_list.get(k, "")).lower() for k in ("name", "id")} & names)
    else:
        raise FetchError(FailureKind.TRANSIENT, f"Trello answered card {ident} without its list")
    if done:
        return "done"
    return "dropped" if closed else "open"


def _error(response: requests.Response, path: str) -> FetchError:
    """Classify an error answer: plain text (``invalid token``), JSON for rate limits."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        text = ": ".join(str(body[k]) for k in ("error", "message") if body.get(k))
    elif "html" in response.headers.get("Content-Type", ""):
        text = ""
    else:
        text = response.text.strip()[:200]
    label = f"Trello {status}: {text or response.reason or 'no message'}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401:
        return FetchError(FailureKind.AUTH, f"{label} (check the API key and the user token)")
    if status == 429:
        # no Retry-After is documented: the limits count over a 10-second window
        return FetchError(FailureKind.TRANSIENT, label, retry_after or WINDOW)
    if status >= 500 or status == 408:
        return FetchError(FailureKind.TRANSIENT, label, retry_after)
    if status in (403, 404) and path.startswith("card "):
        return FetchError(FailureKind.PERMANENT, f"{label} ({path}: check the card's link, and "
                                                 "that the token's user is a member of its "
                                                 "board)")
    if status in (403, 404):
        return FetchError(FailureKind.PERMANENT, f"{label} ({path}: check the board, and that "
                                                 "the token's user is a member of it)")
    return FetchError(FailureKind.PERMANENT, f"{label} ({path})")
