"""The overview page: the numbers the rows say, rates against the thresholds, filters, and a
constant number of queries whatever the volume."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from postmark.admin import stats
from postmark.models import Suppression
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
    # Session and user (2), per-day counts, bounce types, domains, suppressions, streams, tags.
    with django_assert_num_queries(8):
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
