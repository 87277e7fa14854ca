"""The plans a worker runs jobs of: loaded once, reused while their content is the same.

A job names its plan by path and by the SHA-256 of the content the run was enqueued with. A
worker keeps the plans it loaded in memory by that content hash, so the jobs of one run (and of
later runs of an unchanged plan) cost one load per process, and a job always uses the plan as its
run saw it: a plan edited after ``okr refresh --enqueue`` does not change a run in flight.

Parsing a large plan costs seconds of CPU (about 1.5 s for 5,000 key results), and every worker
process of a machine would pay it at the start of each run. So plans are also kept on disk, in
a folder of the user's (``OKRCORE_CACHE_DIR``, default ``~/.cache/okrcore``), under the hash of
their path and content: the enqueuing process leaves its parsed plan there and workers on the
same machine read it in a tenth of the time; workers of a machine without it parse the plan
once between them (a file lock), not once each. docs/company.md, "What a worker caches".
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from okrcore import __version__
from okrcore.errors import OkrError
from okrcore.model import Plan
from okrcore.planfile import FORMATS, load_plan, loads_plan
from okrcore.planfile._limits import MAX_BYTES
from okrcore.planfile._read import LazyPositions, Positions

__all__ = ["PlanCache", "cache_directory", "read_plan"]

KEEP_IN_MEMORY = 4
"""Plans a process keeps (the least recently used goes first): runs of a few plans at once."""
KEEP_ON_DISK = 16
"""Plan files the disk cache keeps (the oldest go first); each is about 0.6 KiB per key result."""
_SUFFIX = ".plan.pickle"


def cache_directory() -> Path | None:
    """The folder of the disk cache: ``OKRCORE_CACHE_DIR`` (empty: no disk cache), else
    ``$XDG_CACHE_HOME/okrcore`` or ``~/.cache/okrcore``; ``None`` where the cache is off or the
    platform cannot check who owns a file (Windows)."""
    if not hasattr(os, "getuid"):
        return None
    configured = os.environ.get("OKRCORE_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "okrcore"


def read_plan(path: str | Path) -> tuple[Plan, str]:
    """Load the plan at ``path`` and return it with the SHA-256 of the bytes it was parsed from
    (hashing and parsing the same read: an edit in between cannot mix two versions)."""
    name = str(path)
    try:
        raw = Path(name).read_bytes()
    except OSError:
        return load_plan(name), ""  # raises the PlanError saying why it cannot be read
    return _plan_of(raw, name), hashlib.sha256(raw).hexdigest()


def _plan_of(raw: bytes, name: str) -> Plan:
    return _parsed(raw, name)[0]


def _parsed(raw: bytes, name: str) -> tuple[Plan, str, str]:
    """The plan, the text it was parsed from and its format."""
    format = FORMATS.get(os.path.splitext(name)[1].lower())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if format is None or text is None or len(raw) > MAX_BYTES:
        load_plan(name)  # raises the PlanError saying what is wrong, where
        raise OkrError(f"cannot load the plan {name}")  # the file changed meanwhile
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as load_plan
    return loads_plan(text, format, name=name), text, format


def _positions_of(text: str, format: str) -> Positions:
    """A cached plan's field positions (for located messages), computed, if ever asked for, by
    parsing its text again, as the plan's own are computed on first use."""
    return dict(loads_plan(text, format).positions)


class _Pickler(pickle.Pickler):
    """Pickles a plan whose positions are still to be computed (a closure over the parser) as
    positions computed from its text."""

    def __init__(self, file: IO[bytes], text: str, format: str) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._lazy = (text, format)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, LazyPositions):
            return (LazyPositions, (functools.partial(_positions_of, *self._lazy),))
        return NotImplemented


def _private(st: os.stat_result) -> bool:
    """Only this user may have written it: owned by us, writable by no one else."""
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class PlanCache:
    """Plans loaded by this process, by content hash, with a disk cache shared by the processes
    of one user on one machine (``directory``; ``None``: memory only).

    The disk cache holds pickles, which run code when read: it is used only in a folder that
    this user owns and no one else can write to (made ``0700``), with files of the same kind;
    anything else there is ignored and the plan parsed from its file.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._plans: collections.OrderedDict[str, Plan] = collections.OrderedDict()
        self.parsed = 0
        """Plans this cache parsed from their files (not found in memory or on disk)."""

    def get(self, path: str, sha256: str) -> Plan:
        """The plan at ``path`` as it was when its content hashed to ``sha256``; an
        :class:`~okrcore.OkrError` says why it cannot be had (the file unreadable, or changed
        since and not in the cache)."""
        plan = self._plans.get(sha256)
        if plan is not None:
            self._plans.move_to_end(sha256)
            return plan
        plan = self._from_disk(path, sha256)
        if plan is None:
            with self._lock(path, sha256):
                plan = self._from_disk(path, sha256)  # another worker parsed it meanwhile
                if plan is None:
                    plan = self._parse(path, sha256)
        self._remember(sha256, plan)
        return plan

    def load(self, path: str | Path) -> tuple[Plan, str]:
        """Parse the plan at ``path`` (as :func:`read_plan`), keep it and leave it in the disk
        cache for the workers of this machine; return it with its content's SHA-256."""
        name = str(path)
        try:
            raw = Path(name).read_bytes()
        except OSError:
            return load_plan(name), ""  # raises the PlanError saying why it cannot be read
        sha = hashlib.sha256(raw).hexdigest()
        plan, text, format = _parsed(raw, name)
        self._put(name, sha, plan, text, format)
        self._remember(sha, plan)
        return plan, sha

    def _put(self, path: str, sha256: str, plan: Plan, text: str, format: str) -> None:
        """Leave ``plan`` (parsed from ``text``, the content of ``path``, which hashes to
        ``sha256``) in the disk cache. A cache that cannot be written is skipped."""
        folder = self._folder()
        if folder is None:
            return
        target = folder / (self._key(path, sha256) + _SUFFIX)
        try:
            with tempfile.NamedTemporaryFile("wb", dir=folder, suffix=".tmp", delete=False) as fh:
                _Pickler(fh, text, format).dump(plan)
            os.replace(fh.name, target)  # whole or not at all, for readers in other processes
        except Exception:  # a plan that cannot be pickled, a full disk: workers parse it
            with contextlib.suppress(OSError, NameError):
                os.unlink(fh.name)
            return
        self._prune(folder)

    def _remember(self, sha256: str, plan: Plan) -> None:
        self._plans[sha256] = plan
        while len(self._plans) > KEEP_IN_MEMORY:
            self._plans.popitem(last=False)

    def _parse(self, path: str, sha256: str) -> Plan:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise OkrError(f"this worker cannot read the plan {path}: {exc.strerror}; every "
                           "worker needs the plan at the path it was enqueued from") from None
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise OkrError(f"the plan {path} on this worker differs from the one enqueued "
                           "(sha256 mismatch: changed since the run was enqueued, or another "
                           "version deployed here); deploy the same plan to every worker and "
                           "enqueue again")
        self.parsed += 1
        plan, text, format = _parsed(raw, path)
        self._put(path, sha256, plan, text, format)
        return plan

    @staticmethod
    def _key(path: str, sha256: str) -> str:
        # the path is part of the key: relative paths in a plan are read from its folder
        ident = "\0".join((os.path.abspath(path), sha256, __version__, sys.version))
        return hashlib.sha256(ident.encode()).hexdigest()

    def _folder(self) -> Path | None:
        """The cache folder, made private if new; ``None`` when it is not safe to use."""
        if self.directory is None:
            return None
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            return self.directory if _private(self.directory.stat()) else None
        except OSError:
            return None

    def _from_disk(self, path: str, sha256: str) -> Plan | None:
        folder = self._folder()
        if folder is None:
            return None
        file = folder / (self._key(path, sha256) + _SUFFIX)
        try:
            with open(file, "rb") as fh:
                if not _private(os.fstat(fh.fileno())):
                    return None
                plan = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception:  # a truncated or stale file: parse the plan instead
            return None
        return plan if isinstance(plan, Plan) else None

    @contextlib.contextmanager
    def _lock(self, path: str, sha256: str) -> Iterator[None]:
        """Held while one process of the machine parses a plan the others then read."""
        folder = self._folder()
        handle: IO[bytes] | None = None
        if folder is not None:
            with contextlib.suppress(OSError):
                handle = open(folder / (self._key(path, sha256) + ".lock"), "ab")  # noqa: SIM115
        try:
            if handle is not None:
                import fcntl

                with contextlib.suppress(OSError):
                    fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            if handle is not None:
                handle.close()  # releases the lock

    @staticmethod
    def _prune(folder: Path) -> None:
        """Keep the newest KEEP_ON_DISK plans (and their locks)."""
        with contextlib.suppress(OSError):
            files = sorted(folder.glob("*" + _SUFFIX), key=lambda f: f.stat().st_mtime,
                           reverse=True)
            for old in files[KEEP_ON_DISK:]:
                with contextlib.suppress(OSError):
                    old.unlink()
                    old.with_name(old.name.removesuffix(_SUFFIX) + ".lock").unlink()
