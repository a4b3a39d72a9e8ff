"""The inbound mail admin: the list (status and error, mailbox, sender, subject, attachments), its
filters and its bounded search; a message's page, which shows everything a sender wrote as text,
never as markup (Hypothesis writes the hostile mail); attachments as downloads; and the reprocess
and reroute actions, run through the admin's own POST, each behind its own permission."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from postmark.inbound import InboundMail, Mailbox
from postmark.models import InboundMessage, WebhookEvent
from postmark.signals import inbound_routed
from tests.support import webhook_payloads as payloads
from tests.support.inbound_mail import raw_email
from tests.support.webhook_helpers import INBOUND_URL, post

pytestmark = pytest.mark.django_db

Status = InboundMessage.Status
LIST = "/admin/postmark/inboundmessage/"
SUPPORT = "support@in.example.com"


def inbound(**changes: Any) -> dict[str, Any]:
    return payloads.inbound(**{"MessageID": str(uuid.uuid4()), **changes})


def sent_by(address: str) -> dict[str, Any]:
    return {"From": address, "FromFull": {"Email": address, "Name": "", "MailboxHash": ""}}


def page_of(record: InboundMessage) -> str:
    return f"{LIST}{record.pk}/change/"


def record(payload: dict[str, Any]) -> InboundMessage:
    return InboundMessage.objects.get(message_id=payload["MessageID"])


class Support:
    """The mailbox "support": what it was given; it raises the exception ``broken`` holds, and
    drops the mail with the note ``dropping`` holds."""

    def __init__(self) -> None:
        self.given: list[InboundMail] = []
        self.broken: Exception | None = None
        self.dropping = ""

    def __call__(self, sender: Mailbox, mail: InboundMail, **kwargs: Any) -> None:
        self.given.append(mail)
        if self.broken is not None:
            raise self.broken
        if self.dropping:
            mail.drop(self.dropping)


@pytest.fixture
def support(settings: Any) -> Iterator[Support]:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support", "to": SUPPORT}]
    settings.POSTMARK_INBOUND_PROCESSING = "sync"
    mailbox = Support()
    inbound_routed.connect(mailbox, sender=Mailbox.named("support"), weak=False)
    yield mailbox
    inbound_routed.disconnect(mailbox, sender=Mailbox.named("support"))


@pytest.fixture
def deliver(client: Client, django_capture_on_commit_callbacks: Any) -> Any:
    """POST inbound mail to the webhook as Postmark does, and run what its commit schedules."""

    def delivered(payload: dict[str, Any]) -> InboundMessage:
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, payload, INBOUND_URL).status_code == 200
        return record(payload)

    return delivered


@pytest.fixture
def mail(deliver: Any, support: Support) -> dict[str, InboundMessage]:
    """One message of each kind: processed, failed (its mailbox raised), unrouted."""
    done = deliver(
        inbound(OriginalRecipient=SUPPORT, Subject="Invoice 42", **sent_by("alice@x.org"))
    )
    support.broken = RuntimeError("the ticket system is down")
    failed = deliver(inbound(OriginalRecipient=SUPPORT, Subject="Help", **sent_by("bob@y.org")))
    support.broken = None
    lost = deliver(inbound(OriginalRecipient="nobody@in.example.com", Subject="Lost"))
    assert (done.status, failed.status, lost.status) == ("processed", "failed", "unrouted")
    return {"processed": done, "failed": failed, "unrouted": lost}


def staff(*codenames: str) -> Client:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="postmark", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def run_action(client: Client, action: str, *records: InboundMessage) -> Any:
    data = {"action": action, "_selected_action": [r.pk for r in records]}
    return client.post(LIST, data, follow=True)


def said(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_status_and_error_mailbox_sender_subject_and_attachments(
    admin_client: Client, mail: dict[str, InboundMessage]
) -> None:
    html = admin_client.get(LIST).content.decode()

    # The status with its mailbox, and the error of a failure.
    assert ">Failed (support): RuntimeError: the ticket system is down<" in html
    assert ">Processed (support)<" in html and ">Unrouted<" in html
    assert "alice@x.org" in html and "Invoice 42" in html
    assert '<span title="45\xa0bytes">1</span>' in html  # the sample's attachment


def test_the_list_filters_by_status_and_by_the_mailboxes_the_routes_name(
    admin_client: Client, mail: dict[str, InboundMessage]
) -> None:
    failed = admin_client.get(LIST, {"status__exact": "failed"})
    in_support = admin_client.get(LIST, {"mailbox": "support"})

    assert list(failed.context["cl"].result_list) == [mail["failed"]]
    assert set(in_support.context["cl"].result_list) == {mail["processed"], mail["failed"]}
    assert '?mailbox=support"' in admin_client.get(LIST).content.decode()


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("processed", ["processed"]),  # replaced by that message's MessageID
        ("alice@x.org", ["processed"]),
        ("ALICE", ["processed"]),  # the beginning of the sender's address, in any case
        ("Invoice 42", ["processed"]),  # the whole term, not each word
        ("invoice", ["processed"]),
        ("42", []),  # the middle of a subject: no "%term%" scan of every row
        ("x.org", []),
        ("processed-prefix", []),  # part of a MessageID: only the whole one
    ],
)
def test_search_finds_a_message_id_exactly_and_a_sender_or_subject_by_its_beginning(
    admin_client: Client, mail: dict[str, InboundMessage], term: str, found: list[str]
) -> None:
    if term == "processed":
        term = mail["processed"].message_id
    elif term == "processed-prefix":
        term = mail["processed"].message_id[:8]

    response = admin_client.get(LIST, {"q": term})

    assert list(response.context["cl"].result_list) == [mail[kind] for kind in found]


# --- a message's page ------------------------------------------------------------------------


def test_a_message_page_shows_its_headers_bodies_attachments_and_failure(
    admin_client: Client, mail: dict[str, InboundMessage]
) -> None:
    html = admin_client.get(page_of(mail["failed"])).content.decode()

    assert "<h1>View inbound message</h1>" in html and 'name="_save"' not in html
    assert "Failed: retried at " in html and "(attempt 1)" in html
    assert "RuntimeError: the ticket system is down" in html and "Traceback (most recent" in html
    assert '<th scope="row">From</th><td>bob@y.org</td>' in html
    assert "X-Spam-Status" in html and "This is a test text body." in html
    assert "This is the reply text" in html  # StrippedTextReply
    # The HTML body as its source, escaped: no <p> of the sender's in the page.
    assert "&lt;html&gt;&lt;body&gt;&lt;p&gt;This is a test html body.&lt;/p&gt;" in html
    assert "<p>This is a test html body.</p>" not in html
    assert "<td>test.txt</td>" in html and "<td>text/plain</td>" in html
    assert "45\xa0bytes" in html
    assert f"{page_of(mail['failed']).removesuffix('change/')}attachment/1/" in html


def test_a_message_its_mailbox_refused_says_why_on_its_page(
    admin_client: Client, deliver: Any, support: Support
) -> None:
    support.dropping = "Looks like spam"
    row = deliver(inbound(OriginalRecipient=SUPPORT))

    html = admin_client.get(page_of(row)).content.decode()

    assert row.status == Status.BOUNCED
    assert "Bounced: Looks like spam" in html


def test_a_message_whose_json_has_no_body_is_shown_from_its_raw_mime(
    admin_client: Client, deliver: Any
) -> None:
    html = '<p onclick="steal()">Hi from <b>raw</b></p>'
    raw = raw_email({"To": SUPPORT}, html, "text/html; charset=utf-8")
    row = deliver(inbound(TextBody="", HtmlBody="", RawEmail=raw))

    page = admin_client.get(page_of(row)).content.decode()

    assert f'<pre id="inbound-html">{escape(html)}</pre>' in page
    assert '<p class="note" id="inbound-text">none</p>' in page


def test_a_message_whose_stored_content_is_unreadable_says_so(
    admin_client: Client, mail: dict[str, InboundMessage]
) -> None:
    WebhookEvent.objects.filter(pk=mail["processed"].webhook_event_id).update(body="not JSON")

    response = admin_client.get(page_of(mail["processed"]))

    assert response.status_code == 200
    assert 'id="inbound-problem"' in response.content.decode()
    assert "cannot be read" in response.content.decode()


# --- hostile mail ----------------------------------------------------------------------------

SNIPPETS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    "</pre><script>alert(2)</script><pre>",
    '"><svg onload=alert(3)>',
    "<iframe srcdoc='<script>alert(4)</script>'></iframe>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(5)">',
    "<base href='//evil.example/'>",
    "<style>body{display:none}</style>",
    "</td></tr></table></fieldset></form>",
    "<form action='//evil.example/'><input name=x></form>",
    '<object data="javascript:alert(6)"></object>',
    "<!--",
    "&lt;b&gt;",
    "{{ request }}{% csrf_token %}",
    "\u202egnp.exe",
]
#: Text as a sender writes it: snippets of markup between any characters a JSON string holds
#: and the database keeps as they are (NUL is stored as U+FFFD: see storage.values).
hostile = st.lists(
    st.sampled_from(SNIPPETS)
    | st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
    min_size=1,
    max_size=5,
).map("".join)


def hostile_mail(write: Any) -> dict[str, Any]:
    """Postmark's sample with ``write(field)`` in every field a sender controls that the admin
    shows: the bodies, the subject, the sender's name, a header, an attachment's name and type."""
    return inbound(
        FromName=write("name"),
        FromFull={"Email": "sender@example.com", "Name": write("name"), "MailboxHash": ""},
        Subject=write("subject"),
        TextBody=write("text"),
        HtmlBody=write("html"),
        StrippedTextReply=write("reply"),
        Headers=[{"Name": "X-Note", "Value": write("header")}],
        Attachments=[
            {
                # A folder in front: the safe name always differs from the name as sent.
                "Name": "folder/" + write("file"),
                "Content": base64.b64encode(b"content").decode(),
                "ContentType": "text/html",
                "ContentID": write("cid"),
            }
        ],
    )


#: What a sender writes that the admin shows (see ``hostile_mail``).
SNIPPET_FIELDS = ("name", "subject", "text", "html", "reply", "header", "file", "cid")


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcdoc", "xlink:href"}


class Markup(HTMLParser):
    """A page's elements (tag and attribute names, in order), its event-handler attributes and
    its javascript: links."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[str, ...]]] = []
        self.handlers: list[str] = []
        self.scripted_urls: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, tuple(sorted(name for name, _ in attrs))))
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            url = "".join((value or "").split()).lower()
            if name in URL_ATTRIBUTES and url.startswith("javascript:"):
                self.scripted_urls.append(f"<{tag} {name}={value!r}>")


@given(written=st.fixed_dictionaries({key: hostile for key in SNIPPET_FIELDS}))
def test_nothing_a_sender_writes_becomes_markup_in_the_admin(written: dict[str, str]) -> None:
    client = Client()
    user = User.objects.filter(username="root").first() or User.objects.create_superuser("root")
    client.force_login(user)
    hostile_payload = hostile_mail(written.__getitem__)
    # Its twin: each character an "x" but white space, which the admin's own markup follows
    # (a line break is a <br> in a field): the page must have the same elements.
    plain_payload = hostile_mail(
        lambda key: "".join(c if c.isspace() else "x" for c in written[key])
    )
    pages = {}
    for name, payload in (("hostile", hostile_payload), ("plain", plain_payload)):
        assert post(client, payload, INBOUND_URL).status_code == 200
        row = record(payload)
        listed = client.get(LIST, {"q": row.message_id})
        shown = client.get(page_of(row))
        assert (listed.status_code, shown.status_code) == (200, 200)
        pages[name] = (listed.content.decode(), shown.content.decode())

    for hostile_page, plain_page in zip(pages["hostile"], pages["plain"], strict=True):
        markup = Markup(hostile_page)
        assert markup.elements == Markup(plain_page).elements
        assert markup.handlers == [] and markup.scripted_urls == []
    assert escape(written["html"]) in pages["hostile"][1]  # shown, as its source
    assert escape(written["text"]) in pages["hostile"][1]


# --- attachments ---------------------------------------------------------------------------


def attachment_url(row: InboundMessage, number: int = 1) -> str:
    return f"{LIST}{row.pk}/attachment/{number}/"


@pytest.mark.parametrize(
    ("sent_as", "saved_as"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("../../etc/passwd", 'attachment; filename="passwd"'),
        ('a"b\r\nSet-Cookie: x=1.html', 'attachment; filename="a_bSet-Cookie_ x=1.html"'),
        ("r\u00e9sum\u00e9.txt", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt"),
    ],
)
def test_an_attachment_is_downloaded_under_its_safe_name_never_shown_as_a_page(
    admin_client: Client, deliver: Any, sent_as: str, saved_as: str
) -> None:
    content = b"<html><script>alert(1)</script></html>"
    row = deliver(
        inbound(
            Attachments=[
                {
                    "Name": sent_as,
                    "Content": base64.b64encode(content).decode(),
                    "ContentType": "text/html",
                }
            ]
        )
    )

    response = admin_client.get(attachment_url(row))

    assert response.status_code == 200 and response.content == content
    assert response["Content-Disposition"] == saved_as
    assert response["Content-Type"] == "application/octet-stream"  # whatever the sender said
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")


def test_an_attachment_that_is_not_there_is_a_404(admin_client: Client, deliver: Any) -> None:
    row = deliver(inbound())  # one attachment

    assert admin_client.get(attachment_url(row, 0)).status_code == 404
    assert admin_client.get(attachment_url(row, 2)).status_code == 404
    assert admin_client.get(f"{LIST}999999/attachment/1/").status_code == 404


def test_an_attachment_is_for_those_who_may_view_the_message(deliver: Any) -> None:
    row = deliver(inbound())

    assert staff().get(attachment_url(row)).status_code == 403
    assert staff("view_inboundmessage").get(attachment_url(row)).status_code == 200


# --- actions -------------------------------------------------------------------------------


def test_reprocess_runs_failed_mail_again_in_its_mailbox_and_says_what_it_skipped(
    mail: dict[str, InboundMessage], support: Support, django_capture_on_commit_callbacks: Any
) -> None:
    client = staff("view_inboundmessage", "reprocess_inboundmessage")
    support.given.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, "reprocess", mail["failed"], mail["processed"])

    assert said(response) == [
        "1 inbound message scheduled for reprocessing.",
        "1 inbound message skipped (1 already processed): only failed, unrouted and received "
        "mail is processed again.",
    ]
    assert record_of(mail["failed"]).status == Status.PROCESSED
    assert [m.record.pk for m in support.given] == [mail["failed"].pk]  # once, the failed one


def test_reroute_routes_unrouted_mail_by_the_routes_declared_now(
    mail: dict[str, InboundMessage],
    support: Support,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.POSTMARK_INBOUND_ROUTES = [{"mailbox": "support"}]  # now a catch-all
    client = staff("view_inboundmessage", "reroute_inboundmessage")
    support.given.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, "reroute", mail["unrouted"])

    assert said(response) == ["1 inbound message scheduled for rerouting."]
    row = record_of(mail["unrouted"])
    assert (row.status, row.mailbox) == (Status.PROCESSED, "support")
    assert [m.record.pk for m in support.given] == [mail["unrouted"].pk]


def test_an_action_with_nothing_to_take_schedules_nothing_and_says_why(
    mail: dict[str, InboundMessage],
    deliver: Any,
    support: Support,
    django_capture_on_commit_callbacks: Any,
) -> None:
    support.dropping = "Spam"
    dropped = deliver(inbound(OriginalRecipient=SUPPORT))
    client = staff("view_inboundmessage", "reroute_inboundmessage")
    routed = mail["failed"]
    InboundMessage.objects.filter(pk=routed.pk).update(status=Status.ROUTED)  # a worker's

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, "reroute", routed, mail["processed"], dropped)

    assert said(response) == [
        "0 inbound messages scheduled for rerouting.",
        "3 inbound messages skipped (1 bounced by its mailbox; 1 already processed; 1 being "
        "processed by a worker): only failed, unrouted and received mail is processed again.",
    ]
    assert record_of(routed).status == Status.ROUTED
    assert record_of(dropped).status == Status.BOUNCED


@pytest.mark.parametrize(
    ("allowed", "refused"), [("reprocess", "reroute"), ("reroute", "reprocess")]
)
def test_each_action_needs_its_own_permission(
    mail: dict[str, InboundMessage], allowed: str, refused: str
) -> None:
    client = staff("view_inboundmessage", f"{allowed}_inboundmessage")
    offered = client.get(LIST).context["action_form"].fields["action"].choices
    names = {name for name, _ in offered}
    assert allowed in names and refused not in names

    response = run_action(client, refused, mail["failed"], mail["unrouted"])

    assert said(response) == ["No action selected."]
    assert record_of(mail["failed"]).status == Status.FAILED
    assert record_of(mail["unrouted"]).status == Status.UNROUTED


def test_an_action_posted_without_the_csrf_token_is_refused(
    mail: dict[str, InboundMessage], admin_user: User
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    data = {"action": "reprocess", "_selected_action": [mail["failed"].pk]}

    assert client.post(LIST, data).status_code == 403
    assert record_of(mail["failed"]).status == Status.FAILED


def record_of(row: InboundMessage) -> InboundMessage:
    return InboundMessage.objects.get(pk=row.pk)
