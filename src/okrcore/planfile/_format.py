"""The plan format as a table of field specs: the loader validates with :data:`PLAN_SPEC` and
:func:`plan_schema` publishes it as JSON Schema, so the two cannot drift."""

from __future__ import annotations

from typing import Any

from ._spec import (
    ID,
    AnyOf,
    Boolean,
    Choice,
    Const,
    Date,
    Field,
    FreeMap,
    Ids,
    Integer,
    ListOf,
    MapOf,
    Number,
    Obj,
    Target,
    Text,
)

VERSION = 1
"""The plan format version this okrcore reads and writes (the ``okrcore:`` key)."""

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}
"""File extension -> format name."""

DOTTED = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"

TEXT = Text()
OWNER = Text(what="an owner (an id of the owners section, or text)")
EMAIL = Text(pattern=r"^[^@\s]+@[^@\s]+$", what="an email address (name@domain)")
WEIGHT = Number(minimum=0)
MONEY = Number(minimum=0)

KINDS = ("increase", "decrease", "maintain_above", "maintain_below", "milestone", "count")
MEASURES = ("gauge", "cumulative")
CADENCES = ("daily", "weekly", "monthly")
LEVELS = ("company", "team", "project", "individual")

CYCLE = Obj(
    "cycle",
    (
        Field("id", ID, True, "Cycle id, referenced by objectives' `cycle`."),
        Field("title", TEXT),
        Field("start", Date(), True, "First day (inclusive)."),
        Field("end", Date(), True, "Last day (inclusive)."),
    ),
    doc="A time box: a quarter, a year or custom dates.",
)

OWNER_ENTRY = Obj(
    "owner",
    (
        Field("id", ID, True, "Owner id, referenced by the `owner` of goals, objectives, key "
              "results, strategies and initiatives."),
        Field("name", TEXT, doc="Name shown in reports (default: the id)."),
        Field("external", Boolean(), doc="An outside firm (agency, PR firm); default false."),
        Field("notify", ID, doc="Name of a channel of the plan's `notify` section."),
        Field("email", EMAIL, doc="Email address."),
    ),
    doc="A person, a team or an outside firm that owns parts of the plan, and how to reach it.",
)

GOAL = Obj(
    "goal",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("owner", OWNER),
        Field("description", TEXT),
    ),
    doc="A broad, long-term outcome, measured through the objectives aligned to it.",
)

SOURCE = Obj(
    "source",
    (Field("connection", ID, True, "Name of an entry of the plan's `connections`."),),
    extra=True,
    doc="Where the key result's actual comes from; other keys are the plugin's query.",
)

TRACKS = Obj(
    "tracks",
    (Field("connection", ID, True, "Name of an entry of the plan's `connections`."),),
    extra=True,
    doc="The task, card, page or issue in a work tracker whose state the initiative's status "
        "follows (okrcore.follow_initiatives); other keys name the item, e.g. `issue: MKT-12`.",
)

KEY_RESULT = Obj(
    "key_result",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("kind", Choice(KINDS), doc="How progress is measured (default increase)."),
        Field("measure", Choice(MEASURES), doc="gauge: latest level; cumulative: sum of amounts."),
        Field("unit", Text(min_length=0)),
        Field("metric", TEXT, doc="Name of the measured metric."),
        Field("baseline", Number(), doc="Value at the start."),
        Field("target", Target(), doc='A number, or relative to the baseline: "+20%", "-10%".'),
        Field("floor", Target(), doc="Committed minimum (same forms as target)."),
        Field("stretch", Target(), doc="Aspirational value graded 1.0 (same forms as target)."),
        Field("weight", WEIGHT, doc="Weight in the objective's score (default 1)."),
        Field("owner", OWNER),
        Field("deadline", Date(), doc="Defaults to the cycle's end."),
        Field("cadence", Choice(CADENCES), doc="How often it is checked in."),
        Field("tolerance", Number(minimum=0), doc="Linear fall-off beyond a maintain bound."),
        Field("depends_on", Ids(), doc="Ids of key results this one depends on."),
        Field("committed", Boolean(), doc="Committed (1.0 expected) or aspirational (0.7)."),
        Field(
            "progress_from",
            Choice(("initiatives",)),
            doc="A milestone's progress: the share of its initiatives done.",
        ),
        Field(
            "rollup",
            Choice(("sum",)),
            doc="sum: the actual is the sum of its parts' actuals (sum_of, else the key result "
            "in its unit of each child objective).",
        ),
        Field("sum_of", Ids(), doc="Ids of the key results a rollup: sum adds up."),
        Field("source", SOURCE),
    ),
    doc="A measurable, time-bound result that shows progress on an objective.",
)

INITIATIVE_STATUSES = ("planned", "doing", "done", "dropped")

INITIATIVE = Obj(
    "initiative",
    (
        Field("id", ID, True, "Initiative id, unique in the plan."),
        Field("title", TEXT, True),
        Field("owner", OWNER, doc="Defaults to the strategy's owner, then the objective's."),
        Field("due", Date(), doc="When it should be done; open after it means overdue."),
        Field("status", Choice(INITIATIVE_STATUSES), doc="Default planned."),
        Field("budget", MONEY),
        Field("key_results", Ids(), doc="Ids of the key results it is meant to move."),
        Field("blocked", TEXT, doc="What blocks it (absent: nothing)."),
        Field("tracks", TRACKS),
    ),
    doc="A concrete action of a strategy.",
)

STRATEGY = Obj(
    "strategy",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("owner", OWNER),
        Field("budget", MONEY),
        Field("resources", Ids(), doc="People, teams or tools assigned."),
        Field("status", TEXT, doc="Default active."),
        Field("depends_on", Ids(), doc="Ids of strategies or key results it depends on."),
        Field("initiatives", ListOf(INITIATIVE), doc="The concrete actions of the strategy."),
    ),
    doc="How an owner pursues an objective.",
)

ALIGNMENT = Obj(
    "alignment",
    (
        Field("id", ID, True, "Id of a parent objective."),
        Field("weight", WEIGHT, doc="Weight of this alignment in that parent's rollup (default 1)"),
    ),
    doc="One of several parent objectives an objective aligns to.",
)

OBJECTIVE = Obj(
    "objective",
    (
        Field("id", ID, True),
        Field("title", TEXT, True),
        Field("owner", OWNER),
        Field("level", Choice(LEVELS), doc="Default team."),
        Field("cycle", ID, True, "Id of a cycle."),
        Field("goal", ID, doc="Id of the goal it aligns to."),
        Field("parent", ID, doc="Id of the parent objective it aligns to."),
        Field("weight", WEIGHT, doc="Weight of this alignment in the parent's rollup."),
        Field(
            "parents",
            ListOf(ALIGNMENT),
            doc="Several parent objectives, each with its weight (instead of parent).",
        ),
        Field("budget", MONEY),
        Field(
            "rollup",
            Choice(("sum",)),
            doc="sum: every key result of the objective is a sum of its parts.",
        ),
        Field("key_results", ListOf(KEY_RESULT)),
        Field("strategies", ListOf(STRATEGY)),
    ),
    doc="A specific, inspiring outcome for one cycle and one owner.",
    at_most_one=("parent", "parents"),
)

CONNECTION = Obj(
    "connection",
    (
        Field("plugin", ID, True, "Name of the source plugin (file, http, ga4...)."),
        Field("endpoint", TEXT, doc="Base URL override (proxies, test servers)."),
    ),
    extra=True,
    doc="A named connection; other keys are plugin settings (secrets as env:NAME references).",
)

# okrcore.events.EventKind values and GROUPS (tests/test_events.py keeps them equal)
EVENT_NAMES = (
    "achievements", "alerts", "all",
    "target_reached", "stretch_reached", "turned_red", "recovered", "went_stale",
    "initiative_overdue", "kpi_off_target", "kpi_recovered",
)
EVENT_NAME = Choice(EVENT_NAMES)

NOTIFY_CHANNEL = Obj(
    "notify_channel",
    (
        Field("plugin", ID, True, "Name of the notifier plugin (slack, teams, email...)."),
        Field(
            "events",
            AnyOf((EVENT_NAME, ListOf(EVENT_NAME)), "an event kind or group, or a list of them"),
            doc="Events to post on this channel: kinds or groups (achievements, alerts, all).",
        ),
    ),
    extra=True,
    doc="A notification channel; other keys are the notifier's settings.",
)

REMINDERS = Obj(
    "reminders",
    (
        Field("every", Choice(CADENCES), doc="How often an owner may be reminded: `daily`, "
              "`weekly` (ISO weeks; the default) or `monthly`."),
        Field("escalate_after", Integer(minimum=0), doc="Periods of its cadence without a "
              "check-in after which a key result is escalated to its objective's owner "
              "(default 2; 0: never)."),
        Field("email_channel", ID, doc="The `notify` channel that mails owners who have an "
              "`email` but no `notify` channel (default: the plan's only `email` channel)."),
    ),
    doc="Check-in reminders (`okr remind`).",
)

FUNNEL_STEP = Obj(
    "funnel_step",
    (
        Field("name", ID, True, "Name of the stage this step derives."),
        Field("divide_by", Number(exclusive_minimum=0), doc="Value per unit (average contract)."),
        Field("rate", Number(exclusive_minimum=0, maximum=1), doc="Conversion rate into `of`."),
        Field("multiply_by", Number(exclusive_minimum=0), doc="Cost per unit (CAC)."),
        Field("of", ID, doc="Stage it derives from (default: the previous one)."),
        Field("unit", Text(min_length=0)),
        Field("key_result", ID, doc="Key result whose target this stage sets."),
    ),
    one_of=("divide_by", "rate", "multiply_by"),
)

FUNNEL_SPLIT = Obj(
    "funnel_split",
    (
        Field("of", ID, True, "Stage to split."),
        Field("shares", MapOf(Number(minimum=0, maximum=1)), True, "Channel -> share (sum 1)."),
        Field("key_results", MapOf(ID), doc="Channel -> key result id."),
    ),
)

FUNNEL = Obj(
    "funnel",
    (
        Field("id", ID, True),
        Field("start", ID, True, "Name of the first stage."),
        Field("value", Number(exclusive_minimum=0), True, "Value of the first stage."),
        Field("unit", Text(min_length=0)),
        Field("key_result", ID),
        Field("steps", ListOf(FUNNEL_STEP)),
        Field("splits", ListOf(FUNNEL_SPLIT)),
    ),
    doc="A funnel from a company target down to marketing targets.",
)

KPI = Obj(
    "kpi",
    (
        Field("id", ID, True, "KPI id, unique among KPIs, key results and objectives."),
        Field("title", TEXT, True),
        Field("target", Number(), True, "The target of every period."),
        Field(
            "direction",
            Choice(("above", "below")),
            doc="above (default): healthy at or above the target; below: at or below it.",
        ),
        Field("measure", Choice(MEASURES), doc="gauge: latest reading; cumulative: period sum."),
        Field("period", Choice(("weekly", "monthly", "quarterly")), doc="Default monthly."),
        Field("unit", Text(min_length=0)),
        Field("metric", TEXT, doc="Name of the measured metric."),
        Field("owner", OWNER),
        Field("tolerance", Number(minimum=0), doc="Yellow band, a share of the target (0.1)."),
        Field(
            "targets",
            MapOf(Number()),
            doc="Period (2026-12, 2026-W07, 2026-Q1) -> the target of that period only.",
        ),
        Field("source", SOURCE),
    ),
    doc="A key performance indicator: a health metric beside the OKRs, with a recurring target.",
)

PLAN_SPEC = Obj(
    None,
    (
        Field("$schema", TEXT, doc="Optional schema reference for editors; ignored."),
        Field("okrcore", Const(VERSION), True, "Plan format version."),
        Field("title", TEXT),
        Field("owners", ListOf(OWNER_ENTRY), doc="Who owns parts of the plan; when present, "
              "every `owner` field names one of them."),
        Field("cycles", ListOf(CYCLE)),
        Field("goals", ListOf(GOAL)),
        Field("objectives", ListOf(OBJECTIVE)),
        Field("kpis", ListOf(KPI), doc="Key performance indicators beside the OKRs."),
        Field("connections", MapOf(CONNECTION), doc="Connection name -> settings."),
        Field(
            "checks",
            MapOf(AnyOf((Boolean(), FreeMap()), "true, false or a mapping of settings")),
            doc="Check name -> false (off), true, or settings.",
        ),
        Field("policy", FreeMap(), doc="Grading and status policy settings."),
        Field("notify", MapOf(NOTIFY_CHANNEL), doc="Channel name -> notifier settings."),
        Field("reminders", REMINDERS, doc="Check-in reminders: how often, when to escalate."),
        Field("plugins", ListOf(Text(pattern=DOTTED, what="a dotted module name"))),
        Field("funnels", ListOf(FUNNEL)),
    ),
)
"""The whole plan format: the loader validates with it and :func:`plan_schema` publishes it."""


def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of plan files, generated from :data:`PLAN_SPEC`."""
    defs: dict[str, Any] = {}
    body = PLAN_SPEC.body(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://okrcore.readthedocs.io/plan.schema.json",
        "title": "okrcore plan",
        "description": "An okrcore plan file: owners, cycles, goals, objectives, key results, "
        "strategies, KPIs, connections, checks, policy, notify, reminders, plugins and funnels.",
        **body,
        "$defs": dict(sorted(defs.items())),
    }
