"""The example site as a stranger meets it when it is reachable from the network: it must not
send mail for anyone but signed-in staff, nor show whom mail went to; no password of it is
published; DEBUG is off unless asked; and ``make demo`` puts no secret on a command line.

One demo (real sandbox, worker and site processes) serves the module; every URL the site's
resolver knows is tried, so a view added later is covered without a change here.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import urljoin

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.support.example_demo import BOUNCE_TESTING, DEMO, Demo, example_env, running_demo
from tests.support.example_routes import MARKER

pytestmark = [pytest.mark.worker, pytest.mark.checkout, pytest.mark.example]

EXAMPLE = DEMO.parent
MANAGE = EXAMPLE / "manage.py"
REPO = EXAMPLE.parent
#: Exported as a person with a real account would: it must reach no command line.
EXPORTED_TOKEN = "exported-server-token-0b7c4e"
DELIVERED, DELIVERED_SUBJECT = "private.person@example.com", "Private subject 5c1f"
BOUNCED, BOUNCED_SUBJECT = f"hardbounce@{BOUNCE_TESTING}", "Private bounce 8e2a"
COMMENTER, COMMENT, POST = "private.reader@example.com", "Private comment 2b9e", "Private 7d3a"
PRIVATE = (DELIVERED, DELIVERED_SUBJECT, BOUNCED, BOUNCED_SUBJECT, COMMENTER, COMMENT, POST)
RELAY_TO = "relay-target@example.net"
#: The example's own pages; the rest is Django's and the app's.
OUR_VIEWS = ("", "send/", "live/", "lose-answer/", "posts/", "posts/live/", "posts/publish/")
#: Redirects here need not be followed to look for leaks: they only show a sign-in form.
SIGN_IN_PAGES = ("/login/", "/admin/login/")

ROUTES = "from tests.support.example_routes import print_routes; print_routes()"


def manage(demo: Demo, *args: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=dict(example_env(demo.database), POSTMARK_API_URL=demo.sandbox, **env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def csrf_token(session: requests.Session, demo: Demo) -> str:
    """What anyone can take: the token of the sign-in page's form."""
    page = session.get(demo.site + "/login/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None, page
    return token.group(1)


def send_as_staff(demo: Demo, session: requests.Session, **fields: str) -> requests.Response:
    return session.post(
        demo.site + "/send/",
        data={"csrfmiddlewaretoken": csrf_token(session, demo), **fields},
        timeout=10,
    )


def wait_for(session: requests.Session, url: str, pattern: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, text := session.get(url, timeout=10).text, re.S):
        assert time.monotonic() < deadline, f"{pattern!r} never appeared:\n{text}"
        time.sleep(0.3)
    return text


def row_counts(demo: Demo) -> tuple[int, ...]:
    """Messages logged and batches queued (any send, by either backend, adds to one), posts
    and comments."""
    with closing(sqlite3.connect(demo.database)) as db:
        counts = db.execute(
            "SELECT (SELECT COUNT(*) FROM postmark_message), "
            "(SELECT COUNT(*) FROM postmark_queuedbatch), "
            "(SELECT COUNT(*) FROM example_post), (SELECT COUNT(*) FROM example_comment)"
        ).fetchone()
    return tuple(int(count) for count in counts)


@dataclass
class Site:
    demo: Demo
    staff: requests.Session
    routes: list[tuple[str, str]]  # (the resolver's route, a concrete path)
    visitor: tuple[str, str]  # a signed-up user who is not staff


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_demo(tmp_path_factory.mktemp("demo"), POSTMARK_API_KEY=EXPORTED_TOKEN) as demo:
        staff = demo.sign_in()
        for to, subject in ((DELIVERED, DELIVERED_SUBJECT), (BOUNCED, BOUNCED_SUBJECT)):
            assert send_as_staff(demo, staff, to=to, subject=subject, body="b").status_code == 200
        for shown in ("badge delivered", "badge bounced", r'id="suppressions">.*hardbounce@'):
            wait_for(staff, demo.site + "/live/", shown)
        output = manage(demo, "shell", "-v", "0", "-c", ROUTES)
        routes = [tuple(pair) for pair in json.loads(output.split(MARKER, 1)[1])]
        visitor = ("visitor", "visitor-password-" + os.urandom(6).hex())
        script = (
            "import os; from django.contrib.auth.models import User; "
            "User.objects.create_user('visitor', password=os.environ['VISITOR_PASSWORD'])"
        )
        manage(demo, "shell", "-c", script, VISITOR_PASSWORD=visitor[1])
        # A post with a comment, as a reply by email leaves it (no mail sent).
        script = (
            "from example.models import Post; "
            f"Post.objects.create(title={POST!r}, text='t')"
            f".comments.create(email={COMMENTER!r}, text={COMMENT!r})"
        )
        manage(demo, "shell", "-c", script)
        yield Site(demo, staff, routes, visitor)  # type: ignore[arg-type]


def test_staff_send_and_see_every_recipient(site: Site) -> None:
    """The control: what the other tests must not find is there for staff."""
    page = site.staff.get(site.demo.site + "/", timeout=10).text
    page += site.staff.get(site.demo.site + "/posts/", timeout=10).text
    assert all(text in page for text in PRIVATE)
    sent = [m["To"] for m in site.demo.sandbox_state()["messages"]]
    assert sorted(sent, key=str) == [[BOUNCED], [DELIVERED]]


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_no_url_sends_or_shows_mail_for_anyone_but_staff(site: Site, who: str) -> None:
    demo = site.demo

    def new_session() -> tuple[requests.Session, str]:
        session = requests.Session() if who == "anonymous" else demo.sign_in(*site.visitor)
        return session, csrf_token(session, demo)

    session, token = new_session()
    rows, problems, tried = row_counts(demo), [], 0
    form = {
        "to": RELAY_TO,
        "subject": "Relayed",
        "body": "spam",
        "quick": RELAY_TO,
        "title": "Relayed",  # with "to": what publishing a post takes
        "text": "spam",
    }
    for route, path in site.routes:
        for method in ("GET", "POST", "PUT", "DELETE"):
            for with_csrf in (False,) if method == "GET" else (False, True):
                if who != "anonymous" and "sessionid" not in session.cookies:
                    session, token = new_session()  # a logout URL signed the visitor out
                answer = session.request(
                    method,
                    demo.site + path,
                    data={**form, "csrfmiddlewaretoken": token} if with_csrf else form,
                    headers={"X-CSRFToken": token} if with_csrf else {},
                    allow_redirects=False,
                    timeout=10,
                )
                tried += 1
                variant = f"{who} {method} {path}{' with CSRF' if with_csrf else ''}"
                bodies = [answer.text]
                location = answer.headers.get("Location", "")
                if answer.is_redirect and not location.startswith(SIGN_IN_PAGES):
                    bodies.append(session.get(urljoin(demo.site + path, location)).text)
                if leaked := [text for text in PRIVATE if any(text in b for b in bodies)]:
                    problems.append(f"{variant}: shows {leaked}")
                if (now := row_counts(demo)) != rows:
                    problems.append(f"{variant}: sent or queued mail ({rows} -> {now})")
                    rows = now
                if route in OUR_VIEWS and not (
                    answer.status_code == 403 or location.startswith("/login/")
                ):
                    problems.append(f"{variant}: answered {answer.status_code} {location}")
    assert problems == [] and tried == 7 * len(site.routes)
    sandbox = json.dumps(demo.sandbox_state())
    assert RELAY_TO not in sandbox and len(demo.sandbox_state()["messages"]) == 2


def test_debug_is_off_and_foreign_hosts_refused_in_the_running_demo(site: Site) -> None:
    missing = requests.get(site.demo.site + "/no-such-page/", timeout=10)
    assert missing.status_code == 404 and "URLconf" not in missing.text
    port = site.demo.site.rsplit(":", 1)[1]
    for host in ("evil.example", f"127.0.0.1.nip.io:{port}", f"localhost.evil.example:{port}"):
        answer = requests.get(site.demo.site + "/login/", headers={"Host": host}, timeout=10)
        assert answer.status_code == 400, host


@contextmanager
def example_importable() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [n for n in sys.modules if n == "example" or n.startswith("example.")]:
            del sys.modules[name]


flag_values = st.one_of(
    st.none(),
    st.sampled_from(["1", "true", "TRUE", " yes ", "On", "0", "false", "no", "off", "", "debug"]),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8),
)


@given(value=flag_values)
def test_settings_have_debug_only_when_the_variable_asks(value: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXAMPLE_")}
        env["EXAMPLE_DATABASE"] = str(Path(folder) / "db.sqlite3")
        if value is not None:
            env["EXAMPLE_DEBUG"] = value
        with mock.patch.dict(os.environ, env, clear=True), example_importable():
            settings = runpy.run_path(str(EXAMPLE / "example" / "settings.py"))
    asked = value is not None and value.strip().lower() in ("1", "true", "yes", "on")
    assert settings["DEBUG"] is asked
    assert "*" not in settings["ALLOWED_HOSTS"]
    assert set(settings["ALLOWED_HOSTS"]) <= {"127.0.0.1", "localhost", "[::1]"}


def test_no_fixed_password_or_key_is_in_the_example_or_its_instructions() -> None:
    published = ("postmark-demo", "sandbox-webhook-password", "example-only-not-secret")
    docs = [REPO / "README.rst", *(REPO / "docs").rglob("*.rst")]
    files = [*docs, *EXAMPLE.rglob("*.py"), *EXAMPLE.rglob("*.html")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not [word for word in published if word in text], path


def demo_admin(database: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(example_env(database), **env)
    subprocess.run([sys.executable, str(MANAGE), "migrate", "-v0"], env=full, check=True)
    return subprocess.run(
        [sys.executable, str(MANAGE), "demo_admin"], env=full, capture_output=True, text=True
    )


def test_demo_login_is_random_per_database_and_kept_for_its_owner_only(tmp_path: Path) -> None:
    first, second = tmp_path / "one.sqlite3", tmp_path / "two.sqlite3"
    logins = {demo_admin(first).stdout, demo_admin(second).stdout, demo_admin(first).stdout}
    assert len(logins) == 2  # the same database prints the same login; another, another
    kept = Path(str(first) + "-demo-login")
    assert kept.stat().st_mode & 0o777 == 0o600
    assert Path(str(first) + "-secret-key").stat().st_mode & 0o777 == 0o600
    given = demo_admin(tmp_path / "three.sqlite3", EXAMPLE_ADMIN_PASSWORD="mine-Xy7")
    assert given.stdout == "Admin login: admin / mine-Xy7\n"


@pytest.mark.parametrize(
    "api_url", ["https://api.postmarkapp.com", "http://sandbox.example.com:8025", "http://10.0.0.5"]
)
def test_demo_admin_creates_nobody_against_a_remote_api(tmp_path: Path, api_url: str) -> None:
    database = tmp_path / "db.sqlite3"
    refused = demo_admin(database, POSTMARK_API_URL=api_url)
    assert refused.returncode == 1 and "createsuperuser" in refused.stderr
    assert "Admin login" not in refused.stdout
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT COUNT(*) FROM auth_user").fetchone() == (0,)
    assert not Path(str(database) + "-demo-login").exists()


def test_no_secret_is_on_the_command_line_of_any_demo_process(site: Site) -> None:
    demo = site.demo
    pids = [demo.process.pid, *demo.leftover_processes()]
    assert len(pids) == 4  # demo.py, sandbox, site, worker
    secrets = {EXPORTED_TOKEN, demo.password}
    for pid in pids[1:]:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        for entry in environ:
            name, _, value = entry.decode(errors="replace").partition("=")
            if name in ("POSTMARK_API_KEY", "POSTMARK_API_PASSWORD", "POSTMARK_SANDBOX_TOKEN"):
                secrets.add(value)
            if name == "POSTMARK_SANDBOX_WEBHOOK_URL":
                secrets.add(value)
                secrets.add(value.split("@")[0].rsplit(":", 1)[1])  # its password alone
    secrets.discard("")
    for pid in pids:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert [s for s in secrets if s in argv] == [], argv.split("\0")
    # They reached the children all the same: the token, the webhook password and URL.
    assert len(secrets) >= 4, secrets


def test_a_webhook_the_site_refuses_is_told_in_the_demo_terminal(site: Site) -> None:
    """Through the sandbox's Webhooks API, Delivery events go to the site with a wrong password:
    demo.py shows the sandbox's line about it (its status and URL, not the password)."""
    demo = site.demo
    headers = {"X-Postmark-Server-Token": EXPORTED_TOKEN}
    webhook = {
        "Url": demo.site + "/postmark/bounce/",
        "HttpAuth": {"Username": "postmark", "Password": "wrong-password-5d1"},
        "Triggers": {"Delivery": {"Enabled": True}},
    }
    created = requests.post(demo.sandbox + "/webhooks", json=webhook, headers=headers, timeout=5)
    try:
        send_as_staff(demo, site.staff, to="ann@example.com", subject="Refused hook", body="b")
        line = demo.wait_for_output("sandbox: Webhook Delivery")
    finally:
        requests.delete(f"{demo.sandbox}/webhooks/{created.json()['ID']}", headers=headers)
    assert f"to {demo.site}/postmark/bounce/ failed: 401 Unauthorized" in line
    assert "wrong-password-5d1" not in "\n".join(demo.output)
