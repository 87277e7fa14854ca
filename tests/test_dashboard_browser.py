"""The HTML dashboard in a real headless Chromium, driven over the DevTools protocol.

Chromium is Debian's package, installed as an explicit step (``nox -s browser``; .ci/run runs it
under CI=true): the tests skip, saying why, where it is missing, and fail under CI=true.
The browser is driven through ``--remote-debugging-pipe`` (JSON messages separated by NUL bytes
on file descriptors 3 and 4), so no driver library and no browser download are needed.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okrcore.model import (
    CheckIn,
    Cycle,
    Goal,
    KeyResult,
    Objective,
    Plan,
    RunOutcome,
    RunRecord,
    TargetChange,
)
from okrcore.reports import Report, ReportKind, render, report
from okrcore.store import open_store

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
AT = dt.date(2026, 11, 20)
XSS_TITLE = "Q4 <script>alert(1)</script> plan"
XSS_OBJECTIVE = 'Win <img src=x onerror="alert(2)"> deals'
WAIT = 90.0  # seconds to wait for the browser before giving up (a hang guard, not an assertion)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a Chromium binary. Installing it is an explicit step (``nox -s browser``; .ci/run
    runs it under CI=true): here it skips, saying so, and fails under CI=true."""
    path = _find_chromium()
    if path:
        return path
    why = "Chromium is not installed: run `nox -s browser` (.ci/run does when CI=true)"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


class Browser:
    """A minimal DevTools-protocol client over Chromium's pipe transport."""

    def __init__(self, binary: str, profile: str) -> None:
        cmd_r, self._cmd_w = os.pipe()  # we write commands; Chromium reads fd 3
        self._out_r, out_w = os.pipe()  # Chromium writes fd 4; we read

        def fds() -> None:  # runs in the child before exec: put the pipes on fds 3 and 4
            os.dup2(cmd_r, 3)
            os.dup2(out_w, 4)

        self.proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=fds,
        )
        os.close(cmd_r)
        os.close(out_w)
        self._next = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._out_r, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                while b"\0" in buffer:
                    raw, buffer = buffer.split(b"\0", 1)
                    message = json.loads(raw)
                    if "id" in message:
                        with self._lock:
                            box = self._replies.get(message["id"])
                        if box is not None:
                            box.put(message)
                    else:
                        self.events.put(message)

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        with self._lock:
            self._next += 1
            ident = self._next
            box: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[ident] = box
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        reply = box.get(timeout=WAIT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)


class Page:
    """One tab: loads a file and keeps every console message, error, dialog and request."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.console: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.send(method, params, self.session)

    def _take(self, event: dict[str, Any]) -> str | None:
        if event.get("sessionId") != self.session:
            return None
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.console.append(params)
            if params.get("type") in ("error", "assert"):
                self.errors.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            self.errors.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(
                f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}"
            )
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(params.get("message", ""))
            self.call("Page.handleJavaScriptDialog", {"accept": False})
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        return str(method)

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        while True:
            event = self.browser.events.get(timeout=WAIT)
            if self._take(event) == "Page.loadEventFired":
                break
        # let late events (console, errors) arrive: a round trip through the page flushes them
        self.evaluate("new Promise(r => setTimeout(r, 200))", await_promise=True)
        while not self.browser.events.empty():
            self._take(self.browser.events.get_nowait())

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int = 1280) -> None:
        metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)  # lay out at this width first
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call("Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, 2400)})
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="okrcore-chromium-") as profile:
        b = Browser(chromium, profile)
        try:
            yield b
        finally:
            b.close()


# -- the report under test ------------------------------------------------------------------------
def dashboard_plan(title: str = XSS_TITLE, sales: str = XSS_OBJECTIVE) -> Plan:
    cycle = Cycle("2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    return Plan(
        title=title,
        cycles=[cycle],
        goals=[Goal("brand", "Grow brand awareness")],
        objectives=[
            Objective(
                "traffic",
                "Grow qualified traffic",
                "2026-Q4",
                owner="ann",
                goal="brand",
                key_results=[
                    KeyResult(
                        "sessions",
                        "Organic sessions",
                        unit="sessions",
                        baseline=1000,
                        target=1200,
                        floor=1100,
                        stretch=1300,
                        cadence="weekly",
                    ),
                    KeyResult(
                        "leads",
                        "Leads",
                        measure="cumulative",
                        unit="leads",
                        baseline=0,
                        target=2000,
                        cadence="daily",
                    ),
                ],
            ),
            Objective(
                "sales",
                sales,
                "2026-Q4",
                owner="bob",
                level="company",
                key_results=[
                    KeyResult(
                        "cac",
                        "CAC <= 200",
                        kind="maintain_below",
                        unit="USD",
                        target=200,
                        cadence="weekly",
                    ),
                    KeyResult("rebrand", "Rebrand launched", kind="milestone"),
                ],
            ),
        ],
    )


def build_report(kind: ReportKind, plan: Plan | None = None) -> Report:
    plan = plan or dashboard_plan()
    store = open_store("memory://")
    checkins, day, i = [], plan.cycles[0].start, 0
    while day <= AT:
        checkins.append(CheckIn("leads", 12 + i % 6, day, source="csv"))
        if i % 7 == 0:
            checkins.append(CheckIn("sessions", 1000 + 1.6 * i, day, source="csv"))
            checkins.append(CheckIn("cac", 186 + i % 19, day, source="csv"))
        day += dt.timedelta(days=1)
        i += 1
    store.add_checkins(checkins)
    store.add_target_change(
        TargetChange(
            "sessions",
            "target",
            1200,
            1250,
            "strong October <b>bold</b>",
            dt.datetime(2026, 11, 5, tzinfo=dt.timezone.utc),
        )
    )
    started = dt.datetime(2026, 11, 20, 6, tzinfo=dt.timezone.utc)
    store.record_run(
        RunRecord(
            "run-1",
            started,
            started,
            AT,
            [RunOutcome("sessions", "failed", "ga4", error="<i>quota</i> exhausted", kind="quota")],
        )
    )
    return report(plan, store, kind, at=AT)


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_dashboard_in_headless_chromium(browser: Browser, tmp_path: Path, kind: ReportKind) -> None:
    rep = build_report(kind)
    page_file = tmp_path / f"{kind}.html"
    page_file.write_text(render(rep, "html"), encoding="utf-8")
    page = Page(browser)
    page.open(page_file.as_uri())

    assert page.errors == []
    assert page.dialogs == []  # neither <script>alert(1)</script> nor onerror=alert(2) ran
    # nothing but the page itself was loaded: no CDN, font, script or image from anywhere
    assert [u for u in page.requests if u != page_file.as_uri()] == []

    title = page.evaluate("document.getElementById('report-title').textContent")
    assert XSS_TITLE in title
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0

    shown = page.evaluate(
        "[...document.querySelectorAll('article.objective h2')].map(h => h.textContent.trim())"
    )
    assert shown == [o.node.title for o in rep.objectives]

    charts = page.evaluate(
        """[...document.querySelectorAll('.kr')].map(k => {
             const svg = k.querySelector('.chart svg');
             const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
             return {kr: k.dataset.kr, width: box.width, height: box.height,
                     lines: svg ? svg.querySelectorAll('polyline.line').length : 0,
                     legend: svg ? [...svg.querySelectorAll('text.key')]
                                     .map(t => t.lastChild.textContent.trim()) : []};
           })"""
    )
    assert [c["kr"] for c in charts] == [line.id for line in rep.key_results]
    by_kr = {c["kr"]: c for c in charts}
    for line in rep.key_results:
        chart = by_kr[line.id]
        assert chart["width"] > 100
        assert chart["height"] > 50
        # the target line, the pace line, and the actual when there is data
        assert chart["lines"] >= (3 if line.series else 2), chart
    sessions = by_kr["sessions"]
    assert {"Actual", "Expected pace", "Target", "Floor", "Stretch"} <= set(sessions["legend"])
    assert "Original target" in sessions["legend"]  # its target was changed from 1,200 to 1,250
    assert "Original target" not in by_kr["leads"]["legend"]


def demo_report(kind: ReportKind) -> Report:
    """The bundled example plan with its whole history refreshed into a memory store."""
    import importlib.resources
    import shutil as sh

    from okrcore import planfile
    from okrcore.engine import refresh
    with tempfile.TemporaryDirectory() as folder:
        for name in ("marketing.yaml", "marketing-history.csv"):
            with importlib.resources.as_file(importlib.resources.files("okrcore.demo") / name) as f:
                sh.copy(f, Path(folder) / name)
        plan = planfile.load_plan(Path(folder) / "marketing.yaml")
        store = open_store("memory://")
        refresh(plan, store, backfill=(plan.cycles[0].start, AT))
    return report(plan, store, kind, at=AT)


@pytest.mark.parametrize("kind", ["daily", "monthly"])
def test_example_plan_dashboard(browser: Browser, tmp_path: Path, kind: ReportKind) -> None:
    rep = demo_report(kind)
    page_file = tmp_path / "dashboard.html"
    page_file.write_text(render(rep, "html"), encoding="utf-8")
    page = Page(browser)
    page.open(page_file.as_uri())
    assert page.errors == []
    assert page.dialogs == []
    shown = page.evaluate(
        "[...document.querySelectorAll('article.objective h2')].map(h => h.textContent.trim())"
    )
    assert shown == [o.node.title for o in rep.objectives]
    lines = page.evaluate(
        "[...document.querySelectorAll('.kr')]"
        ".map(k => k.querySelectorAll('svg polyline.line').length)"
    )
    assert len(lines) == len(rep.key_results)
    assert all(n >= 2 for n in lines)


def test_dashboard_screenshot_for_the_docs(browser: Browser, tmp_path: Path) -> None:
    """Takes the screenshot in docs/reports.md (written there with OKRCORE_SCREENSHOT=path)."""
    rep = demo_report("weekly")
    page_file = tmp_path / "dashboard.html"
    page_file.write_text(render(rep, "html"), encoding="utf-8")
    page = Page(browser)
    page.open(page_file.as_uri())
    target = Path(os.environ.get("OKRCORE_SCREENSHOT", tmp_path / "dashboard.png"))
    page.screenshot(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
