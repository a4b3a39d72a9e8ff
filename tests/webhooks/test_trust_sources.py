"""The source-address allowlist (POSTMARK_WEBHOOK_ALLOWED_IPS) behind the site's own proxies
(POSTMARK_WEBHOOK_TRUSTED_PROXIES): a webhook from elsewhere gets 403 and is stored nowhere; a
forwarded address is believed only from a trusted proxy, read from the right; a header of any
length costs a bounded number of parses."""

from __future__ import annotations

import itertools
import json
import logging
from ipaddress import ip_address
from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from postmark.api.spec import WEBHOOK_SOURCE_ADDRESSES
from postmark.models import WebhookEvent
from postmark.webhooks import sources
from tests.support import webhook_payloads as payloads
from tests.support.webhook_helpers import AUTH, EVENTS_URL, INBOUND_URL

pytestmark = pytest.mark.django_db

POSTMARK = WEBHOOK_SOURCE_ADDRESSES[0]
PROXY = "10.0.0.5"
FORBIDDEN = b"forbidden: webhooks are not accepted from this address\n"
_ids = itertools.count(1)


def post_from(
    remote: str, forwarded: str | None = None, url: str = EVENTS_URL, client: Client | None = None
) -> Any:
    payload = payloads.inbound() if url == INBOUND_URL else payloads.bounce(ID=next(_ids))
    extra = {"REMOTE_ADDR": remote, "HTTP_AUTHORIZATION": AUTH}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return (client or Client()).post(
        url, json.dumps(payload), content_type="application/json", **extra
    )


@pytest.fixture
def allow_postmark(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = list(WEBHOOK_SOURCE_ADDRESSES)


# --- without proxies: the peer is the sender -------------------------------------------------


def test_without_an_allowlist_any_address_may_post() -> None:
    assert post_from("198.51.100.9").status_code == 200


@pytest.mark.usefixtures("allow_postmark")
@pytest.mark.parametrize("url", [EVENTS_URL, INBOUND_URL])
def test_postmarks_addresses_may_post_and_others_get_403_with_nothing_stored(url: str) -> None:
    assert post_from(POSTMARK, url=url).status_code == 200
    assert WebhookEvent.objects.count() == 1
    response = post_from("198.51.100.9", url=url)
    assert (response.status_code, response.content) == (403, FORBIDDEN)
    assert WebhookEvent.objects.count() == 1


@pytest.mark.usefixtures("allow_postmark")
def test_a_forwarded_address_from_an_untrusted_peer_is_ignored() -> None:
    """Anyone can write X-Forwarded-For: without trusted proxies it is never read."""
    response = post_from("198.51.100.9", forwarded=POSTMARK)
    assert response.status_code == 403 and WebhookEvent.objects.count() == 0


@pytest.mark.usefixtures("allow_postmark")
def test_the_refusal_is_logged_with_the_address_and_checked_before_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = Client().post(
        EVENTS_URL, "{}", content_type="application/json", REMOTE_ADDR="198.51.100.9"
    )
    assert response.status_code == 403  # not 401: outsiders learn nothing of the credentials
    assert "198.51.100.9 is not in POSTMARK_WEBHOOK_ALLOWED_IPS" in caplog.text


def test_networks_and_ipv6_addresses_are_allowed(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = ["203.0.113.0/24", "2001:db8::/32", "2001:db9::7"]
    for remote, allowed in [
        ("203.0.113.200", True),
        ("203.0.114.1", False),
        ("2001:db8:1::1", True),
        ("2001:db9::7", True),
        ("2001:db9::8", False),
        ("::ffff:203.0.113.9", True),  # a dual-stack socket's IPv4-mapped peer
    ]:
        assert (post_from(remote).status_code == 200) is allowed, remote


def test_the_stored_address_is_the_senders(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES = [PROXY]
    post_from(PROXY, forwarded=f"192.0.2.1, {POSTMARK}")
    assert WebhookEvent.objects.get().remote_addr == POSTMARK


def test_a_bad_allowlist_entry_allows_nothing_and_the_good_ones_still_work(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = ["not an address", "10.0.0.1/8", POSTMARK]
    assert post_from(POSTMARK).status_code == 200
    assert post_from("10.0.0.1").status_code == 403
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = POSTMARK  # a string, not a list: nothing is allowed
    assert post_from(POSTMARK).status_code == 403


def test_head_is_answered_from_anywhere(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = [POSTMARK]
    assert Client().head(EVENTS_URL, REMOTE_ADDR="198.51.100.9").status_code == 200


# --- behind trusted proxies --------------------------------------------------------------------


@pytest.fixture
def behind_proxies(settings: Any, allow_postmark: None) -> None:
    settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]


@pytest.mark.usefixtures("behind_proxies")
@pytest.mark.parametrize(
    ("remote", "forwarded", "allowed"),
    [
        (PROXY, POSTMARK, True),
        (PROXY, f"{POSTMARK}, 10.0.0.7", True),  # two proxies of the site's
        (PROXY, f"198.51.100.9, {POSTMARK}", True),  # what the sender wrote is not read
        (PROXY, f"{POSTMARK}, 198.51.100.9", False),  # the rightmost untrusted hop decides
        (PROXY, f"{POSTMARK},198.51.100.9 , 10.1.2.3", False),
        (PROXY, "", False),  # the proxy itself sent it
        (PROXY, "not-an-address", False),
        (PROXY, f"{POSTMARK}, , 10.0.0.9", False),  # an empty hop cannot be read
        (PROXY, f"{POSTMARK}:4711", True),  # some proxies add the port
        ("fd00::1", POSTMARK, True),  # an IPv6 proxy forwarding an IPv4 sender
        ("fd00::1", "[2001:db8::1]:443", False),
        ("198.51.100.9", POSTMARK, False),  # not a trusted proxy: its header is not believed
        (POSTMARK, "198.51.100.9", True),  # Postmark directly, whatever it forwards
    ],
)
def test_the_sender_is_the_rightmost_address_no_trusted_proxy_added(
    remote: str, forwarded: str, allowed: bool
) -> None:
    response = post_from(remote, forwarded)
    assert (response.status_code == 200) is allowed, response.content
    assert WebhookEvent.objects.count() == (1 if allowed else 0)


@pytest.mark.usefixtures("behind_proxies")
def test_an_ipv6_sender_behind_a_proxy(settings: Any) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = ["2001:db8::/64"]
    assert post_from(PROXY, "[2001:db8::5]:443, fd00::9").status_code == 200
    assert post_from(PROXY, "2001:db8:0:1::5, fd00::9").status_code == 403
    assert WebhookEvent.objects.get().remote_addr == "2001:db8::5"


# A chain as a proxy sees it: what the sender claims (anything), the sender, then the site's
# proxies. The sender may be anyone; the proxies are 10.x.
claims = st.lists(
    st.one_of(st.ip_addresses().map(str), st.text(max_size=20)).filter(lambda s: "," not in s),
    max_size=5,
)
outside = st.one_of(
    st.ip_addresses(v=4).filter(lambda a: not a.is_private),
    st.ip_addresses(v=6).filter(lambda a: not a.is_private and a.ipv4_mapped is None),
)
hops = st.lists(st.ip_addresses(v=4, network="10.0.0.0/8"), max_size=4)


@given(claimed=claims, sender=outside, proxies=hops, peer=st.ip_addresses(network="10.0.0.0/8"))
def test_generated_chains_resolve_to_the_sender_whatever_it_claims(
    claimed: list[str], sender: Any, proxies: list[Any], peer: Any
) -> None:
    trusted = sources.read_networks(["10.0.0.0/8"])
    chain = ", ".join([*claimed, str(sender), *map(str, proxies)])
    assert sources.forwarded_client(peer, chain, trusted) == sender


@given(peer=outside, chain=st.text(max_size=200))
def test_an_untrusted_peer_is_the_sender_whatever_it_forwards(peer: Any, chain: str) -> None:
    trusted = sources.read_networks(["10.0.0.0/8"])
    assert sources.forwarded_client(peer, chain, trusted) == peer


@pytest.mark.usefixtures("behind_proxies")
def test_a_forwarded_header_of_ten_thousand_entries_costs_a_bounded_number_of_parses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []
    real = sources.parse_address

    def counted(text: str) -> Any:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(sources, "parse_address", counted)
    spoofed = ", ".join(f"203.0.{i // 256 % 256}.{i % 256}" for i in range(10_000))
    assert post_from(PROXY, f"{spoofed}, {POSTMARK}").status_code == 200
    assert len(parsed) <= 3  # the peer and the sender: nothing to the left is read
    parsed.clear()
    every_hop_a_proxy = ", ".join(f"10.0.{i // 256 % 256}.{i % 256}" for i in range(10_000))
    assert post_from(PROXY, every_hop_a_proxy).status_code == 403  # too long a chain to trust
    assert len(parsed) <= sources.MAX_HOPS + 1


def test_an_overlong_entry_is_not_parsed() -> None:
    assert sources.parse_address("1" * 10_000) is None
    assert sources.parse_address(" 2001:db8::1 ") == ip_address("2001:db8::1")


def test_no_header_text_is_logged(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.POSTMARK_WEBHOOK_ALLOWED_IPS = [POSTMARK]
    settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES = [PROXY]
    caplog.set_level(logging.DEBUG)
    post_from(PROXY, "evil\x1b[31m-not-an-address")
    assert "evil" not in caplog.text
    assert "an address that could not be read" in caplog.text
