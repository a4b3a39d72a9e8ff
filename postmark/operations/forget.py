"""Forget an address: erase every local row that holds it and ask Postmark to do the same.

For a site's own account-deletion code::

    from postmark.operations.forget import forget
    forget(user.email)

Postmark's side (``POST /data-removals``) needs ``POSTMARK_ACCOUNT_TOKEN``; the request is
recorded as a ``DataRemoval`` row (without the address) and ``refresh`` asks for its status.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from ..addresses import bare_address
from ..client import Client
from ..conf import settings
from ..models import DataRemoval
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
    ``PostmarkError`` when Postmark refuses: the local rows are erased by then, and running it
    again asks again.
    """
    address = normal_address(email)
    if not address:
        raise ValueError(f"{email!r} is not an email address.")
    with transaction.atomic():
        erased = erase_locally(address, keep_suppressions=keep_suppressions)
    removal = DataRemoval(
        email_sha256=address_hash(address), status=DataRemoval.Status.LOCAL_ONLY, erased=erased
    )
    if ask_postmark and (client is not None or settings.POSTMARK_ACCOUNT_TOKEN):
        client = client or account_client()
        who = requested_by or bare_address(str(django_settings.DEFAULT_FROM_EMAIL))
        answer = client.request_data_removal(address, who)
        removal.postmark_id = int(answer["ID"])
        removal.status = str(answer.get("Status") or DataRemoval.Status.PENDING)
    removal.save()
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


def address_hash(address: str) -> str:
    return hashlib.sha256(bare_address(address).encode()).hexdigest()
