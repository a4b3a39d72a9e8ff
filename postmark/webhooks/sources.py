"""Where a webhook comes from: the sender's address, read behind the site's own proxies
(POSTMARK_WEBHOOK_TRUSTED_PROXIES), and whether it may post (POSTMARK_WEBHOOK_ALLOWED_IPS).

Anyone can write X-Forwarded-For, so it is believed only when the peer that delivered the
request (REMOTE_ADDR) is one of the site's proxies, and then only as far as a chain of such
proxies reaches: read from the right, each address a trusted proxy added is passed over, and
the first one that is not a trusted proxy is the sender. Whatever a sender writes to the left
of that is never read.

A setting the app cannot read never lets more through: a bad allowlist entry allows nothing, a
bad proxy entry trusts nothing (system checks postmark.E040/E041 name them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from django.http import HttpRequest

from ..conf import settings

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

#: X-Forwarded-For entries read at most, from the right. A site sits behind a few proxies; a
#: longer chain of trusted ones is refused rather than read, so that a header of any length
#: costs the same few parses (the split itself stops after this many commas).
MAX_HOPS = 32
#: Longer than any address written with brackets, a zone and a port: not parsed at all.
_MAX_ENTRY = 64


@dataclass(frozen=True)
class Networks:
    """A setting's networks, and what is wrong with the entries that are not one."""

    networks: tuple[Network, ...] = ()
    problems: tuple[str, ...] = ()

    def __contains__(self, address: object) -> bool:
        return any(address in network for network in self.networks)

    def everyone(self) -> bool:
        """Whether the networks hold every address of a family (0.0.0.0/0 or ::/0)."""
        return any(network.prefixlen == 0 for network in self.networks)


def read_networks(value: Any) -> Networks:
    """The networks of a list of addresses (``"203.0.113.7"``, ``"2001:db8::1"``) and networks
    (``"10.0.0.0/8"``), as strings or ``ipaddress`` objects."""
    if not isinstance(value, list | tuple | set | frozenset):
        return Networks(problems=("is not a list of addresses or networks",))
    entries = []
    for entry in value:
        if isinstance(entry, IPv4Address | IPv6Address | IPv4Network | IPv6Network):
            entry = str(entry)
        if not isinstance(entry, str):
            return Networks(problems=(f"holds {entry!r}, which is not a string",))
        entries.append(entry)
    return _parsed(tuple(entries))


@functools.lru_cache(maxsize=16)
def _parsed(entries: tuple[str, ...]) -> Networks:
    # Cached by value: the views read the settings on every request (override_settings works),
    # and the same few entries are parsed once.
    networks: list[Network] = []
    problems: list[str] = []
    for entry in entries:
        try:
            network = ip_network(entry)
        except ValueError as exc:
            problems.append(f"holds {entry!r}, which is not an address or a network ({exc})")
            continue
        if isinstance(network, IPv6Network) and network.network_address.ipv4_mapped:
            # Senders are compared as IPv4 (a dual-stack socket reports them mapped).
            problems.append(f"holds {entry!r}: write an IPv4-mapped address as IPv4")
            continue
        networks.append(network)
    return Networks(tuple(networks), tuple(problems))


def parse_address(text: str) -> Address | None:
    """One address as REMOTE_ADDR or an X-Forwarded-For entry writes it (with or without a
    port: ``203.0.113.7:4711``, ``[2001:db8::1]:4711``), an IPv4-mapped one as IPv4; None when
    it is not an address."""
    text = text.strip()
    if not text or len(text) > _MAX_ENTRY:
        return None
    if text.startswith("["):
        text, closed, rest = text[1:].partition("]")
        if not closed or not _nothing_or_port(rest):
            return None
    elif text.count(":") == 1:  # IPv4 and a port (an IPv6 address has at least two colons)
        text, _, port = text.partition(":")
        if not _nothing_or_port(":" + port):
            return None
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _nothing_or_port(rest: str) -> bool:
    if not rest:
        return True
    digits = rest.removeprefix(":")
    return digits != rest and digits.isascii() and digits.isdigit() and len(digits) <= 5


def forwarded_client(peer: Address | None, forwarded_for: str, proxies: Networks) -> Address | None:
    """The sender: ``peer`` unless it is a trusted proxy, else the rightmost X-Forwarded-For
    address that is not one. None when that cannot be told: an entry that is not an address,
    or more trusted hops than MAX_HOPS."""
    if peer is None or peer not in proxies or not forwarded_for.strip():
        # A trusted proxy that forwards nothing sent the request itself.
        return peer
    entries = forwarded_for.rsplit(",", MAX_HOPS)
    unread = len(entries) > MAX_HOPS
    sender: Address | None = peer
    for entry in reversed(entries[-MAX_HOPS:]):
        sender = parse_address(entry)
        if sender is None or sender not in proxies:
            return sender
    # Every hop read is a proxy of the site's: the leftmost sent it, unless the chain goes on.
    return None if unread else sender


def client_address(request: HttpRequest) -> Address | None:
    """The address the webhook came from, as POSTMARK_WEBHOOK_TRUSTED_PROXIES says to read it."""
    peer = parse_address(str(request.META.get("REMOTE_ADDR") or ""))
    proxies = read_networks(settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES)
    if not proxies.networks:
        return peer
    return forwarded_client(peer, str(request.META.get("HTTP_X_FORWARDED_FOR") or ""), proxies)


def permitted(address: Address | None) -> bool:
    """Whether POSTMARK_WEBHOOK_ALLOWED_IPS lets ``address`` post: any address while it is
    empty; else only one inside it (an address that could not be read, never)."""
    allowed = settings.POSTMARK_WEBHOOK_ALLOWED_IPS
    if not allowed:
        return True
    return address is not None and address in read_networks(allowed)
