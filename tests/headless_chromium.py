"""Open a page in headless Chromium (Debian's ``chromium``) and watch it through the DevTools protocol.

Used by the report test: load the HTML file, wait until the page says its charts are done, collect
console errors, uncaught exceptions and every network request, evaluate a DOM probe, and take a
full-page screenshot. The protocol is spoken over the ``websockets`` client that Prefect already
depends on; no Selenium/Playwright (their browser downloads cannot work offline).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
)


def find_chromium() -> str | None:
    """Path of the chromium binary, or None when it is not installed."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    """What happened while the page loaded."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    probe: Any = None
    screenshot: Path | None = None


class _DevTools:
    """A minimal synchronous DevTools protocol session on one page target."""

    def __init__(self, ws_url: str, visit: PageVisit) -> None:
        from websockets.sync.client import connect

        self._ws = connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=30)
        self._ids = itertools.count(1)
        self._visit = visit

    def close(self) -> None:
        self._ws.close()

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method} failed: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self._visit.console_errors.append(text)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self._visit.exceptions.append(
                details.get("exception", {}).get("description") or details.get("text", "exception")
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self._visit.console_errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            self._visit.requests.append(params.get("request", {}).get("url", ""))

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"probe failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")


@contextlib.contextmanager
def _browser(chromium: str, profile: Path, width: int, height: int) -> Iterator[int]:
    """Start chromium with remote debugging on a free port; yields the port."""
    profile.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode} before opening its DevTools port")
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port within 60 s")
            time.sleep(0.1)
        yield int(port_file.read_text().splitlines()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def visit(page: Path, *, ready_expression: str, probe_expression: str, screenshot: Path, profile: Path,
          width: int = 1400, height: int = 2400, timeout: float = 60) -> PageVisit:
    """Load ``page``, wait until ``ready_expression`` is truthy, run the probe, take a screenshot.

    Raises:
        RuntimeError: chromium is missing or did not become ready within ``timeout`` seconds.
    """
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    result = PageVisit()
    with _browser(chromium, profile, width, height) as port:
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page_target = next(t for t in targets if t.get("type") == "page")
        tools = _DevTools(page_target["webSocketDebuggerUrl"], result)
        try:
            for domain in ("Runtime", "Log", "Network", "Page"):
                tools.call(f"{domain}.enable")
            tools.call("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
            tools.call("Page.navigate", {"url": page.resolve().as_uri()})
            deadline = time.monotonic() + timeout
            while not tools.evaluate(f"Boolean({ready_expression})"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"page not ready within {timeout:.0f} s: {ready_expression}")
                time.sleep(0.2)
            result.probe = tools.evaluate(probe_expression)
            shot = tools.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            result.screenshot = screenshot
        finally:
            tools.close()
    return result
