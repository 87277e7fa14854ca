"""The metric-source contract: what a plugin implements to feed key-result actuals.

A source is a class registered through the ``okrcore_register_sources`` hook. okrcore creates one
instance per connection (``Source(connection)``), validates each key result's ``source`` mapping
with :meth:`Source.validate_query` when a plan is linted, and during a refresh hands the instance
batches of :class:`FetchRequest` to :meth:`Source.fetch`, which yields one :class:`Reading` or
:class:`Failure` per request. The refresh engine does the rest: grouping by connection, batching
within :attr:`Limits.max_batch`, concurrency and rate limits, retries with backoff, storing.

This package is public and stable; plugins import from it (``from okrcore.sources import ...``),
never from its parts: ``_contract`` (what a source is), ``_secrets`` (reading and scrubbing the
secrets a connection references), ``_http`` (helpers for sources that speak HTTP) and
``_http_source`` (:class:`HttpSource`, the base of sources that read one HTTP API).
"""

from __future__ import annotations

from okrcore.errors import (  # re-exported: part of this contract
    FailureKind,
    FetchError,
    SourceError,
    ValidationError,
)

from ._contract import (
    Failure,
    FetchRequest,
    ItemState,
    Limits,
    QueryProblem,
    Reading,
    Source,
    TrackedItem,
    positive_number_problems,
    unknown_keys,
)
from ._http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HTTP_SETTINGS,
    Throttle,
    could_not_connect,
    http_session,
    http_setting_problems,
    parse_retry_after,
)
from ._http_source import PACING_SETTINGS, Credentials, HttpSource
from ._secrets import REDACTED, Scrubber, is_secret_reference, resolve_secret

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "HTTP_SETTINGS",
    "PACING_SETTINGS",
    "REDACTED",
    "Credentials",
    "Failure",
    "FailureKind",
    "FetchError",
    "FetchRequest",
    "HttpSource",
    "ItemState",
    "Limits",
    "QueryProblem",
    "Reading",
    "Scrubber",
    "Source",
    "SourceError",
    "Throttle",
    "TrackedItem",
    "ValidationError",
    "could_not_connect",
    "http_session",
    "http_setting_problems",
    "is_secret_reference",
    "parse_retry_after",
    "positive_number_problems",
    "resolve_secret",
    "unknown_keys",
]
