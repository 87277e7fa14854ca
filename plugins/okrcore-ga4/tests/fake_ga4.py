"""A local fake of the GA4 Data API v1beta, over REST (http.server) and gRPC (grpc.server).

It answers runReport, batchRunReports and getMetadata from a small in-memory table of daily rows,
the way the real API shapes them (wire-facts §1.2-1.4): camelCase JSON, int64 as strings, enums as
ints, google.rpc.Status error envelopes. It records every call so tests can check the payloads the
real client produced, and can be told to fail, throttle, threshold or run out of quota.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

# Base columns summed over rows; ratio metrics computed from them.
COUNTS = {
    "sessions": 1,
    "engagedSessions": 1,
    "keyEventSessions": 1,
    "activeUsers": 1,
    "totalUsers": 1,
    "newUsers": 1,
    "keyEvents": 1,
    "screenPageViews": 1,
    "eventCount": 1,
    "totalRevenue": 9,  # TYPE_CURRENCY
    "customEvent:signup_value": 2,
}
RATIOS: dict[str, Callable[[Mapping[str, float]], float | None]] = {
    "bounceRate": lambda t: 1 - t["engagedSessions"] / t["sessions"] if t["sessions"] else None,
    "engagementRate": lambda t: t["engagedSessions"] / t["sessions"] if t["sessions"] else None,
    "sessionKeyEventRate": (
        lambda t: t["keyEventSessions"] / t["sessions"] if t["sessions"] else None
    ),
}
DIMENSIONS = (
    "date",
    "country",
    "sessionDefaultChannelGroup",
    "pagePath",
    "deviceCategory",
    "customEvent:plan_tier",
)
MATCH = {1: "EXACT", 2: "BEGINS_WITH", 3: "ENDS_WITH", 4: "CONTAINS", 5: "FULL_REGEXP",
         6: "PARTIAL_REGEXP"}
NUMOP = {1: "EQUAL", 2: "LESS_THAN", 3: "LESS_THAN_OR_EQUAL", 4: "GREATER_THAN",
         5: "GREATER_THAN_OR_EQUAL"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class ApiError(Exception):
    """An error the fake answers with (HTTP status + google.rpc.Status message)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.status, "message": self.message,
                          "status": STATUS.get(self.status, "UNKNOWN")}}


@attrs.define
class Call:
    """One recorded call."""

    transport: str
    method: str  # runReport, batchRunReports, getMetadata
    property: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]


@attrs.define
class Fault:
    """A scripted error for the next matching calls."""

    status: int
    message: str
    method: str | None = None
    times: int = 1
    headers: dict[str, str] = attrs.Factory(dict)


def row(day: dt.date | str, **values: Any) -> dict[str, Any]:
    """A daily data row: dimension values (strings) and base counts."""
    out: dict[str, Any] = {"date": day if isinstance(day, str) else day.strftime("%Y%m%d")}
    out.update(values)
    return out


def _name(value: Any, names: Mapping[int, str]) -> str:
    return names.get(int(value), str(value)) if isinstance(value, int) or (
        isinstance(value, str) and value.isdigit()) else str(value)


def _match(expr: Mapping[str, Any], r: Mapping[str, Any]) -> bool:
    if "andGroup" in expr:
        return all(_match(e, r) for e in expr["andGroup"].get("expressions", []))
    if "orGroup" in expr:
        return any(_match(e, r) for e in expr["orGroup"].get("expressions", []))
    if "notExpression" in expr:
        return not _match(expr["notExpression"], r)
    f = expr["filter"]
    value = str(r.get(f["fieldName"], "(not set)"))
    if "stringFilter" in f:
        sf = f["stringFilter"]
        want, kind = sf.get("value", ""), _name(sf.get("matchType", 1), MATCH)
        if not sf.get("caseSensitive", False):
            want, value = want.lower(), value.lower()
        checks: dict[str, Callable[[], bool]] = {
            "EXACT": lambda: value == want,
            "BEGINS_WITH": lambda: value.startswith(want),
            "ENDS_WITH": lambda: value.endswith(want),
            "CONTAINS": lambda: want in value,
            "FULL_REGEXP": lambda: re.fullmatch(want, value) is not None,
            "PARTIAL_REGEXP": lambda: re.search(want, value) is not None,
        }
        return checks[kind]()
    if "inListFilter" in f:
        lf = f["inListFilter"]
        values = lf.get("values", [])
        if not lf.get("caseSensitive", False):
            return value.lower() in [v.lower() for v in values]
        return value in values
    if "numericFilter" in f:
        nf = f["numericFilter"]
        nv = nf["value"]
        want_n = float(nv.get("int64Value", nv.get("doubleValue", 0)))
        got = float(value)
        op = _name(nf.get("operation", 1), NUMOP)
        return {"EQUAL": got == want_n, "LESS_THAN": got < want_n,
                "LESS_THAN_OR_EQUAL": got <= want_n, "GREATER_THAN": got > want_n,
                "GREATER_THAN_OR_EQUAL": got >= want_n}[op]
    raise ApiError(400, "Unsupported filter")


def _fields(expr: Mapping[str, Any]) -> list[str]:
    for group in ("andGroup", "orGroup"):
        if group in expr:
            return [f for e in expr[group].get("expressions", []) for f in _fields(e)]
    if "notExpression" in expr:
        return _fields(expr["notExpression"])
    return [expr["filter"]["fieldName"]]


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class FakeGA4:
    """The fake service: data per property, recorded calls, scripted faults, quota."""

    def __init__(
        self,
        data: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *,
        time_zone: str = "America/Los_Angeles",
        delay: float = 0.0,
        tokens_per_report: int = 5,
        tokens_per_day: int = 200_000,
        tokens_per_hour: int = 40_000,
        custom_metrics: Iterable[str] = ("customEvent:signup_value",),
        record: bool = True,
    ) -> None:
        self.data = {p: list(rows) for p, rows in (data or {}).items()}
        self.time_zone = time_zone
        self.delay = delay
        self.tokens_per_report = tokens_per_report
        self.quota: dict[str, dict[str, int]] = {}
        self.start_day = tokens_per_day
        self.start_hour = tokens_per_hour
        self.custom_metrics = tuple(custom_metrics)
        self.thresholded: set[str] = set()
        self.sampled: dict[str, tuple[int, int]] = {}
        self.require_token: str | None = None
        self.issue_token = "test-token"
        self.token_requests = 0
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self.record = record
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.call_count = 0
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self._grpc: Any = None
        self.url = ""
        self.grpc_target = ""

    # -- control -------------------------------------------------------------------------
    def fail(self, status: int, message: str, *, method: str | None = None, times: int = 1,
             headers: Mapping[str, str] | None = None) -> None:
        """Answer the next ``times`` matching calls with this error."""
        self.faults.append(Fault(status, message, method, times, dict(headers or {})))

    def set_quota(self, prop: str, *, day: int | None = None, hour: int | None = None) -> None:
        """Set a property's remaining tokens."""
        q = self._q(prop)
        if day is not None:
            q["day"] = day
        if hour is not None:
            q["hour"] = hour

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method."""
        return [c for c in self.calls if c.method == method]

    def _q(self, prop: str) -> dict[str, int]:
        return self.quota.setdefault(prop, {"day": self.start_day, "hour": self.start_hour})

    # -- the API -------------------------------------------------------------------------
    def handle(self, transport: str, method: str, prop: str, path: str,
               query: dict[str, list[str]], headers: dict[str, str],
               body: dict[str, Any]) -> dict[str, Any]:
        """Answer one call (raises ApiError)."""
        with self._lock:
            self.call_count += 1
            if self.record:
                self.calls.append(Call(transport, method, prop, path, query, headers, body))
            self.in_flight[prop] = self.in_flight.get(prop, 0) + 1
            self.max_in_flight[prop] = max(self.max_in_flight.get(prop, 0), self.in_flight[prop])
        try:
            if self.delay:
                time.sleep(self.delay)
            with self._lock:
                for fault in self.faults:
                    if fault.times > 0 and fault.method in (None, method):
                        fault.times -= 1
                        raise ApiError(fault.status, fault.message, fault.headers)
            if self.require_token is not None:
                auth = headers.get("authorization", "")
                if auth != f"Bearer {self.require_token}":
                    raise ApiError(401, "Request had invalid authentication credentials.")
            if prop not in self.data:
                raise ApiError(403, "User does not have sufficient permissions for this property. "
                                    "To learn more about Property ID, see https://developers."
                                    "google.com/analytics/devguides/reporting/data/v1/property-id.")
            if method == "getMetadata":
                return self.metadata(prop)
            if method == "batchRunReports":
                requests = body.get("requests", [])
                if len(requests) > 5:
                    raise ApiError(400, "Requests must have at most 5 reports.")
                self._check_quota(prop)
                reports = [self.report(prop, r) for r in requests]  # a 400 costs no tokens
                self._charge(prop, reports, requests)
                return {"reports": reports, "kind": "analyticsData#batchRunReports"}
            self._check_quota(prop)
            report = self.report(prop, body)
            self._charge(prop, [report], [body])
            return report
        finally:
            with self._lock:
                self.in_flight[prop] -= 1

    def _check_quota(self, prop: str) -> None:
        with self._lock:
            q = self._q(prop)
            if q["day"] <= 0:
                raise ApiError(429, "Exhausted property tokens per day. These quota tokens will "
                                    "return in under 24 hours.")
            if q["hour"] <= 0:
                raise ApiError(429, "Exhausted property tokens per hour.")

    def _charge(self, prop: str, reports: list[dict[str, Any]],
                requests: list[Mapping[str, Any]]) -> None:
        """Take the tokens, then tell each report what is left (when it asked)."""
        with self._lock:
            q = self._q(prop)
            cost = self.tokens_per_report * len(reports)
            q["day"] = max(0, q["day"] - cost)
            q["hour"] = max(0, q["hour"] - cost)
            for report, req in zip(reports, requests, strict=True):
                if req.get("returnPropertyQuota"):
                    report["propertyQuota"] = self._quota_json(q)

    def _quota_json(self, q: Mapping[str, int]) -> dict[str, Any]:
        return {
            "tokensPerDay": {"consumed": self.tokens_per_report, "remaining": q["day"]},
            "tokensPerHour": {"consumed": self.tokens_per_report, "remaining": q["hour"]},
            "concurrentRequests": {"consumed": 0, "remaining": 10},
            "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
            "tokensPerProjectPerHour": {"consumed": self.tokens_per_report,
                                        "remaining": int(q["hour"] * 0.35)},
        }

    def metadata(self, prop: str) -> dict[str, Any]:
        metrics = [*COUNTS, *RATIOS]
        return {
            "name": f"properties/{prop}/metadata",
            "dimensions": [{"apiName": d, "uiName": d, "customDefinition": ":" in d}
                           for d in DIMENSIONS],
            "metrics": [{"apiName": m, "uiName": m, "customDefinition": ":" in m}
                        for m in metrics],
        }

    def report(self, prop: str, req: Mapping[str, Any]) -> dict[str, Any]:
        metric_names = [m["name"] for m in req.get("metrics", [])]
        dims = [d["name"] for d in req.get("dimensions", [])]
        known_metrics = set(COUNTS) | set(RATIOS)
        for m in metric_names:
            if m not in known_metrics:
                raise ApiError(400, f"Field {m} is not a valid metric. For a list of valid "
                                    "dimensions and metrics, see https://developers.google.com/"
                                    "analytics/devguides/reporting/data/v1/api-schema")
        flt = req.get("dimensionFilter")
        for d in [*dims, *(_fields(flt) if flt else [])]:
            if d not in DIMENSIONS:
                raise ApiError(400, f"Field {d} is not a valid dimension. For a list of valid "
                                    "dimensions and metrics, see https://developers.google.com/"
                                    "analytics/devguides/reporting/data/v1/api-schema")
        ranges = req.get("dateRanges", [])
        if len(ranges) != 1:
            raise ApiError(400, "The fake answers exactly one date range.")
        start = dt.date.fromisoformat(ranges[0]["startDate"]).strftime("%Y%m%d")
        end = dt.date.fromisoformat(ranges[0]["endDate"]).strftime("%Y%m%d")
        rows = [r for r in self.data[prop] if start <= r["date"] <= end]
        if flt:
            rows = [r for r in rows if _match(flt, r)]
        groups: dict[tuple[str, ...], dict[str, float]] = {}
        for r in rows:
            key = tuple(str(r.get(d, "(not set)")) for d in dims)
            total = groups.setdefault(key, dict.fromkeys(COUNTS, 0.0))
            for c in COUNTS:
                total[c] += float(r.get(c, 0))
        out_rows = []
        for key in sorted(groups):
            total = groups[key]
            values = []
            for m in metric_names:
                v = RATIOS[m](total) if m in RATIOS else total[m]
                values.append({"value": _fmt(v if v is not None else 0.0)})
            out_rows.append({"dimensionValues": [{"value": k} for k in key],
                             "metricValues": values})
        offset = int(req.get("offset") or 0)
        limit = int(req.get("limit") or 0) or 10_000  # 0 / absent: the API default
        page = out_rows[offset : offset + limit]
        meta: dict[str, Any] = {"currencyCode": "USD", "timeZone": self.time_zone}
        if prop in self.thresholded:
            meta["subjectToThresholding"] = True
        if prop in self.sampled:
            read, space = self.sampled[prop]
            meta["samplingMetadatas"] = [{"samplesReadCount": str(read),
                                          "samplingSpaceSize": str(space)}]
        resp: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in dims],
            "metricHeaders": [{"name": m, "type": COUNTS.get(m, 2)} for m in metric_names],
            "metadata": meta,
            "kind": "analyticsData#runReport",
        }
        if page:
            resp["rows"] = page
        if out_rows:
            resp["rowCount"] = len(out_rows)
        return resp

    # -- REST server ---------------------------------------------------------------------
    def start(self) -> str:
        """Serve REST on 127.0.0.1 (free port); returns the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY, Nagle holds the body
            # back until the client's delayed ACK, ~40 ms on every kept-alive answer
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, method: str, prop: str, body: dict[str, Any]) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, payload, extra = 200, fake.handle(
                        "rest", method, prop, parts.path, parse_qs(parts.query), headers, body
                    ), {}
                except ApiError as err:
                    status, payload, extra = err.status, err.envelope(), err.headers
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if urlsplit(self.path).path == "/token":  # OAuth token endpoint for credentials
                    fake.token_requests += 1
                    data = json.dumps({"access_token": fake.issue_token, "expires_in": 3600,
                                       "token_type": "Bearer"}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                body = json.loads(raw or b"{}")
                m = re.fullmatch(r"/v1beta/properties/(\d+):(runReport|batchRunReports)",
                                 urlsplit(self.path).path)
                if not m:
                    self.send_error(404)
                    return
                self._answer(m.group(2), m.group(1), body)

            def do_GET(self) -> None:
                m = re.fullmatch(r"/v1beta/properties/(\d+)/metadata", urlsplit(self.path).path)
                if not m:
                    self.send_error(404)
                    return
                self._answer("getMetadata", m.group(1), {})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._http = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        return self.url

    # -- gRPC server ---------------------------------------------------------------------
    def start_grpc(self) -> str:
        """Serve gRPC on 127.0.0.1 (free port); returns ``host:port``."""
        import grpc  # type: ignore[import-untyped]  # grpcio ships no stubs
        from google.analytics.data_v1beta import types as t

        fake = self
        codes = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
                 403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.NOT_FOUND,
                 429: grpc.StatusCode.RESOURCE_EXHAUSTED, 500: grpc.StatusCode.INTERNAL,
                 503: grpc.StatusCode.UNAVAILABLE}

        def unary(method: str, req_type: Any, resp_type: Any) -> Any:
            def fn(request: Any, context: Any) -> Any:
                body = json.loads(req_type.to_json(request, use_integers_for_enums=True))
                name = body.pop("property", "") or body.pop("name", "")
                prop = re.sub(r"\D", "", name.split("/")[1]) if "/" in name else ""
                headers = dict(context.invocation_metadata())
                try:
                    payload = fake.handle("grpc", method, prop, method, {}, headers, body)
                except ApiError as err:
                    context.abort(codes.get(err.status, grpc.StatusCode.UNKNOWN), err.message)
                return resp_type.from_json(json.dumps(payload), ignore_unknown_fields=True)

            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req_type.deserialize,
                response_serializer=resp_type.serialize)

        handler = grpc.method_handlers_generic_handler(
            "google.analytics.data.v1beta.BetaAnalyticsData",
            {
                "RunReport": unary("runReport", t.RunReportRequest, t.RunReportResponse),
                "BatchRunReports": unary("batchRunReports", t.BatchRunReportsRequest,
                                         t.BatchRunReportsResponse),
                "GetMetadata": unary("getMetadata", t.GetMetadataRequest, t.Metadata),
            },
        )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._grpc = server
        self.grpc_target = f"127.0.0.1:{port}"
        return self.grpc_target

    def stop(self) -> None:
        """Stop both servers."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(None)
