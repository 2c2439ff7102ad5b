"""Headless Chromium (Debian's ``chromium``) driven over the Chrome DevTools Protocol.

A page is opened in a fresh profile with the network closed to everything but
the page itself; what the page logged, threw, asked to fetch or tried to pop up
is collected, the DOM can be queried, and a full-page screenshot taken.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from tests.services import wait_for

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
)  # fmt: skip
STEP_TIMEOUT_S = 60.0


def chromium_binary() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(found, os.X_OK):
        raise RuntimeError("chromium is not installed: `make chromium` installs Debian's package")
    return found


@dataclass
class PageEvents:
    """What the page did while it was open."""

    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled
    log: list[dict[str, Any]] = field(default_factory=list)  # Log.entryAdded
    exceptions: list[dict[str, Any]] = field(default_factory=list)  # Runtime.exceptionThrown
    dialogs: list[dict[str, Any]] = field(default_factory=list)  # alert(), confirm()...
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    def errors(self) -> list[str]:
        """Console errors and warnings, errors logged by the browser, uncaught exceptions."""
        found = [
            f"console.{c['type']}: {c.get('args')}"
            for c in self.console
            if c["type"] in ("error", "warning", "assert")
        ]
        found += [f"log {e['entry']['level']}: {e['entry'].get('text')}" for e in self.log
                  if e["entry"]["level"] in ("error", "warning")]  # fmt: skip
        found += [f"exception: {x['exceptionDetails']}" for x in self.exceptions]
        return found


class Session:
    """One tab, attached over the browser's DevTools websocket (flat session mode)."""

    def __init__(self, socket: websocket.WebSocket, session_id: str) -> None:
        self.socket = socket
        self.session_id = session_id
        self.events = PageEvents()
        self._next = 1000
        self._seen: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return call(self.socket, method, params, self.session_id, self._event)

    def _event(self, message: dict[str, Any]) -> None:
        self._seen.append(message)
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.events.console.append(params)
        elif method == "Log.entryAdded":
            self.events.log.append(params)
        elif method == "Runtime.exceptionThrown":
            self.events.exceptions.append(params)
        elif method == "Page.javascriptDialogOpening":
            self.events.dialogs.append(params)
        elif method == "Network.requestWillBeSent":
            self.events.requests.append(params["request"]["url"])

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self._seen.clear()
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not any(m.get("method") == "Page.loadEventFired" for m in self._seen):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load in {STEP_TIMEOUT_S:.0f}s")
            self._event(receive(self.socket))

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path, width: int = 1280) -> bytes:
        """A PNG of the whole page, ``width`` CSS pixels wide, saved at ``path``."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=800,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        data = base64.b64decode(shot["data"])
        path.write_bytes(data)
        return data


def receive(socket: websocket.WebSocket) -> dict[str, Any]:
    return dict(json.loads(socket.recv()))


_ids = iter(range(1, 1_000_000))


def call(socket: websocket.WebSocket, method: str, params: dict[str, Any],
         session_id: str | None = None, on_event: Any = None) -> dict[str, Any]:  # fmt: skip
    """Send one command and return its result; events that arrive meanwhile go to
    ``on_event``."""
    ident = next(_ids)
    message: dict[str, Any] = {"id": ident, "method": method, "params": params}
    if session_id:
        message["sessionId"] = session_id
    socket.send(json.dumps(message))
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        answer = receive(socket)
        if answer.get("id") == ident:
            if "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            return dict(answer.get("result", {}))
        if on_event is not None and "method" in answer:
            on_event(answer)
    raise TimeoutError(f"no answer to {method} in {STEP_TIMEOUT_S:.0f}s")


@contextmanager
def chromium(workdir: Path) -> Iterator[Session]:
    """A headless Chromium with a fresh profile under ``workdir``, and one blank tab."""
    workdir.mkdir(parents=True, exist_ok=True)
    # A fresh profile each time: an old one's DevToolsActivePort names a port long closed.
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
    log = (workdir / "chromium.log").open("wb")
    process = subprocess.Popen(
        [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    port_file = profile / "DevToolsActivePort"
    try:
        wait_for(
            lambda: (port_file.exists() and len(port_file.read_text().split()) >= 2)
            or process.poll() is not None,
            timeout=STEP_TIMEOUT_S, interval=0.1, what="chromium's DevTools port",
        )  # fmt: skip
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited: {(workdir / 'chromium.log').read_text()[-2000:]}")
        port, path = port_file.read_text().split()[:2]
        socket = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=STEP_TIMEOUT_S, suppress_origin=True
        )
        try:
            target = call(socket, "Target.createTarget", {"url": "about:blank"})["targetId"]
            attached = call(socket, "Target.attachToTarget", {"targetId": target, "flatten": True})
            yield Session(socket, attached["sessionId"])
        finally:
            socket.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
