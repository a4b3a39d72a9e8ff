from __future__ import annotations

from django import forms

# Postmark bounces mail to these at once with that type (README: "Try it"); the sandbox too.
BOUNCE_TESTING = [
    "HardBounce",
    "SoftBounce",
    "Transient",
    "Blocked",
    "SpamNotification",
    "SpamComplaint",
    "DnsError",
    "AutoResponder",
]


def bounce_testing_address(bounce_type: str) -> str:
    return f"{bounce_type.lower()}@bounce-testing.postmarkapp.com"


class SendForm(forms.Form):
    to = forms.EmailField(label="To", widget=forms.EmailInput(attrs={"size": 44}))
    subject = forms.CharField(max_length=200, initial="Hello from django-postmark")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 44}),
        initial="Sent from the django-postmark example.",
    )
