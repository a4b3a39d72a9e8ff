"""Forget an address: erase every local row that holds it and ask Postmark to do the same.

For a site's own account-deletion code::

    from postmark.operations.forget import forget
    forget(user.email)

Postmark's side (``POST /data-removals``) needs ``POSTMARK_ACCOUNT_TOKEN``; the request is
recorded as a ``DataRemoval`` row and ``refresh`` asks for its status.

The row is also what keeps ``postmark_sync`` from bringing the address back: Postmark keeps its
bounces and suppressions until its removal is done (days, or never without an account token),
and a sync would copy them here again. The row holds no address, only a keyed hash of it
(HMAC-SHA256 with a key derived from ``SECRET_KEY``: a list of known addresses cannot be hashed
to find who was forgotten, as a plain SHA-256 could), so ``forgotten()`` can tell a sync which
of the addresses it is about to store were forgotten, and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..client import Client
from ..conf import settings
from ..models import DataRemoval
from ..sending.addresses import bare_address
from .erase import erase_locally, normal_address


@dataclass
class Forgotten:
    erased: dict[str, int]
    removal: DataRemoval


def forget(
    email: str,
    *,
    keep_suppressions: bool = False,
    ask_postmark: bool = True,
    requested_by: str | None = None,
    client: Client | None = None,
) -> Forgotten:
    """Erase the address locally (in one transaction), then ask Postmark to remove its data.

    ``keep_suppressions`` keeps its Suppression rows, so that it is still never mailed; without
    an account token (or with ``ask_postmark=False``) only the local rows are erased. Raises
    ``PostmarkError`` when Postmark refuses: the local rows are erased by then (and recorded, so
    that no sync brings them back), and running it again asks again.
    """
    address = normal_address(email)
    if not address:
        raise ValueError(f"{email!r} is not an email address.")
    with transaction.atomic():
        # The record is written with the erase: rows gone means a sync knows they are.
        erased = erase_locally(address, keep_suppressions=keep_suppressions)
        removal = DataRemoval.objects.create(
            email_sha256=address_hash(address), status=DataRemoval.Status.LOCAL_ONLY, erased=erased
        )
    if ask_postmark and (client is not None or settings.POSTMARK_ACCOUNT_TOKEN):
        client = client or account_client()
        who = requested_by or bare_address(str(django_settings.DEFAULT_FROM_EMAIL))
        answer = client.request_data_removal(address, who)
        removal.postmark_id = int(answer["ID"])
        removal.status = str(answer.get("Status") or DataRemoval.Status.PENDING)
        removal.save(update_fields=["postmark_id", "status"])
    return Forgotten(erased, removal)


def refresh(removal: DataRemoval, *, client: Client | None = None) -> DataRemoval:
    """Ask Postmark for the status of a pending removal (``GET /data-removals/{id}``)."""
    if removal.postmark_id is None:
        return removal
    answer = (client or account_client()).get_data_removal(removal.postmark_id)
    removal.status = str(answer.get("Status") or removal.status)
    removal.checked_at = timezone.now()
    removal.save(update_fields=["status", "checked_at"])
    return removal


def account_client() -> Client:
    return Client.for_account(
        settings.POSTMARK_ACCOUNT_TOKEN,
        base_url=settings.POSTMARK_API_URL,
        timeout=settings.POSTMARK_TIMEOUT,
        max_retries=settings.POSTMARK_MAX_RETRIES,
        retry_backoff=settings.POSTMARK_RETRY_BACKOFF,
    )


def address_hash(address: str, *, secret: str | bytes | None = None) -> str:
    """The keyed hash a ``DataRemoval`` keeps of the address (``secret``: SECRET_KEY's default)."""
    key = normal_address(address)
    return salted_hmac(_HASH_SALT, key, secret=secret, algorithm="sha256").hexdigest()


def address_hashes(address: str) -> list[str]:
    """Its hash under SECRET_KEY, then under each of SECRET_KEY_FALLBACKS: a record written
    before the key was rotated still names the address."""
    secrets = [django_settings.SECRET_KEY, *django_settings.SECRET_KEY_FALLBACKS]
    return [address_hash(address, secret=secret) for secret in secrets]


_HASH_SALT = "postmark.operations.forget.address_hash"
#: Addresses looked up per query (each with one hash per SECRET_KEY and fallback).
_LOOKUP_CHUNK = 200


@dataclass(frozen=True)
class Tombstone:
    """When an address was last forgotten, and last forgotten with its suppressions."""

    erased_at: datetime
    suppressions_erased_at: datetime | None

    def hides_bounce(self, bounced_at: datetime | None) -> bool:
        """A bounce from before the address was forgotten (or of no known date) is not
        brought back; a later one is new mail to a new user, and is stored."""
        return bounced_at is None or bounced_at <= self.erased_at

    def hides_suppression(self, suppressed_at: datetime | None) -> bool:
        """As ``hides_bounce``, unless the suppressions were kept (``keep_suppressions``)."""
        until = self.suppressions_erased_at
        return until is not None and (suppressed_at is None or suppressed_at <= until)


def forgotten(addresses: Iterable[str]) -> dict[str, Tombstone]:
    """The ``Tombstone`` of each of ``addresses`` that was forgotten, by its normalised address
    (``erase.normal_address``)."""
    wanted = sorted({normal_address(address) for address in addresses} - {""})
    erased: dict[str, datetime] = {}
    with_suppressions: dict[str, datetime] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        by_hash = {
            key: address
            for address in wanted[start : start + _LOOKUP_CHUNK]
            for key in address_hashes(address)
        }
        removals = DataRemoval.objects.filter(email_sha256__in=by_hash).values_list(
            "email_sha256", "requested_at", "erased"
        )
        for key, requested_at, counts in removals:
            address = by_hash[key]
            erased[address] = max(requested_at, erased.get(address, requested_at))
            if "suppressions" in (counts or {}):
                latest = with_suppressions.get(address, requested_at)
                with_suppressions[address] = max(requested_at, latest)
    return {
        address: Tombstone(at, with_suppressions.get(address)) for address, at in erased.items()
    }
