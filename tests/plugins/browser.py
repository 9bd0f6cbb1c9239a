"""Headless Chromium through chromedriver's W3C WebDriver HTTP API, with ``requests`` only.

    with Browser.start(tmp_path) as b:
        b.get("http://localhost:8080/"); b.click(b.find("a.next")); b.screenshot(path)
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

CHROMIUM = os.environ.get("LAGO_NETSUITE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LAGO_NETSUITE_CHROMEDRIVER", "/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1440,1000"]


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One Chromium session."""

    def __init__(self, url: str, session_id: str) -> None:
        self.url, self.sid = url, session_id

    @classmethod
    @contextlib.contextmanager
    def start(cls, workdir: Path) -> Iterator[Browser]:
        port = _free_port()
        log = open(workdir / "chromedriver.log", "ab")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{url}/status", timeout=2).json()["value"]["ready"]:
                        break
                except (requests.RequestException, ValueError, KeyError):
                    pass
                if time.monotonic() > deadline:
                    raise WebDriverError("chromedriver did not start")
                time.sleep(0.2)
            caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": CHROMIUM, "args": [*CHROMIUM_ARGS, f"--user-data-dir={workdir / 'chromium-profile'}"]}}}}
            resp = requests.post(f"{url}/session", json=caps, timeout=120).json()
            if "sessionId" not in resp.get("value", {}):
                raise WebDriverError(f"no session: {resp}")
            browser = cls(url, resp["value"]["sessionId"])
            try:
                yield browser
            finally:
                with contextlib.suppress(requests.RequestException):
                    requests.delete(f"{url}/session/{browser.sid}", timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            log.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        resp = requests.request(method, f"{self.url}/session/{self.sid}{path}", json=body, timeout=120)
        value = resp.json().get("value")
        if resp.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {value}")
        return value

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    @property
    def current_url(self) -> str:
        return str(self._call("GET", "/url"))

    def add_cookie(self, name: str, value: str) -> None:
        self._call("POST", "/cookie", {"cookie": {"name": name, "value": value, "path": "/"}})

    def find(self, css: str, timeout: float = 30) -> str:
        """The first element matching ``css``, waiting for it to appear."""
        return self.find_by("css selector", css, timeout)

    def find_xpath(self, xpath: str, timeout: float = 30) -> str:
        return self.find_by("xpath", xpath, timeout)

    def find_by(self, using: str, value: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            resp = requests.post(f"{self.url}/session/{self.sid}/element", json={"using": using, "value": value},
                                 timeout=60)
            if resp.status_code == 200:
                return str(resp.json()["value"][ELEMENT])
            if time.monotonic() > deadline:
                raise WebDriverError(f"no element {value!r} within {timeout:.0f} s on {self.current_url}")
            time.sleep(0.3)

    def click(self, element: str) -> None:
        self._call("POST", f"/element/{element}/click", {})

    def text(self, element: str) -> str:
        return str(self._call("GET", f"/element/{element}/text"))

    def attribute(self, element: str, name: str) -> str | None:
        value = self._call("GET", f"/element/{element}/property/{name}")
        return None if value is None else str(value)

    def select(self, css_select: str, value: str) -> None:
        self.click(self.find(f"{css_select} option[value='{value}']"))

    def type(self, element: str, text: str) -> None:
        self._call("POST", f"/element/{element}/clear", {})
        self._call("POST", f"/element/{element}/value", {"text": text})

    def frame(self, element: str | None) -> None:
        """Switch into an iframe element (None: back to the top document)."""
        self._call("POST", "/frame", {"id": None if element is None else {ELEMENT: element}})

    def wait_text(self, css: str, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(WebDriverError):
                got = self.text(self.find(css, timeout=2))
                if needle in got:
                    return got
            if time.monotonic() > deadline:
                raise WebDriverError(f"{css!r} never showed {needle!r}")
            time.sleep(0.3)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))
