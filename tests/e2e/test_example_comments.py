"""Comments by email in the example, as ``make demo`` runs it: a post's notification goes out
through the worker and the sandbox with a signed Reply-To; the reader's reply, delivered by the
sandbox's Reply form over HTTP as a browser posts it, reaches the site's inbound webhook, the
worker routes it to the "comments" mailbox, and the comment shows on the page. A reply to a
changed address is no comment: its sender gets a notice instead."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.example_demo import DEMO, Demo, example_env, running_demo

# checkout: the example project is not in the wheel (make test-wheel leaves this out).
pytestmark = [pytest.mark.worker, pytest.mark.checkout, pytest.mark.example]

MANAGE = DEMO.parent / "manage.py"
READER = "reader@example.com"
REPLY_ADDRESS = re.compile(r"reply\+[a-z2-7]+@inbound\.example\.com")


def publish(demo: Demo, session: requests.Session, title: str) -> str:
    """Publish a post from the page's form (with its CSRF token), notifying READER; the flash."""
    page = session.get(demo.site + "/posts/", timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None, page
    answer = session.post(
        demo.site + "/posts/publish/",
        data={"csrfmiddlewaretoken": token.group(1), "title": title, "text": "Hi.", "to": READER},
        headers={"Referer": demo.site + "/posts/"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    flashes = re.findall(r'class="flash[^"]*">([^<]+)<', answer.text)
    assert flashes, answer.text
    return html.unescape(flashes[-1])


def sent_message(demo: Demo, subject: str, timeout: float = 30) -> dict[str, object]:
    """The message the sandbox received with this subject, once the worker has sent it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in demo.sandbox_state()["messages"] if m["Subject"] == subject]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"{subject!r} never reached the sandbox"
        time.sleep(0.3)


def reply_form(demo: Demo, message_id: str) -> dict[str, str]:
    """The sandbox's inbound form as its Reply link fills it in: every field, and its token."""
    page = requests.get(
        demo.sandbox + "/sandbox/inbound", params={"reply": message_id}, timeout=10
    ).text
    fields = {n: html.unescape(v) for n, v in re.findall(r'name="(\w+)" value="([^"]*)"', page)}
    for name, value in re.findall(
        r'<textarea[^>]* name="(\w+)"[^>]*>\n(.*?)</textarea>', page, re.S
    ):
        fields[name] = html.unescape(value)
    return fields


def deliver(demo: Demo, fields: dict[str, str]) -> None:
    """Post the form as the browser does on the sandbox's own page."""
    answer = requests.post(
        demo.sandbox + "/sandbox/inbound",
        files={name: (None, value) for name, value in fields.items()},
        headers={"Origin": demo.sandbox, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text


def wait_for_posts(session: requests.Session, demo: Demo, pattern: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, live := session.get(demo.site + "/posts/live/").text, re.S):
        assert time.monotonic() < deadline, f"{pattern!r} never appeared:\n{live}"
        time.sleep(0.3)
    return live


def row_of(live: str, text: str) -> str:
    rows = [row for row in re.findall(r"<tr>.*?</tr>", live, re.S) if text in row]
    assert len(rows) == 1, live
    return rows[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running


def test_a_reply_to_a_posts_notification_becomes_its_comment(demo: Demo) -> None:
    session = demo.sign_in()
    flash = publish(demo, session, "Round trip")
    address = REPLY_ADDRESS.search(flash)
    assert address is not None and "Notification to reader@example.com: queued" in flash
    notification = sent_message(demo, "New post: Round trip")
    fields = reply_form(demo, str(notification["MessageID"]))
    assert (fields["from"], fields["to"]) == (READER, address.group())
    assert fields["subject"] == "Re: New post: Round trip"

    deliver(demo, dict(fields, text="Count me in!" + fields["text"]))

    live = wait_for_posts(demo=demo, session=session, pattern=r"Count me in!")
    post = re.search(r'<article class="post".*?Round trip.*?</article>', live, re.S)
    assert post is not None and READER in post.group()
    assert "Reply to this email" not in post.group()  # the quoted notification is left out
    row = row_of(live, "Re: New post: Round trip")
    assert "badge processed" in row and "<td>comments</td>" in row
    [delivery] = [
        hook
        for hook in demo.sandbox_state()["webhooks"]
        if hook["RecordType"] == "Inbound" and "Round trip" in str(hook["Payload"]["Subject"])  # type: ignore[index]
    ]
    assert delivery["Statuses"] == [200]


def test_a_reply_to_a_changed_address_is_no_comment_and_its_sender_gets_a_notice(
    demo: Demo,
) -> None:
    session = demo.sign_in()
    publish(demo, session, "Tampered")
    fields = reply_form(demo, str(sent_message(demo, "New post: Tampered")["MessageID"]))
    local, _, domain = fields["to"].partition("@")
    # A letter in the middle: every bit of it is the token's (the last may hold padding).
    changed = local[:-5] + ("a" if local[-5] != "a" else "b") + local[-4:]

    deliver(demo, dict(fields, to=f"{changed}@{domain}", text="Let me in"))

    live = wait_for_posts(demo=demo, session=session, pattern=r"Notice: sent")
    row = row_of(live, "Reply address refused")
    assert "badge bounced" in row and "<td>others</td>" in row
    assert "(tampered)" in row and "Let me in" not in live
    notice = sent_message(demo, "Re: New post: Tampered")
    assert notice["To"] == [READER] and notice["Outcomes"] == {READER: "delivered"}


@pytest.mark.parametrize(
    ("change", "note"),
    [
        ({"text": " \n "}, "An empty reply: no comment."),
        ({"from": "a" * 250 + "@example.com"}, "longer than any real one"),
    ],
)
def test_an_empty_reply_or_one_from_no_real_address_is_dropped_not_commented(
    demo: Demo, change: dict[str, str], note: str
) -> None:
    session = demo.sign_in()
    title = f"Dropped {len(change['text']) if 'text' in change else 'sender'}"
    publish(demo, session, title)
    fields = reply_form(demo, str(sent_message(demo, f"New post: {title}")["MessageID"]))

    deliver(demo, dict(fields, **change))

    live = wait_for_posts(session, demo, re.escape(note))
    assert "badge bounced" in row_of(live, note) and "Dropped: no notice sent" in live
    post = re.search(rf'<article class="post"[^>]*>\s*<h3>{title} .*?</article>', live, re.S)
    assert post is not None and "No comments yet" in post.group()


#: A reply kept by the site whose task a worker took (the reply "routed"), before it stopped.
STRANDED = """
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from example.models import Post
from postmark.inbound.replies import reply_address
from postmark.models import InboundMessage
from postmark.testing.inbound_delivery import InboundTestClient

post = Post.objects.create(title="Stranded", text="t")
delivered = InboundTestClient().deliver(
    to=reply_address(post), from_email="ann@example.com", subject="Re: Stranded", text="Left"
)
taken = InboundMessage.objects.update(status="routed", claimed_at=timezone.now())
print(delivered.status_code, taken, DBTaskResult.objects.update(status="RUNNING"))
"""


def test_the_demo_gives_a_reply_its_stopped_worker_left_to_the_next_worker(tmp_path: Path) -> None:
    env = example_env(tmp_path / "demo.sqlite3")
    run = [sys.executable, str(MANAGE)]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    # The test client's host, and the webhook's credentials, for this one process.
    shell_env = dict(env, EXAMPLE_ALLOWED_HOSTS="testserver", POSTMARK_API_PASSWORD="pw-4c1d")
    left = subprocess.run(
        [*run, "shell", "-v", "0", "-c", STRANDED], env=shell_env, capture_output=True, text=True
    )
    assert left.stdout.split() == ["200", "1", "1"], left.stdout + left.stderr
    with running_demo(tmp_path) as demo:
        live = wait_for_posts(demo.sign_in(), demo, r"badge processed", timeout=60)
    assert re.search(r"Stranded.*?ann@example\.com.*?Left", live, re.S), live


def test_without_the_queued_backend_the_site_processes_replies_itself(tmp_path: Path) -> None:
    backend = "postmark.backends.PostmarkBackend"
    with running_demo(tmp_path, EXAMPLE_EMAIL_BACKEND=backend) as demo:
        assert len(demo.leftover_processes()) == 2  # sandbox and site: no worker
        session = demo.sign_in()
        assert ": sent." in publish(demo, session, "No worker")
        fields = reply_form(demo, str(sent_message(demo, "New post: No worker")["MessageID"]))
        deliver(demo, dict(fields, text="Processed by the site"))
        live = wait_for_posts(session, demo, r"Processed by the site")
    assert "badge processed" in row_of(live, "Re: New post: No worker")
