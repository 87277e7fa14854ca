"""okrcore-counter: key-result actuals from the Counter API (the okrcore plugin tutorial).

The Counter API answers ``GET /v1/counters/NAME/daily?from=YYYY-MM-DD&to=YYYY-MM-DD`` with
``{"counter": NAME, "days": [{"date": "YYYY-MM-DD", "count": N}, ...]}`` for a bearer token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import requests

from okrcore.errors import SourceError
from okrcore.hookspecs import hookimpl
from okrcore.model import Connection, KeyResult, Measure
from okrcore.sources import (
    Failure,
    FailureKind,
    FetchRequest,
    Limits,
    QueryProblem,
    Reading,
    Source,
    is_secret_reference,
)

DEFAULT_ENDPOINT = "https://api.counter.example"


class CounterSource(Source):
    """Daily counts of a named counter. Query: ``counter: NAME``."""

    name = "counter"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.session = requests.Session()

    def limits(self) -> Limits:
        # The Counter API allows 10 calls a second; 4 at a time is polite.
        return Limits(max_batch=1, concurrency=4, rate=10)

    @classmethod
    def validate_connection(cls, connection: Connection) -> list[QueryProblem]:
        if not is_secret_reference(connection.settings.get("token")):
            return [QueryProblem("token", "expected token: env:NAME or token: file:PATH")]
        return []

    @classmethod
    def validate_query(cls, query: Mapping[str, Any], kr: KeyResult) -> list[QueryProblem]:
        if not isinstance(query.get("counter"), str) or not query["counter"]:
            return [QueryProblem("counter", "name the counter, e.g. counter: signups")]
        return []

    def fetch(self, requests: Sequence[FetchRequest]) -> Iterator[Reading | Failure]:
        try:
            token = self.secret("token")
        except SourceError as exc:  # a missing secret is an authentication problem
            for r in requests:
                yield Failure(r, FailureKind.AUTH, str(exc))
            return
        for r in requests:
            yield self._fetch_one(r, token or "")

    def _fetch_one(self, r: FetchRequest, token: str) -> Reading | Failure:
        base = (self.connection.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        url = f"{base}/v1/counters/{r.query['counter']}/daily"
        try:
            response = self.session.get(
                url,
                params={"from": r.start.isoformat(), "to": r.end.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout or 30,
            )
        except requests.RequestException as exc:  # timeouts, resets, refused connections
            return Failure(r, FailureKind.TRANSIENT, f"GET {url}: {type(exc).__name__}")
        status = response.status_code
        if status == 429 or status >= 500:
            wait = response.headers.get("Retry-After", "")
            retry_after = float(wait) if wait.isdigit() else None
            return Failure(r, FailureKind.TRANSIENT, f"GET {url}: HTTP {status}", retry_after)
        if status in (401, 403):
            return Failure(r, FailureKind.AUTH, f"GET {url}: HTTP {status}: check the token")
        if status != 200:
            return Failure(r, FailureKind.PERMANENT, f"GET {url}: HTTP {status}: {response.text}")
        try:
            days = [(dt.date.fromisoformat(d["date"]), d["count"]) for d in response.json()["days"]]
        except (ValueError, KeyError, TypeError) as exc:
            return Failure(r, FailureKind.PERMANENT, f"GET {url}: unexpected answer ({exc})")
        if r.series:
            return Reading(r, days)
        if not days:
            return Failure(r, FailureKind.PERMANENT, f"GET {url}: no data up to {r.end}")
        if r.measure is Measure.CUMULATIVE:
            return Reading.total(r, sum(count for _, count in days))
        return Reading.total(r, days[-1][1])

    def close(self) -> None:
        self.session.close()


@hookimpl
def okrcore_register_sources(register: Callable[[type[Source]], None]) -> None:
    """Tell okrcore about the ``counter`` source."""
    register(CounterSource)
