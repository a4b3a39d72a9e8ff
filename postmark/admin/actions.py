"""Admin actions that change something in Postmark, and show its answer: reactivate bounces,
lift suppressions, add manual suppressions (a small form). Each needs its own permission
(``postmark.reactivate_bounce``, ``postmark.lift_suppression``, ``postmark.suppress_address``)
and changes nothing here for what Postmark refused."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from ..api.spec import DEFAULT_STREAM
from ..models import Bounce, Suppression
from ..operations import suppressions


def report(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    verb: str,
    outcome: suppressions.ChangeReport,
) -> None:
    if outcome.done:
        modeladmin.message_user(
            request, f"{verb} in Postmark: {', '.join(outcome.done)}.", messages.SUCCESS
        )
    for refusal in outcome.refused:
        modeladmin.message_user(
            request, f"Postmark refused {refusal.item}: {refusal.reason}", messages.ERROR
        )


@admin.action(description="Reactivate selected addresses in Postmark", permissions=["reactivate"])
def reactivate(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Bounce]
) -> None:
    report(modeladmin, request, "Reactivated", suppressions.reactivate_bounces(queryset))


@admin.action(description="Lift selected suppressions in Postmark", permissions=["lift"])
def lift(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Suppression]
) -> None:
    in_force = queryset.filter(pk__in=Suppression.objects.active().values("pk"))
    report(modeladmin, request, "Lifted", suppressions.lift_suppressions(in_force))


class SuppressForm(forms.Form):
    addresses = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        help_text="One address per line (or separated by commas); at most 500.",
    )
    message_stream = forms.CharField(initial=DEFAULT_STREAM, max_length=100)

    def clean_addresses(self) -> list[str]:
        text = self.cleaned_data["addresses"].replace(",", "\n")
        addresses = [line.strip().lower() for line in text.splitlines() if line.strip()]
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                bad.append(address)
        if bad:
            raise forms.ValidationError(f"Not email addresses: {', '.join(bad[:10])}")
        if not addresses:
            raise forms.ValidationError("Give at least one address.")
        if len(addresses) > 500:
            raise forms.ValidationError("At most 500 addresses at once.")
        return addresses


class SuppressFormMixin:
    """Adds ``suppress/`` to the suppression admin: the form that adds manual suppressions."""

    admin_site: admin.AdminSite

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.suppress_view)
        urls: list[URLPattern] = super().get_urls()  # type: ignore[misc]
        return [path("suppress/", view, name="postmark_suppression_suppress"), *urls]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_suppress": can_suppress(request)}
        response: HttpResponse = super().changelist_view(request, context)  # type: ignore[misc]
        return response

    def suppress_view(self, request: HttpRequest) -> HttpResponse:
        if not can_suppress(request):
            raise PermissionDenied
        form = SuppressForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            stream = form.cleaned_data["message_stream"]
            outcome = suppressions.suppress(form.cleaned_data["addresses"], stream)
            report(self, request, "Suppressed", outcome)  # type: ignore[arg-type]
            return HttpResponseRedirect(reverse("admin:postmark_suppression_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Suppress addresses in Postmark",
            "form": form,
            "opts": Suppression._meta,
        }
        return TemplateResponse(request, "admin/postmark/suppression/suppress.html", context)


def can_suppress(request: HttpRequest) -> bool:
    return request.user.has_perm("postmark.suppress_address")
