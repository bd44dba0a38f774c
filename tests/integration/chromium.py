"""Drive Debian's headless ``chromium`` through the DevTools protocol over a pipe (no extra packages).

``Chromium`` starts the browser with ``--remote-debugging-pipe`` (commands on fd 3, replies on
fd 4, NUL-separated JSON), opens pages, evaluates JavaScript in them, types like a user, and
records every request the pages make (``Network.requestWillBeSent``). The browser resolves no
host name but 127.0.0.1 (``--host-resolver-rules``), keeps no proxy, and writes a net log of
everything it fetched, so a test can check that nothing left the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser", "google-chrome")
LOOPBACK_ONLY = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def find_chromium() -> str | None:
    """The first Chromium-like binary on PATH, or None."""
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless browser; ``page()`` opens a tab and returns its ``Page``."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.net_log_path = workdir / "netlog.json"
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_pipes() -> None:  # in the child: fd 3 = commands in, fd 4 = replies out
            commands, replies = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            f"--user-data-dir={workdir / 'profile'}",
            f"--host-resolver-rules={LOOPBACK_ONLY}",
            "--no-proxy-server",
            f"--log-net-log={self.net_log_path}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--window-size=1280,900",
            "about:blank",
        ]
        self._stderr = (workdir / "chromium.log").open("wb")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,  # only dup2 calls, before exec
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._lock = threading.Lock()
        self._replies: dict[int, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                with self._arrived:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._arrived.notify_all()
        with self._arrived:
            self._arrived.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send one DevTools command and return its result (raises on a protocol error)."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        with self._arrived:
            while ident not in self._replies:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"no reply to {method} (chromium exit code {self.proc.poll()})")
                self._arrived.wait(0.5)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def page(self) -> Page:
        """Open a blank tab with network recording on."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable", session=session)
        return Page(self, session)

    def requested_urls(self, page: Page | None = None) -> list[str]:
        """Every URL the pages (or one page) asked for so far, including failed or blocked ones."""
        with self._arrived:
            return [
                e["params"]["request"]["url"]
                for e in self.events
                if e.get("method") == "Network.requestWillBeSent"
                and (page is None or e.get("sessionId") == page.session)
            ]

    def close(self) -> None:
        """Close the browser cleanly (so that the net log is complete)."""
        with contextlib.suppress(RuntimeError, OSError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        self._reader.join(timeout=5)
        os.close(self._from_chrome)
        self._stderr.close()

    def net_log(self, event_type: str) -> list[dict[str, Any]]:
        """The ``params`` of every net-log event of one type, e.g. ``URL_REQUEST_START_JOB``.

        Read after ``close()``: the browser completes the file when it exits.
        """
        log = json.loads(self.net_log_path.read_text(encoding="utf-8"))
        wanted = log["constants"]["logEventTypes"][event_type]
        return [e.get("params") or {} for e in log["events"] if e["type"] == wanted]


class Page:
    """One tab: navigate, evaluate, wait for a condition, type."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        start = len(self.browser.events)
        result = self.browser.call("Page.navigate", {"url": url}, self.session)
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")
        self._wait_event("Page.loadEventFired", start)

    def _wait_event(self, method: str, start: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.browser._arrived:
            while not any(
                e.get("method") == method and e.get("sessionId") == self.session
                for e in self.browser.events[start:]
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no {method} within {timeout} s")
                self.browser._arrived.wait(0.5)

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page; return its value (JSON-able)."""
        result = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still falsy after {timeout} s: {expression}")
            time.sleep(0.2)

    def dom(self) -> str:
        """The rendered DOM, as ``chromium --dump-dom`` prints it."""
        return str(self.js("document.documentElement.outerHTML"))

    def type_text(self, text: str) -> None:
        """Type into the focused element, as a keyboard would."""
        self.browser.call("Input.insertText", {"text": text}, self.session)
