"""Copying a whole store to another one, on any backends (``okr store copy SRC DST``).

A copy goes through the :class:`~okrcore.store.Store` interface only: everything is read from the
source with the read methods and written to the destination with the write methods, so any two
backends work together. The store's content is a fixed list of :data:`SECTIONS` (check-ins with
their revisions, target changes, strategy changes, the run log, the events sent); each names the
tables that hold it in the built-in backends, and a test checks that every table of their
migrations belongs to a section, so that a table added later cannot be left out of the copy
unnoticed.

Check-in history is replayed oldest reading first, so the destination's revision rules rebuild
the same revisions (who replaced what, when, in which run, for which reason). The copy is then
verified: the destination, read back through the interface, must hold exactly the source's
content (counts per section and a SHA-256 checksum over every field of every record), and the
source must not have changed meanwhile. Any difference raises :class:`~okrcore.StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import attrs

from okrcore.errors import StoreError
from okrcore.model import InitiativeChange, RunRecord, StrategyChange, TargetChange

from .base import AddResult, CheckInRecord, EventDelivery, Store, encode_json

__all__ = ["SECTIONS", "CopyReport", "Section", "copy_store", "store_content"]

# ``Store.runs`` takes a limit: this one means every run.
_ALL_RUNS = 2**62


@attrs.frozen
class Section:
    """One kind of record a store holds, and how a copy reads, writes and compares it.

    ``tables``: the tables of the built-in backends (SQLite, PostgreSQL) that hold the section.
    ``read`` returns every record, in the store's documented order; ``write`` adds records read
    from another store and returns how many the destination says it stored; ``owner`` is the id a
    record belongs to (a key result, a strategy, a run): a merge refuses ids both stores hold.
    ``counts`` names the figures the copy reports.
    """

    name: str
    tables: tuple[str, ...]
    read: Callable[[Store], list[Any]]
    write: Callable[[Store, list[Any]], int]
    owner: Callable[[Any], Hashable]
    counts: Callable[[list[Any]], dict[str, int]]


# -- check-ins and their revisions -------------------------------------------------------------
def _write_history(store: Store, records: list[CheckInRecord]) -> int:
    """Replay a history: the first reading of every key, then every key's second reading, and
    so on, each in its original run and with its reason, so the destination's revision rules
    keep the replaced ones exactly as the source did."""
    generations: list[list[CheckInRecord]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for r in records:  # a key's readings come oldest first
        key = (r.checkin.kr_id, r.checkin.as_of, r.checkin.source)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(generations):
            generations.append([])
        generations[n].append(r)
    stored = AddResult()
    for n, generation in enumerate(generations):
        batches: dict[tuple[str | None, str | None], list[CheckInRecord]] = {}
        for r in generation:
            batches.setdefault((r.run_id, r.reason), []).append(r)
        for (run_id, reason), batch in batches.items():
            added = store.add_checkins([r.checkin for r in batch], run_id=run_id, reason=reason)
            expected = AddResult(new=len(batch)) if n == 0 else AddResult(revised=len(batch))
            if added != expected:
                raise StoreError(
                    f"copying check-ins: the destination stored {added.new} new and "
                    f"{added.revised} revised readings where {expected.new} new and "
                    f"{expected.revised} revised were expected (did something else write to it?)"
                )
            stored += added
    return stored.stored


def _history_counts(records: list[CheckInRecord]) -> dict[str, int]:
    in_force = sum(r.in_force for r in records)
    return {"check-ins in force": in_force, "replaced readings": len(records) - in_force}


# -- target and strategy changes, the run log --------------------------------------------------
def _write_target_changes(store: Store, changes: list[TargetChange]) -> int:
    for change in changes:  # oldest first, so equal times keep their order
        store.add_target_change(change)
    return len(changes)


def _write_strategy_changes(store: Store, changes: list[StrategyChange]) -> int:
    for change in changes:
        store.add_strategy_change(change)
    return len(changes)


def _write_initiative_changes(store: Store, changes: list[InitiativeChange]) -> int:
    store.add_initiative_changes(changes)  # in the source's order, so equal days keep theirs
    return len(changes)


def _write_runs(store: Store, runs: list[RunRecord]) -> int:
    for run in reversed(runs):  # runs() is newest first
        store.record_run(run)
    return len(runs)


def _run_counts(runs: list[RunRecord]) -> dict[str, int]:
    return {"runs": len(runs), "run outcomes": sum(len(r.outcomes) for r in runs)}


def _write_event_deliveries(store: Store, deliveries: list[EventDelivery]) -> int:
    """Each delivery as it was: claimed with its token and time, then sent when it was."""
    written = 0
    for d in deliveries:
        # nothing is older than the claim itself: an existing row is never taken over
        if store.claim_event(d, stale_before=d.claimed_at):
            written += 1
            if d.sent_at is not None:
                store.finish_event(d.key, d.destination, d.token, sent_at=d.sent_at)
    return written


#: Everything a store holds, in copy order. A backend change that adds a table adds a section
#: here (tests/test_store_copy.py fails until it does).
SECTIONS: tuple[Section, ...] = (
    Section(
        "check-ins",
        ("checkins", "checkin_revisions"),
        read=lambda s: s.checkin_history(),
        write=_write_history,
        owner=lambda r: r.checkin.kr_id,
        counts=_history_counts,
    ),
    Section(
        "target changes",
        ("target_changes",),
        read=lambda s: s.target_changes(),
        write=_write_target_changes,
        owner=lambda c: c.kr_id,
        counts=lambda items: {"target changes": len(items)},
    ),
    Section(
        "strategy changes",
        ("strategy_changes",),
        read=lambda s: s.strategy_changes(),
        write=_write_strategy_changes,
        owner=lambda c: c.strategy_id,
        counts=lambda items: {"strategy changes": len(items)},
    ),
    Section(
        "initiative changes",
        ("initiative_changes",),
        read=lambda s: s.initiative_changes(),
        write=_write_initiative_changes,
        owner=lambda c: c.initiative_id,
        counts=lambda items: {"initiative changes": len(items)},
    ),
    Section(
        "runs",
        ("runs", "run_outcomes"),
        read=lambda s: s.runs(limit=_ALL_RUNS),
        write=_write_runs,
        owner=lambda r: r.id,
        counts=_run_counts,
    ),
    Section(
        "event deliveries",
        ("event_deliveries",),
        read=lambda s: s.event_deliveries(sent=None),
        write=_write_event_deliveries,
        owner=lambda d: (d.key, d.destination),
        counts=lambda items: {"event deliveries": len(items)},
    ),
)


# -- content, counts and checksum --------------------------------------------------------------
Content = dict[str, list[Any]]


def store_content(store: Store, sections: Sequence[Section] = SECTIONS) -> Content:
    """Every record of ``store``, section by section, in the store's order."""
    return {s.name: s.read(store) for s in sections}


def _counts(content: Content, sections: Sequence[Section]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in sections:
        counts.update(s.counts(content[s.name]))
    return counts


def _checksum(content: Content, sections: Sequence[Section]) -> str:
    """SHA-256 over every field of every record (stable JSON, one line per record)."""
    import hashlib  # here, not at the top: loading OpenSSL would slow every open_store()

    digest = hashlib.sha256()
    for s in sections:
        digest.update(f"# {s.name}\n".encode())
        for record in content[s.name]:
            line = encode_json(attrs.asdict(record, recurse=True), f"{s.name} record")
            digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def _owned(items: Iterable[Any], section: Section, owners: set[Hashable]) -> list[Any]:
    return [item for item in items if section.owner(item) in owners]


@attrs.frozen
class CopyReport:
    """What :func:`copy_store` copied: ``counts`` per kind of record and the ``checksum`` the
    source and the destination agree on (both over the copied records only)."""

    counts: dict[str, int]
    checksum: str
    merged: bool = False


def copy_store(
    source: Store,
    destination: Store,
    *,
    merge: bool = False,
    sections: Sequence[Section] = SECTIONS,
) -> CopyReport:
    """Copy everything ``source`` holds into ``destination`` and verify it.

    The destination must be empty, unless ``merge``: then it may hold other key results,
    strategies and runs, and only ids that both stores hold are refused (nothing is written
    then). Check-in revisions are kept (the history is replayed oldest reading first), as are
    target and strategy changes and the run log. Afterwards the destination's copy of the records
    must equal the source's, field by field (counts and a SHA-256 checksum), and the source must
    be unchanged; otherwise :class:`~okrcore.StoreError` says what differs. The source is never
    written to.
    """
    content = store_content(source, sections)
    before = store_content(destination, sections)
    owners = {s.name: {s.owner(item) for item in content[s.name]} for s in sections}
    held = _counts(before, sections)
    if any(held.values()) and not merge:
        raise StoreError(
            "the destination is not empty (it holds "
            + _describe({what: n for what, n in held.items() if n})
            + "); copy into a new store (a new SQLite file, or a new ?schema= on PostgreSQL),"
            " or merge into this one (okr store copy --merge)"
        )
    if merge:
        clashes = {
            s.name: sorted(map(str, owners[s.name] & {s.owner(i) for i in before[s.name]}))
            for s in sections
        }
        if any(clashes.values()):
            raise StoreError(
                "cannot merge: both stores hold "
                + "; ".join(
                    f"{name} of {_listed(ids)}" for name, ids in clashes.items() if ids
                )
                + "; nothing was copied"
            )
    checksum = _checksum(content, sections)
    for s in sections:
        written = s.write(destination, content[s.name])
        if written != len(content[s.name]):
            raise StoreError(
                f"copying {s.name}: the destination stored {written} of "
                f"{len(content[s.name])}"
            )
    # verify: the destination's records of the source's ids, read back, are the source's
    after = store_content(destination, sections)
    copied = {s.name: _owned(after[s.name], s, owners[s.name]) for s in sections}
    expected, got = _counts(content, sections), _counts(copied, sections)
    if got != expected:
        raise StoreError(f"copy does not match: the source holds {_describe(expected)}, the "
                         f"destination {_describe(got)}")
    total = {k: held.get(k, 0) + v for k, v in expected.items()}
    if _counts(after, sections) != total:
        raise StoreError(f"copy does not match: the destination holds "
                         f"{_describe(_counts(after, sections))}, expected {_describe(total)}")
    if _checksum(copied, sections) != checksum:
        raise StoreError(
            "copy does not match: the counts agree but the records differ (checksum "
            + _first_difference(content, copied, sections) + ")"
        )
    if _checksum(store_content(source, sections), sections) != checksum:
        raise StoreError(
            "the source changed while it was copied (a refresh or check-in wrote to it); stop "
            "writers and copy again into a new store"
        )
    return CopyReport(counts=expected, checksum=checksum, merged=merge)


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {what}" for what, n in counts.items())


def _listed(ids: list[str], most: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _first_difference(a: Content, b: Content, sections: Sequence[Section]) -> str:
    for s in sections:
        for x, y in zip(a[s.name], b[s.name], strict=False):
            if x != y:
                return f"{s.name}: source has {x!r}, destination {y!r}"
    return "differs"
