"""The salesforce source against a local fake of the REST query API and token endpoint."""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any

import pytest
from okrcore_salesforce import SalesforceSource, __version__
from okrcore_salesforce.soql import bind, literal, placeholders
from salesforce_fake import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, VERSION, FakeSalesforce

from okrcore.errors import SourceError
from okrcore.model import Connection, Cycle, KeyResult
from okrcore.plugins import PluginManager
from okrcore.sources import Failure, FailureKind, FetchRequest, Reading
from okrcore.testing import closed_port

CYCLE = Cycle("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
END = dt.date(2026, 2, 15)
WON_SUM = ("SELECT SUM(Amount) FROM Opportunity WHERE StageName = :stage "
           "AND CloseDate >= :start AND CloseDate <= :end")
WON_SUM_BOUND = ("SELECT SUM(Amount) FROM Opportunity WHERE StageName = 'Closed Won' "
                 "AND CloseDate >= 2026-01-01 AND CloseDate <= 2026-02-15")


def source(fake: FakeSalesforce, **settings: Any) -> SalesforceSource:
    conf = {"instance_url": "https://acme.my.salesforce.com", "api_version": VERSION,
            "access_token": "env:SF_TEST_TOKEN", **settings}
    return SalesforceSource(Connection("sf", "salesforce", conf, endpoint=fake.url))


def oauth(fake: FakeSalesforce, flow: str) -> SalesforceSource:
    conf: dict[str, Any] = {"api_version": VERSION, "auth": flow, "client_id": CLIENT_ID,
                            "login_url": fake.url}
    if flow == "client_credentials":
        conf["client_secret"] = "env:SF_TEST_SECRET"
    else:
        conf["refresh_token"] = "env:SF_TEST_REFRESH"
    # no endpoint and no instance_url: API calls go to the instance the token endpoint names
    return SalesforceSource(Connection("sf", "salesforce", conf))


def request(query: dict[str, Any], *, measure: str = "cumulative", series: bool = False,
            start: dt.date = CYCLE.start, end: dt.date = END) -> FetchRequest:
    kr = KeyResult("revenue", "Sales", measure=measure, baseline=0, target=5_000_000)
    return FetchRequest(kr, query, Connection("sf", "salesforce", {}), CYCLE, start, end, end,
                        series=series)


def one(src: SalesforceSource, req: FetchRequest) -> Reading | Failure:
    (result,) = list(src.fetch([req]))
    return result


def reading(result: Reading | Failure) -> Reading:
    assert isinstance(result, Reading), result
    return result


def failure(result: Reading | Failure) -> Failure:
    assert isinstance(result, Failure), result
    return result


# -- literals and placeholders ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Closed Won", "'Closed Won'"),
        ("O'Brien", r"'O\'Brien'"),
        ("x' OR Name != '", r"'x\' OR Name != \''"),
        ("back\\slash", r"'back\\slash'"),
        ("two\nlines\t\"q\"", r"'two\nlines\t\"q\"'"),
        (dt.date(2026, 1, 31), "2026-01-31"),
        (dt.datetime(2026, 1, 31, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
         "2026-01-31T06:30:00Z"),
        (True, "true"),
        (None, "null"),
        (1500, "1500"),
        (0.25, "0.25"),
        (["a", "b'c"], r"('a', 'b\'c')"),
    ],
)
def test_literals_are_quoted_and_escaped(value: Any, text: str) -> None:
    assert literal(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, [], {"a": 1}])
def test_unbindable_values_are_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        literal(value)


def test_placeholders_outside_strings_only() -> None:
    soql = ("SELECT COUNT() FROM Lead WHERE Note__c = 'at :start' AND CreatedDate > "
            "2026-01-01T00:00:00Z AND CreatedDate = LAST_N_DAYS:30 AND Status IN :states")
    assert placeholders(soql) == ["states"]
    assert bind(soql, {"states": ["Open", "New"]}).endswith("Status IN ('Open', 'New')")
    assert "'at :start'" in bind(soql, {"states": ["x"]})


def test_an_injection_attempt_stays_a_string() -> None:
    bound = bind("SELECT COUNT() FROM Account WHERE Name = :name", {"name": "x' OR Id != '"})
    assert bound == r"SELECT COUNT() FROM Account WHERE Name = 'x\' OR Id != \''"


# -- queries on the wire -------------------------------------------------------------------------


def test_aggregate_expr0_with_exact_wire_request(fake: FakeSalesforce) -> None:
    fake.aggregate(WON_SUM_BOUND, {"expr0": 123456.5})
    got = reading(one(source(fake), request({"soql": WON_SUM, "params": {"stage": "Closed Won"}})))
    assert got.points == ((END, 123456.5),)
    (call,) = fake.calls
    assert call.method == "GET"
    assert call.path == f"/services/data/v{VERSION}/query"
    assert call.soql == WON_SUM_BOUND
    assert call.headers["authorization"] == "Bearer 00Dstatic!token"
    assert call.headers["user-agent"] == f"okrcore-salesforce/{__version__}"
    assert got.info == {"requests": 1, "api_usage": "1/15000", "api_used": 1, "api_limit": 15000}


def test_alias_column_is_found(fake: FakeSalesforce) -> None:
    soql = "SELECT AVG(Amount) aov FROM Opportunity WHERE IsWon = true"
    fake.aggregate(soql, {"aov": 812.25})
    assert reading(one(source(fake), request({"soql": soql}))).points[0][1] == 812.25


def test_sum_of_nothing_is_zero_but_avg_of_nothing_fails(fake: FakeSalesforce) -> None:
    fake.aggregate("SELECT SUM(Amount) FROM Opportunity", {"expr0": None})
    fake.aggregate("SELECT AVG(Amount) FROM Opportunity", {"expr0": None})
    src = source(fake)
    assert reading(one(src, request({"soql": "SELECT SUM(Amount) FROM Opportunity"}))
                   ).points[0][1] == 0.0
    got = failure(one(src, request({"soql": "SELECT AVG(Amount) FROM Opportunity"})))
    assert got.kind is FailureKind.PERMANENT
    assert "no value for expr0" in got.message


def test_count_uses_total_size(fake: FakeSalesforce) -> None:
    soql = "SELECT COUNT() FROM Account WHERE Type = 'Customer' AND CreatedDate >= :start_time"
    fake.count("SELECT COUNT() FROM Account WHERE Type = 'Customer' AND CreatedDate >= "
               "2026-01-01T00:00:00Z", 4321)
    assert reading(one(source(fake), request({"soql": soql}))).points[0][1] == 4321


@pytest.mark.parametrize(("aggregate", "want"), [
    ("sum", sum(range(1, 8)) * 100.0), ("avg", 400.0), ("max", 700.0), ("min", 100.0),
    ("count", 8.0),
])
def test_rows_over_several_pages_are_combined(
    fake: FakeSalesforce, aggregate: str, want: float
) -> None:
    soql = "SELECT Id, Amount FROM Opportunity WHERE IsWon = true"
    fake.rows(soql, [{"Id": f"006{i}", "Amount": i * 100.0} for i in range(1, 8)]
              + [{"Id": "006x", "Amount": None}])
    fake.batch = 3
    got = reading(one(source(fake), request({"soql": soql, "value": "Amount",
                                             "aggregate": aggregate})))
    assert got.points[0][1] == want
    paths = [c.path for c in fake.calls]
    assert len(paths) == 3
    assert paths[1].startswith(f"/services/data/v{VERSION}/query/01gFAKE")
    assert paths[1].endswith("-3")
    assert paths[2].endswith("-6")


def test_relationship_columns(fake: FakeSalesforce) -> None:
    soql = "SELECT Account.AnnualRevenue FROM Opportunity"
    fake.rows(soql, [{"Account": {"attributes": {"type": "Account"}, "AnnualRevenue": 10.0}},
                     {"Account": {"attributes": {"type": "Account"}, "AnnualRevenue": 5.5}}])
    got = one(source(fake), request({"soql": soql, "value": "Account.AnnualRevenue"}))
    assert reading(got).points[0][1] == 15.5


def test_ambiguous_columns_ask_for_value(fake: FakeSalesforce) -> None:
    soql = "SELECT Id, Amount FROM Opportunity"
    fake.rows(soql, [{"Id": "1", "Amount": 1.0}, {"Id": "2", "Amount": 2.0}])
    got = failure(one(source(fake), request({"soql": soql})))
    assert got.kind is FailureKind.PERMANENT
    assert "columns Id, Amount" in got.message


def test_non_numeric_column_is_permanent(fake: FakeSalesforce) -> None:
    soql = "SELECT MAX(StageName) FROM Opportunity"
    fake.aggregate(soql, {"expr0": "Prospecting"})
    got = failure(one(source(fake), request({"soql": soql})))
    assert got.kind is FailureKind.PERMANENT
    assert "'expr0' is 'Prospecting', not a number" in got.message


def test_structured_cumulative_sum(fake: FakeSalesforce) -> None:
    fake.aggregate("SELECT SUM(Amount) value FROM Opportunity WHERE (IsWon = true) "
                   "AND CloseDate >= 2026-01-01 AND CloseDate <= 2026-02-15", {"value": 99.0})
    query = {"object": "Opportunity", "where": "IsWon = true", "aggregate": "sum",
             "field": "Amount", "date_field": "CloseDate"}
    assert reading(one(source(fake), request(query))).points == ((END, 99.0),)


def test_structured_gauge_count_on_a_datetime_field(fake: FakeSalesforce) -> None:
    fake.count("SELECT COUNT() FROM Account WHERE (Type = 'Customer') "
               "AND CreatedDate < 2026-02-16T00:00:00Z", 1200)
    query = {"object": "Account", "where": "Type = :type", "params": {"type": "Customer"},
             "date_field": "CreatedDate", "date_field_type": "datetime"}
    got = reading(one(source(fake), request(query, measure="gauge")))
    assert got.points == ((END, 1200.0),)


def test_structured_cumulative_series_is_one_query_grouped_by_day(fake: FakeSalesforce) -> None:
    soql = ("SELECT CloseDate day, SUM(Amount) value FROM Opportunity WHERE (IsWon = true) "
            "AND CloseDate >= 2026-01-01 AND CloseDate <= 2026-01-04 GROUP BY CloseDate")
    fake.rows(soql, [{"day": "2026-01-01", "value": 10.0}, {"day": "2026-01-03", "value": 30.5}],
              sobject="AggregateResult")
    query = {"object": "Opportunity", "where": "IsWon = true", "aggregate": "sum",
             "field": "Amount", "date_field": "CloseDate"}
    got = reading(one(source(fake), request(query, series=True, end=dt.date(2026, 1, 4))))
    assert got.points == ((dt.date(2026, 1, 1), 10.0), (dt.date(2026, 1, 2), 0.0),
                          (dt.date(2026, 1, 3), 30.5), (dt.date(2026, 1, 4), 0.0))
    assert [c.soql for c in fake.calls] == [soql]


def test_grouped_series_on_a_datetime_field_skips_days_without_an_average(
    fake: FakeSalesforce
) -> None:
    soql = ("SELECT DAY_ONLY(CreatedDate) day, AVG(Amount) value FROM Opportunity "
            "WHERE CreatedDate >= 2026-01-01T00:00:00Z AND CreatedDate < 2026-01-03T00:00:00Z "
            "GROUP BY DAY_ONLY(CreatedDate)")
    fake.rows(soql, [{"day": "2026-01-02", "value": 250.0}], sobject="AggregateResult")
    query = {"object": "Opportunity", "aggregate": "avg", "field": "Amount",
             "date_field": "CreatedDate", "date_field_type": "datetime"}
    got = reading(one(source(fake), request(query, series=True, end=dt.date(2026, 1, 2))))
    assert got.points == ((dt.date(2026, 1, 2), 250.0),)


def test_soql_series_runs_one_query_per_day(fake: FakeSalesforce) -> None:
    template = ("SELECT AVG(Amount) FROM Opportunity WHERE IsWon = true "
                "AND CloseDate >= {d} AND CloseDate <= {d}")
    for day, amount in ((1, 10.0), (2, None), (3, 30.0)):
        fake.aggregate(template.format(d=f"2026-01-0{day}"), {"expr0": amount})
    query = {"soql": "SELECT AVG(Amount) FROM Opportunity WHERE IsWon = true "
                     "AND CloseDate >= :start AND CloseDate <= :end"}
    got = reading(one(source(fake), request(query, series=True, end=dt.date(2026, 1, 3))))
    # the day with no deals has no average: no point rather than a zero
    assert got.points == ((dt.date(2026, 1, 1), 10.0), (dt.date(2026, 1, 3), 30.0))
    assert got.info["requests"] == 3


def test_gauge_series_ends_each_window_on_its_day(fake: FakeSalesforce) -> None:
    template = ("SELECT COUNT() FROM Account WHERE (Type = 'Customer') "
                "AND CreatedDate < 2026-01-0{d}T00:00:00Z")
    fake.count(template.format(d=2), 100)
    fake.count(template.format(d=3), 104)
    query = {"object": "Account", "where": "Type = 'Customer'", "date_field": "CreatedDate",
             "date_field_type": "datetime"}
    got = reading(one(source(fake), request(query, measure="gauge", series=True,
                                            end=dt.date(2026, 1, 2))))
    assert got.points == ((dt.date(2026, 1, 1), 100.0), (dt.date(2026, 1, 2), 104.0))


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (400, [{"message": "unexpected token: 'FORM'", "errorCode": "MALFORMED_QUERY"}],
         FailureKind.PERMANENT, "Salesforce 400 MALFORMED_QUERY: unexpected token: 'FORM'"),
        (400, [{"message": "No such column 'Amout' on entity 'Opportunity'",
                "errorCode": "INVALID_FIELD"}],
         FailureKind.PERMANENT, "INVALID_FIELD: No such column 'Amout'"),
        (403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
         FailureKind.QUOTA, "24-hour rolling org limit"),
        (403, [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
         FailureKind.TRANSIENT, "ConcurrentPerOrgLongTxn"),
        (403, [{"message": "insufficient access rights on object id",
                "errorCode": "INSUFFICIENT_ACCESS"}],
         FailureKind.AUTH, "INSUFFICIENT_ACCESS"),
        (503, [{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}],
         FailureKind.TRANSIENT, "SERVER_UNAVAILABLE"),
        (200, "<html>maintenance</html>", FailureKind.TRANSIENT, "not JSON"),
    ],
)
def test_errors_are_classified(
    fake: FakeSalesforce, status: int, body: Any, kind: FailureKind, words: str
) -> None:
    fake.answer(status, body)
    got = failure(one(source(fake), request({"soql": "SELECT COUNT() FROM Lead"})))
    assert got.kind is kind
    assert words in got.message


def test_static_token_refused_is_auth_without_refresh(
    fake: FakeSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SF_TEST_TOKEN", "00Dexpired")
    got = failure(one(source(fake), request({"soql": "SELECT COUNT() FROM Lead"})))
    assert got.kind is FailureKind.AUTH
    assert "INVALID_SESSION_ID" in got.message
    assert fake.token_calls() == []
    assert "00Dexpired" not in got.message


def test_unreachable_instance_is_transient() -> None:
    src = SalesforceSource(Connection("sf", "salesforce", {"access_token": "env:SF_TEST_TOKEN"},
                                      endpoint="http://127.0.0.1:9"))
    assert failure(one(src, request({"soql": "SELECT COUNT() FROM Lead"}))).kind is (
        FailureKind.TRANSIENT)


# -- OAuth ---------------------------------------------------------------------------------------


def test_client_credentials_token_is_fetched_once_and_cached(fake: FakeSalesforce) -> None:
    fake.count("SELECT COUNT() FROM Lead", 7)
    src = oauth(fake, "client_credentials")
    for _ in range(2):
        assert reading(one(src, request({"soql": "SELECT COUNT() FROM Lead"}))).points[0][1] == 7
    (token,) = fake.token_calls()
    assert token.method == "POST"
    assert token.form == {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                          "client_secret": CLIENT_SECRET}
    assert [c.headers["authorization"] for c in fake.queries()] == ["Bearer 00Dissued!1"] * 2


def test_expired_session_is_refreshed_once(fake: FakeSalesforce) -> None:
    fake.count("SELECT COUNT() FROM Lead", 7)
    src = oauth(fake, "refresh_token")
    assert reading(one(src, request({"soql": "SELECT COUNT() FROM Lead"}))).points[0][1] == 7
    fake.valid_tokens.discard("00Dissued!1")  # the session expires
    assert reading(one(src, request({"soql": "SELECT COUNT() FROM Lead"}))).points[0][1] == 7
    assert [c.form["grant_type"] for c in fake.token_calls()] == ["refresh_token"] * 2
    assert fake.token_calls()[0].form["refresh_token"] == REFRESH_TOKEN
    assert [c.headers["authorization"] for c in fake.queries()] == [
        "Bearer 00Dissued!1", "Bearer 00Dissued!1", "Bearer 00Dissued!2"]


def test_a_refreshed_session_refused_again_is_auth(fake: FakeSalesforce) -> None:
    fake.count("SELECT COUNT() FROM Lead", 7)
    src = oauth(fake, "refresh_token")
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    fake.answer(401, expired)
    fake.answer(401, expired)
    got = failure(one(src, request({"soql": "SELECT COUNT() FROM Lead"})))
    assert got.kind is FailureKind.AUTH
    assert len(fake.token_calls()) == 2
    assert len(fake.queries()) == 2


def test_token_endpoint_refusal_is_auth(
    fake: FakeSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SF_TEST_REFRESH", "5Aep-revoked")
    got = failure(one(oauth(fake, "refresh_token"), request({"soql": "SELECT COUNT() FROM Lead"})))
    assert got.kind is FailureKind.AUTH
    assert "invalid_grant: expired access/refresh token" in got.message
    assert "5Aep-revoked" not in got.message
    assert fake.queries() == []


# -- validation ----------------------------------------------------------------------------------


def kr() -> KeyResult:
    return KeyResult("k", "t", baseline=0, target=1)


def messages(query: dict[str, Any]) -> list[str]:
    return [f"{p.field}: {p.message}" for p in SalesforceSource.validate_query(query, kr())]


def test_query_validation() -> None:
    assert messages({"soql": WON_SUM, "params": {"stage": "Closed Won"}}) == []
    assert messages({"soql": WON_SUM}) == [
        "soql: placeholder :stage has no value (built-ins: :start, :end, :as_of, :cycle_start, "
        ":cycle_end, :start_time, :end_time; others come from params)"]
    assert messages({"soql": "DELETE FROM Lead"}) == ["soql: soql must be a SELECT statement"]
    assert messages({"soql": WON_SUM, "params": {"stage": "x", "end": "y"}}) == [
        "params: 'end' is a built-in placeholder"]
    assert messages({"object": "Opportunity", "aggregate": "sum"}) == [
        "field: aggregate sum needs a field"]
    assert messages({"object": "Opportunity", "field": "Amount; DROP"}) == []  # count: no field
    assert messages({"object": "Opportunity", "aggregate": "avg", "field": "Amount; DROP"}) == [
        "field: aggregate avg needs a field"]
    assert messages({"where": "x = 1"}) == [
        ": give soql, or the structured form with object (e.g. Opportunity)"]


def test_a_cumulative_key_result_must_be_bounded_by_day() -> None:
    cumulative = KeyResult("k", "t", measure="cumulative", baseline=0, target=1)

    def fields(query: dict[str, Any]) -> list[str]:
        return [p.field for p in SalesforceSource.validate_query(query, cumulative)]

    assert fields({"soql": WON_SUM, "params": {"stage": "x"}}) == []
    assert fields({"soql": "SELECT SUM(Amount) FROM Opportunity WHERE CloseDate = THIS_QUARTER"}
                  ) == ["soql"]
    assert fields({"soql": "SELECT COUNT() FROM Lead WHERE CreatedDate >= :start_time "
                           "AND CreatedDate < :end_time"}) == []
    assert fields({"object": "Opportunity"}) == ["date_field"]
    assert fields({"object": "Opportunity", "date_field": "CloseDate"}) == []


def test_connection_validation() -> None:
    problems = SalesforceSource.validate_connection(Connection("sf", "salesforce", {
        "instance_url": "https://acme.my.salesforce.com", "api_version": "62",
        "auth": "client_credentials", "client_id": "abc", "client_secret": "inline-secret"}))
    assert [p.field for p in problems] == ["api_version", "client_secret"]
    assert SalesforceSource.validate_connection(Connection("sf", "salesforce", {
        "instance_url": "https://x", "auth": "refresh_token", "client_id": "a"}))[0].field == (
        "refresh_token")
    # an OAuth flow may learn the instance from the token endpoint; a bare token may not
    assert SalesforceSource.validate_connection(Connection("sf", "salesforce", {
        "login_url": "https://login.salesforce.com", "auth": "refresh_token", "client_id": "a",
        "refresh_token": "env:R"})) == []
    assert [p.field for p in SalesforceSource.validate_connection(Connection(
        "sf", "salesforce", {"access_token": "env:T"}))] == ["instance_url"]


def test_check_online_explains_each_query_without_running_it(fake: FakeSalesforce) -> None:
    fake.count("SELECT COUNT() FROM Lead", 1)
    queries = [(kr(), {"soql": "SELECT COUNT() FROM Lead"}),
               (KeyResult("bad", "t", baseline=0, target=1),
                {"soql": "SELECT SUM(Amout) FROM Opportunity"})]
    problems = source(fake).check_online(queries)
    assert [(k, p.field, p.message) for k, p in problems] == [
        ("bad", "soql", "Salesforce 400 INVALID_FIELD: No such column 'Amout' on entity "
         "'Opportunity'")]
    assert [c.query["explain"] for c in fake.calls] == [
        ["SELECT COUNT() FROM Lead"], ["SELECT SUM(Amout) FROM Opportunity"]]


def test_check_online_with_a_refused_token_raises(
    fake: FakeSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SF_TEST_TOKEN", "00Dexpired")
    with pytest.raises(SourceError, match="INVALID_SESSION_ID"):
        source(fake).check_online([(kr(), {"soql": "SELECT COUNT() FROM Lead"})])


def test_plugin_registers_through_its_entry_point() -> None:
    assert PluginManager().sources.get("salesforce") is SalesforceSource


def test_queries_refused_the_same_expired_session_renew_it_once(fake: FakeSalesforce) -> None:
    fake.count("SELECT COUNT() FROM Lead", 7)
    src = oauth(fake, "client_credentials")
    assert reading(one(src, request({"soql": "SELECT COUNT() FROM Lead"}))).points[0][1] == 7
    fake.valid_tokens.discard("00Dissued!1")  # the session expires under eight queries
    results: list[Reading | Failure] = []
    threads = [threading.Thread(target=lambda: results.append(
        one(src, request({"soql": "SELECT COUNT() FROM Lead"})))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [reading(r).points[0][1] for r in results] == [7] * 8
    assert len(fake.token_calls()) == 2  # the first token, and one renewal for all eight


def test_the_connections_endpoint_wins_over_the_instance_the_token_names(
    fake: FakeSalesforce
) -> None:
    fake.count("SELECT COUNT() FROM Lead", 7)
    here = fake.url
    fake.url = closed_port()  # the token answer names an instance that is down
    conf = {"api_version": VERSION, "auth": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": "env:SF_TEST_SECRET"}
    src = SalesforceSource(Connection("sf", "salesforce", conf, endpoint=here))
    assert reading(one(src, request({"soql": "SELECT COUNT() FROM Lead"}))).points[0][1] == 7
    assert len(fake.queries()) == 1


@pytest.mark.parametrize(("flow", "queries", "tokens"), [
    ("token", 1, 0),  # refused once: final
    ("refresh_token", 2, 2),  # refused, renewed, refused again: final
])
def test_after_an_auth_failure_no_query_of_the_connection_is_sent(
    fake: FakeSalesforce, flow: str, queries: int, tokens: int
) -> None:
    for _ in range(2):
        fake.answer(401, [{"message": "Session expired or invalid",
                           "errorCode": "INVALID_SESSION_ID"}])
    src = source(fake) if flow == "token" else oauth(fake, flow)
    first, second = (failure(one(src, request({"soql": soql})))
                     for soql in ("SELECT COUNT() FROM Lead", "SELECT COUNT() FROM Account"))
    assert (first.kind, second.kind) == (FailureKind.AUTH, FailureKind.AUTH)
    assert second.message == f"not sent: {first.message}"
    assert (len(fake.queries()), len(fake.token_calls())) == (queries, tokens)


def test_a_concurrent_request_limit_passes_its_retry_after_on(fake: FakeSalesforce) -> None:
    fake.answer(403, [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                       "errorCode": "REQUEST_LIMIT_EXCEEDED"}], {"Retry-After": "3"})
    got = failure(one(source(fake), request({"soql": "SELECT COUNT() FROM Lead"})))
    assert (got.kind, got.retry_after) == (FailureKind.TRANSIENT, 3.0)


@pytest.mark.parametrize(("status", "body", "kind", "message"), [
    (503, {"error": "unavailable", "error_description": "maintenance"}, FailureKind.TRANSIENT,
     "Salesforce token endpoint 503 unavailable: maintenance (auth client_credentials)"),
    (200, {"token_type": "Bearer"}, FailureKind.AUTH,
     "Salesforce token endpoint 200 OK: no description (auth client_credentials)"),
])
def test_token_endpoint_failures_are_classified(
    fake: FakeSalesforce, status: int, body: Any, kind: FailureKind, message: str
) -> None:
    fake.token_answer(status, body)
    got = failure(one(oauth(fake, "client_credentials"),
                      request({"soql": "SELECT COUNT() FROM Lead"})))
    assert (got.kind, got.message) == (kind, message)
    assert fake.queries() == []


def test_pacing_settings_are_checked() -> None:
    problems = SalesforceSource.validate_connection(Connection("sf", "salesforce", {
        "instance_url": "https://x", "access_token": "env:T", "requests_per_second": 0,
        "concurrency": -1}))
    assert [p.field for p in problems] == ["requests_per_second", "concurrency"]
