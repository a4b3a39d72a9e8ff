"""Changes made in Postmark first, then mirrored locally: reactivate bounces, lift and add
suppressions. Postmark's answer decides: a refused item changes nothing here and comes back
with Postmark's reason, for the admin (or a script) to show."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from ..api.spec import DEFAULT_STREAM
from ..client import Client
from ..exceptions import PostmarkError
from ..models import Bounce, Suppression
from ..storage import statements

#: Postmark changes at most 50 suppressions per request.
SUPPRESSIONS_PER_REQUEST = 50


@dataclass
class RefusedChange:
    #: What was refused, as a person reads it ("a@example.com on outbound").
    item: str
    #: Postmark's reason (or why it could not be asked).
    reason: str


@dataclass
class ChangeReport:
    done: list[str] = field(default_factory=list)
    refused: list[RefusedChange] = field(default_factory=list)


def reactivate_bounces(bounces: Iterable[Bounce], *, client: Client | None = None) -> ChangeReport:
    """``PUT /bounces/{id}/activate`` for each; an accepted one makes the row active and lifts
    the address's suppression on its stream, as reactivating does in Postmark."""
    client = client or Client.from_settings()
    report = ChangeReport()
    for bounce in bounces:
        label = f"{bounce.email or '(no address)'} (bounce {bounce.postmark_id})"
        try:
            answer = client.activate_bounce(bounce.postmark_id)
        except PostmarkError as exc:
            report.refused.append(RefusedChange(label, str(exc)))
            continue
        state = answer.get("Bounce") or {}
        now = timezone.now()
        Bounce.objects.filter(pk=bounce.pk).update(
            inactive=bool(state.get("Inactive", False)),
            can_activate=bool(state.get("CanActivate", bounce.can_activate)),
            updated_at=now,
        )
        _lift_locally(bounce.email, bounce.message_stream or DEFAULT_STREAM)
        report.done.append(label)
    return report


def lift_suppressions(
    suppressions: Iterable[Suppression], *, client: Client | None = None
) -> ChangeReport:
    """``POST .../suppressions/delete`` per stream; each address Postmark deleted is lifted."""
    client = client or Client.from_settings()
    report = ChangeReport()
    by_stream: dict[str, list[str]] = {}
    for row in suppressions:
        by_stream.setdefault(row.message_stream, []).append(row.email)
    for stream, emails in by_stream.items():
        for chunk in _chunks(emails):
            for email, reason in _ask(client.delete_suppressions, chunk, stream, "Deleted"):
                if reason is None:
                    _lift_locally(email, stream)
                    report.done.append(f"{email} on {stream}")
                else:
                    report.refused.append(RefusedChange(f"{email} on {stream}", reason))
    return report


def suppress(
    emails: Iterable[str], stream: str = DEFAULT_STREAM, *, client: Client | None = None
) -> ChangeReport:
    """``POST .../suppressions``: a manual suppression for each address Postmark accepted."""
    client = client or Client.from_settings()
    report = ChangeReport()
    addresses = sorted({email.strip().lower() for email in emails if email.strip()})
    for chunk in _chunks(addresses):
        for email, reason in _ask(client.create_suppressions, chunk, stream, "Suppressed"):
            if reason is not None:
                report.refused.append(RefusedChange(f"{email} on {stream}", reason))
                continue
            row = {
                "email": email,
                "message_stream": stream,
                "reason": Suppression.Reason.MANUAL,
                "origin": Suppression.Origin.CUSTOMER,
                "suppressed_at": timezone.now(),
            }
            keys = ["email", "message_stream"]
            updated = ["reason", "origin", "suppressed_at"]
            statements.upsert(Suppression, row, keys, updated, newer="suppressed_at")
            report.done.append(f"{email} on {stream}")
    return report


def _ask(
    call: Callable[[list[str], str], list[Any]], emails: list[str], stream: str, success: str
) -> list[tuple[str, str | None]]:
    """(address, None) for each address Postmark answered ``success`` for, else (address,
    its reason); a failed request refuses the whole chunk with the error."""
    try:
        statuses = call(emails, stream)
    except PostmarkError as exc:
        return [(email, str(exc)) for email in emails]
    answered = {
        str(status.get("EmailAddress") or "").lower(): status
        for status in statuses
        if isinstance(status, dict)
    }
    results: list[tuple[str, str | None]] = []
    for email in emails:
        status = answered.get(email.lower())
        if status is None:
            results.append((email, "Postmark did not answer for this address."))
        elif status.get("Status") == success:
            results.append((email.lower(), None))
        else:
            results.append((email, str(status.get("Message") or status.get("Status"))))
    return results


def _lift_locally(email: str, stream: str) -> None:
    Suppression.objects.active().filter(email=email.lower(), message_stream=stream).update(
        lifted_at=timezone.now()
    )


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), SUPPRESSIONS_PER_REQUEST):
        yield items[start : start + SUPPRESSIONS_PER_REQUEST]
