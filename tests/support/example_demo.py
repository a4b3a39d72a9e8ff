"""Runs ``example_project/demo.py`` (the real processes of ``make demo``) on free ports with a
temporary SQLite database, for the example-project and browser tests."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
#: Where the browser tests photograph each page (``.ci/run`` lists them).
SCREENSHOTS = Path(os.environ.get("POSTMARK_SCREENSHOT_DIR") or REPO / "build" / "screenshots")
DEMO = REPO / "example_project" / "demo.py"
BOUNCE_TESTING = "bounce-testing.postmarkapp.com"


def example_env(database: Path) -> dict[str, str]:
    """The environment of a fresh shell: no test settings, no POSTMARK_* from the suite."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "DJANGO_SETTINGS_MODULE" and not name.startswith(("POSTMARK_", "EXAMPLE_"))
    }
    return dict(env, EXAMPLE_DATABASE=str(database), PYTHONUNBUFFERED="1")


@dataclass
class Demo:
    process: subprocess.Popen[str]
    site: str
    sandbox: str
    username: str
    password: str
    database: Path
    output: list[str]

    reader: threading.Thread | None = None

    def follow_output(self) -> None:
        """Keep appending what demo.py prints to ``output`` (a thread), until it exits."""
        assert self.process.stdout is not None
        stream = self.process.stdout

        def read() -> None:
            for line in stream:
                self.output.append(line.rstrip("\n"))

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def wait_for_output(self, text: str, timeout: float = 30) -> str:
        """The first line demo.py printed that contains ``text``, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.output) if text in line]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"demo.py never printed {text!r}:\n" + "\n".join(self.output))

    def stop(self) -> int:
        """Ctrl-C, as a person would; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        returncode = self.process.wait(timeout=30)
        if self.reader is not None:
            self.reader.join(timeout=10)
        return returncode

    def leftover_processes(self) -> list[int]:
        """Processes other than demo.py still running with this demo's database in their
        environment (demo.py passes it to every child)."""
        marker = f"EXAMPLE_DATABASE={self.database}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.process.pid:
                continue
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker in environ.split(b"\0") and state != "Z":
                found.append(int(entry.name))
        return found

    def sign_in(self, username: str | None = None, password: str | None = None) -> requests.Session:
        """A session signed in through the site's own sign-in page (the demo's staff login
        unless told otherwise), as a browser would: its CSRF token, then the form."""
        session = requests.Session()
        page = session.get(self.site + "/login/", timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None, page
        answer = session.post(
            self.site + "/login/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": username or self.username,
                "password": password or self.password,
                "next": "/",
            },
            headers={"Referer": self.site + "/login/"},
            timeout=10,
        )
        assert answer.status_code == 200 and "sessionid" in session.cookies, answer.text
        return session

    def press(self, session: requests.Session, page: str, action: str, **fields: str) -> str:
        """Post a form of one of the site's pages (``page``, ``/`` say) to ``action`` as a
        browser does, with the page's CSRF token; the last message flashed on the page it
        leads to (unescaped)."""
        text = session.get(self.site + page, timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
        assert token is not None, text
        answer = session.post(
            self.site + action,
            data={"csrfmiddlewaretoken": token.group(1), **fields},
            headers={"Referer": self.site + page},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        flashes = re.findall(r'class="flash[^"]*">([^<]+)<', answer.text)
        assert flashes, answer.text
        return html.unescape(flashes[-1])

    def sandbox_state(self) -> dict[str, list[dict[str, object]]]:
        state: dict[str, list[dict[str, object]]] = requests.get(
            self.sandbox + "/sandbox/state.json", timeout=5
        ).json()
        return state


@contextmanager
def running_demo(tmp_path: Path, *flags: str, **extra_env: str) -> Iterator[Demo]:
    """demo.py with these flags (``--reset``) and environment; the database is in tmp_path, so
    running it again on the same tmp_path finds the same messages."""
    site_port, sandbox_port = free_port(), free_port()
    database = tmp_path / "demo.sqlite3"
    env = dict(example_env(database), **extra_env)
    process = subprocess.Popen(
        [
            sys.executable,
            str(DEMO),
            "--port",
            str(site_port),
            "--sandbox-port",
            str(sandbox_port),
            "--log-dir",
            str(tmp_path / "logs"),
            *flags,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 90
    while not any("Ctrl-C stops everything" in line for line in output):
        line = process.stdout.readline()
        if (not line and process.poll() is not None) or time.monotonic() > deadline:
            process.kill()
            logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
            raise AssertionError("The demo did not start:\n" + "".join(output) + logs)
        output.append(line)
    login = re.search(r"\((\S+) / (\S+)\)", "".join(output))
    assert login is not None, output
    demo = Demo(
        process,
        f"http://127.0.0.1:{site_port}",
        f"http://127.0.0.1:{sandbox_port}",
        login.group(1),
        login.group(2),
        database,
        output,
    )
    demo.follow_output()
    try:
        yield demo
    finally:
        if process.poll() is None:
            demo.stop()
