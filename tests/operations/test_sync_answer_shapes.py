"""``postmark_sync`` reads Postmark's bounce answers in either shape: as the API records them
(no Metadata, no RecordType, Tag only when set) or with the webhook's extra fields (as the
sandbox once answered), and stores the same rows either way."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postmark import events
from postmark.client import Client
from postmark.models import Bounce
from postmark.operations.sync import sync_bounces
from tests.support.fake_postmark import FakePostmark, Reply

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent.parent / "sandbox" / "recorded"
#: Keys a bounce of GET /bounces may lack: older answers had no From, ServerID or MessageStream.
OPTIONAL = ["Tag", "From", "ServerID", "MessageStream", "Details", "Subject", "Name"]


def recorded_page() -> dict[str, Any]:
    page: dict[str, Any] = json.loads((RECORDED / "bounces.json").read_text())
    complaint = dict(page["Bounces"][0], ID=1, Type="SpamComplaint", TypeCode=100001)
    complaint.update(Name="Spam complaint", Inactive=True, CanActivate=False)
    page["Bounces"].append(complaint)
    page["TotalCount"] = len(page["Bounces"])
    return page


def stored() -> list[tuple[Any, ...]]:
    fields = ("postmark_id", "record_type", "type", "email", "inactive", "can_activate")
    return list(Bounce.objects.order_by("postmark_id").values_list(*fields))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dropped=st.sets(st.sampled_from(OPTIONAL)),
    metadata=st.one_of(st.none(), st.dictionaries(st.text("ab-", max_size=5), st.text(max_size=5))),
    record_type=st.booleans(),
)
def test_either_shape_of_a_bounce_answer_stores_the_same_rows(
    fake_postmark: FakePostmark,
    dropped: set[str],
    metadata: dict[str, str] | None,
    record_type: bool,
) -> None:
    client = Client("server-token", base_url=fake_postmark.url, max_retries=0)
    fake_postmark.requests.clear()
    Bounce.objects.all().delete()
    fake_postmark.script(Reply(200, recorded_page()))
    sync_bounces(client=client)
    expected = stored()
    Bounce.objects.all().delete()

    page = copy.deepcopy(recorded_page())
    for item in page["Bounces"]:
        for key in dropped:
            item.pop(key, None)
        if metadata is not None:
            item["Metadata"] = metadata
        if record_type:
            item["RecordType"] = "SpamComplaint" if item["Type"] == "SpamComplaint" else "Bounce"
    fake_postmark.script(Reply(200, page))
    summary = sync_bounces(client=client)

    assert (summary.new, stored()) == (3, expected)
    assert [row[1] for row in expected] == ["SpamComplaint", "Bounce", "Bounce"]
    # What the webhook would have stored of it (NUL and lone surrogates are not kept).
    assert all(row.metadata == events.clean_json(metadata or {}) for row in Bounce.objects.all())
