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


# The calls whose answer never arrives that the index page plays on the local sandbox (its
# faults, postmark/sandbox/faults.py), each as its button reads.
LOST_ANSWERS = {
    "accept-drop": "Accepted, then the connection cut",
    "accept-500": "Accepted, then answered 500",
    "drop": "Never accepted",
}
LOST_ANSWER_TO = "lost.answer@example.com"


class LostAnswerForm(forms.Form):
    fault = forms.ChoiceField(choices=list(LOST_ANSWERS.items()))


class SendForm(forms.Form):
    to = forms.EmailField(label="To", widget=forms.EmailInput(attrs={"size": 44}))
    subject = forms.CharField(max_length=200, initial="Hello from django-postmark")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 44}),
        initial="Sent from the django-postmark example.",
    )


class PublishForm(forms.Form):
    """A post, and the reader its notification goes to (whose reply becomes a comment)."""

    title = forms.CharField(max_length=200, initial="Hello from the example blog")
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 44}),
        initial="Our first post. Reply to its notification by email to comment.",
    )
    to = forms.EmailField(
        label="Notify",
        initial="reader@example.com",
        widget=forms.EmailInput(attrs={"size": 44}),
        help_text="The notification's Reply-To is this post's signed reply address.",
    )
