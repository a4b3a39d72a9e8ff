"""Each default receiver honours its setting when it runs, so a site's own tests can switch it
with ``override_settings`` (or pytest-django's ``settings``) after startup."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.mail import EmailMessage
from django.test import Client, override_settings
from django.utils import timezone

from postmark.models import Bounce, Message, Suppression
from tests.support import webhook_payloads as payloads
from tests.support.fake_postmark import FakePostmark
from tests.support.webhook_helpers import post

pytestmark = pytest.mark.django_db


def send(fake: FakePostmark, to: str = "john@example.com") -> int:
    return EmailMessage("Hi", "Body", "sender@example.com", [to]).send()


def logged(client: Client, fake: FakePostmark) -> bool:
    send(fake)
    return Message.objects.exists()


def stored_bounce(client: Client, fake: FakePostmark) -> bool:
    post(client, payloads.bounce())
    return Bounce.objects.exists()


def moved_message(client: Client, fake: FakePostmark) -> bool:
    Message.objects.create(
        message_id=payloads.MESSAGE_ID, status="sent", from_email="s@example.com"
    )
    post(client, payloads.delivery())
    return Message.objects.get().status == Message.Status.DELIVERED


def recorded_suppression(client: Client, fake: FakePostmark) -> bool:
    post(client, payloads.bounce())
    return Suppression.objects.exists()


def skipped_suppressed(client: Client, fake: FakePostmark) -> bool:
    Suppression.objects.create(
        email="john@example.com", message_stream="outbound", suppressed_at=timezone.now()
    )
    send(fake)
    return not fake.sent_messages


CASES = [
    ("POSTMARK_STORE_MESSAGES", logged),
    ("POSTMARK_STORE_EVENTS", stored_bounce),
    ("POSTMARK_STORE_EVENTS", moved_message),
    ("POSTMARK_RECORD_SUPPRESSIONS", recorded_suppression),
    ("POSTMARK_SKIP_SUPPRESSED", skipped_suppressed),
]


@pytest.mark.parametrize("on", [True, False], ids=["on", "off"])
@pytest.mark.parametrize(("setting", "works"), CASES, ids=[c[1].__name__ for c in CASES])
def test_each_default_receiver_honours_its_setting_when_it_runs(
    client: Client,
    fake_postmark: FakePostmark,
    setting: str,
    works: Callable[[Client, FakePostmark], bool],
    on: bool,
) -> None:
    with override_settings(**{setting: on}):
        assert works(client, fake_postmark) is on


def test_a_setting_switched_back_on_takes_effect_at_once(
    client: Client, fake_postmark: FakePostmark
) -> None:
    with override_settings(POSTMARK_STORE_EVENTS=False):
        post(client, payloads.bounce())
    post(client, payloads.bounce(ID=payloads.bounce()["ID"] + 1))

    assert Bounce.objects.count() == 1
