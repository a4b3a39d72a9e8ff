"""The overview page: the numbers the rows say (inbound mail's too), rates against the
thresholds, filters, and a constant number of queries whatever the volume."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from postmark.admin import stats
from postmark.models import Message, Suppression
from tests.support import webhook_payloads as payloads
from tests.support.admin_urls import kept_inbound
from tests.support.message_rows import sent

pytestmark = pytest.mark.django_db

URL = "/admin/postmark/overview/"
TODAY = timezone.now().replace(hour=12)
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def history() -> None:
    sent(TODAY, n=6, delivered=True, opened=True)
    sent(TODAY, n=1, delivered=True, clicked=True, opened=True, tag="welcome")
    sent(YESTERDAY, n=2, bounced=True, email="x@bad.example")
    sent(YESTERDAY, n=1, complained=True, stream="broadcast", email="y@spam.example")
    sent(TODAY - timedelta(days=40), n=5, bounced=True)  # outside the 30 days
    Suppression.objects.create(email="x@bad.example", suppressed_at=YESTERDAY)


def test_numbers_per_day_are_what_the_rows_say(history: None) -> None:
    numbers = stats.overview()
    by_day = {d.day: d.counts for d in numbers.days}
    assert len(numbers.days) == 30
    assert by_day[timezone.localdate(TODAY)] == {
        "sent": 7,
        "delivered": 7,
        "bounced": 0,
        "complained": 0,
        "opened": 7,
        "clicked": 1,
    }
    assert by_day[timezone.localdate(YESTERDAY)]["bounced"] == 2
    assert numbers.totals["sent"] == 10
    assert numbers.top_bounce_types == [("HardBounce", 2), ("SpamComplaint", 1)]
    assert numbers.top_bounce_domains == [("bad.example", 2), ("spam.example", 1)]
    assert [s.email for s in numbers.newest_suppressions] == ["x@bad.example"]
    assert (numbers.streams, numbers.tags) == (["broadcast", "outbound"], ["welcome"])


def test_rates_above_the_thresholds_are_a_clear_warning(
    admin_client: Client, history: None
) -> None:
    page = admin_client.get(URL).content.decode()
    # 2 bounced of 10 sent (20% >= 10%), 1 complaint of 10 (10% >= 0.1%).
    assert 'id="bounce-warning"' in page and 'id="complaint-warning"' in page
    assert "Bounce rate: <strong>20%</strong>" in page and "keep it under 10%" in page
    assert "Spam complaint rate: <strong>10%</strong> (keep it under 0.1%)" in page


def test_no_warning_under_the_thresholds(admin_client: Client, settings: Any) -> None:
    sent(TODAY, n=20, delivered=True)
    sent(TODAY, n=1, bounced=True)
    settings.POSTMARK_COMPLAINT_RATE_WARNING = 0.001
    page = admin_client.get(URL).content.decode()
    assert "bounce-warning" not in page and "complaint-warning" not in page


def test_thresholds_come_from_the_settings(admin_client: Client, settings: Any) -> None:
    sent(TODAY, n=20, delivered=True)
    sent(TODAY, n=1, bounced=True)
    settings.POSTMARK_BOUNCE_RATE_WARNING = 0.01
    assert 'id="bounce-warning"' in admin_client.get(URL).content.decode()


def test_filters_by_stream_and_tag(admin_client: Client, history: None) -> None:
    assert stats.overview("broadcast").totals["sent"] == 1
    assert stats.overview(tag="welcome").totals == {
        "sent": 1,
        "delivered": 1,
        "bounced": 0,
        "complained": 0,
        "opened": 1,
        "clicked": 1,
    }
    page = admin_client.get(URL + "?stream=broadcast").content.decode()
    assert '<option value="broadcast" selected>' in page


def test_chart_and_table_carry_the_same_numbers(admin_client: Client, history: None) -> None:
    page = admin_client.get(URL).content.decode()
    assert '<g class="series" data-series="sent" data-total="10">' in page
    assert f"<title>{timezone.localdate(TODAY)}: 7 opened</title>" in page
    assert '<tfoot><tr><th scope="row">total</th><td>10</td><td>7</td><td>2</td><td>1</td>' in page


@pytest.mark.parametrize("volume", [1, 50])
def test_a_constant_number_of_queries_whatever_the_volume(
    admin_client: Client, django_assert_num_queries: Any, volume: int
) -> None:
    for day in range(volume % 30):
        sent(TODAY - timedelta(days=day), n=volume, bounced=True, tag=f"t{day}")
    for n in range(volume):
        kept_inbound(payloads.inbound(MessageID=f"m{n}"), status="failed" if n % 2 else "processed")
    # Session and user (2), per-day counts, bounce types, domains, suppressions, streams, tags,
    # inbound mail, settling.
    with django_assert_num_queries(10):
        assert admin_client.get(URL).status_code == 200


def test_the_overview_is_linked_from_the_admin_index(admin_client: Client) -> None:
    assert f'href="{URL}"'.encode() in admin_client.get("/admin/").content
    assert f'href="{URL}"'.encode() in admin_client.get("/admin/postmark/").content


def test_the_overview_needs_its_permission() -> None:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(URL).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_overview"))
    assert client.get(URL).status_code == 200


def test_inbound_mail_is_counted_per_status_and_failed_mail_of_any_age_is_a_warning(
    admin_client: Client,
) -> None:
    def kept(n: int, status: str, when: Any = TODAY) -> None:
        for _ in range(n):
            key = f"{status}-{when:%j}-{_}"
            kept_inbound(payloads.inbound(MessageID=key), status=status, received_at=when)

    kept(3, "processed")
    kept(1, "unrouted", YESTERDAY)
    kept(2, "failed")
    kept(1, "failed", TODAY - timedelta(days=90))  # before the 30 days, still waiting
    kept(4, "processed", TODAY - timedelta(days=90))

    numbers = stats.overview()
    page = admin_client.get(URL).content.decode()

    assert numbers.inbound.received == {
        "received": 0,
        "routed": 0,
        "processed": 3,
        "bounced": 0,
        "failed": 2,
        "unrouted": 1,
    }
    assert numbers.inbound.total == 6 and numbers.inbound.failed == 3
    assert '?status__exact=failed">Failed</a></td><td>2</td>' in page
    assert "3 inbound messages failed and are kept until handled" in page


def test_no_inbound_warning_without_failed_mail(admin_client: Client) -> None:
    assert 'id="inbound-failed"' not in admin_client.get(URL).content.decode()


def row(status: str, settlement: str = "", *, days_ago: int = 0, stream: str = "outbound") -> None:
    """A logged message whose outcome was unknown: still waiting, or settled as ``settlement``."""
    made = Message.objects.create(
        status=status, settlement=settlement, message_stream=stream, from_email="s@example.com"
    )
    Message.objects.filter(pk=made.pk).update(created_at=TODAY - timedelta(days=days_ago))


@pytest.fixture
def settling() -> None:
    row("unknown")
    row("unknown", days_ago=40)  # waiting still, however old
    row("unknown", stream="broadcast")
    for _ in range(3):
        row("sent", "found")
    row("sent", "resent")
    row("failed", "failed")
    row("failed", "failed", days_ago=40)  # settled outside the 30 days
    row("sent")  # never unknown


def test_unknown_outcomes_waiting_of_any_age_and_those_settled_in_the_days_are_counted(
    settling: None,
) -> None:
    numbers = stats.overview()
    assert numbers.settling == stats.Settling(3, {"found": 3, "resent": 1, "failed": 1})
    assert stats.overview("broadcast").settling == stats.Settling(
        1, {"found": 0, "resent": 0, "failed": 0}
    )


def test_messages_waiting_to_be_settled_are_a_warning_that_links_to_them(
    admin_client: Client, settling: None
) -> None:
    page = admin_client.get(URL).content.decode()
    assert 'id="unknown-waiting">3 messages may or may not have been sent' in page
    assert '/admin/postmark/message/?status__exact=unknown">see them</a>' in page
    assert '?settlement__exact=found">found in Postmark</a></td><td>3</td>' in page
    assert '<tfoot><tr><th scope="row">waiting</th><td>3</td></tr></tfoot>' in page


def test_without_messages_waiting_there_is_no_settling_warning(admin_client: Client) -> None:
    row("sent", "found")
    assert b'id="unknown-waiting"' not in admin_client.get(URL).content


def test_the_settling_links_need_the_permission_to_see_messages(settling: None) -> None:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_overview"))
    client = Client()
    client.force_login(user)
    page = client.get(URL).content.decode()
    assert 'id="unknown-waiting">3 messages' in page
    assert "status__exact=unknown" not in page and "settlement__exact" not in page
