"""System checks of what protects the webhook views beyond basic auth (postmark.W001 is in
``checks``): the secret header (E042/E043), the source-address allowlist and the proxies it
reads behind (E040/E041, W040/W041), and, for ``check --deploy``, what is and is not protected
(I040). A bad value never lets more through at run time (``postmark.webhooks.sources``,
``auth``): these say what to fix before it refuses Postmark.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.checks import CheckMessage, Error, Info, Tags, Warning, register

from ..conf import settings
from ..webhooks.auth import secret_header, secret_required, webhook_credentials, webhook_secrets
from ..webhooks.sources import Networks, read_networks
from .checks import webhooks_mounted

#: An HTTP header name (RFC 9110's token) without "_": WSGI spells "-" as "_", so servers drop
#: (runserver, nginx) or confuse names that hold one.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^`|~0-9A-Za-z]+")
#: Headers that carry something else for Postmark, the view or the site's proxies.
_TAKEN_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "connection",
        "content-length",
        "content-type",
        "forwarded",
        "host",
        "transfer-encoding",
        "user-agent",
        "x-forwarded-for",
    }
)
_NETWORK_HINT = (
    "Write each as an address ('203.0.113.7', '2001:db8::1') or a network ('203.0.113.0/24') "
    "with no host bits set."
)


@register(Tags.security)
def check_webhook_secret(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """postmark.E042 (POSTMARK_WEBHOOK_SECRETS) and E043 (POSTMARK_WEBHOOK_HEADER). The
    messages name a secret by its place in the list, never by its value."""
    messages: list[CheckMessage] = []
    secrets = settings.POSTMARK_WEBHOOK_SECRETS
    if not isinstance(secrets, list | tuple):
        problems = [("POSTMARK_WEBHOOK_SECRETS", "is not a list")]
    else:
        problems = [
            (f"POSTMARK_WEBHOOK_SECRETS[{index}]", problem)
            for index, secret in enumerate(secrets)
            if (problem := _secret_problem(secret))
        ]
    for name, problem in problems:
        messages.append(
            Error(
                f"{name} {problem}: outbound webhooks are refused until it is fixed.",
                hint="Set a list of secrets, the current one first, e.g. "
                '[os.environ["POSTMARK_WEBHOOK_SECRET"]]; make each with '
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="postmark.E042",
            )
        )
    name = secret_header()
    if not isinstance(settings.POSTMARK_WEBHOOK_HEADER, str) or not _HEADER_NAME.fullmatch(name):
        problem = "is not an HTTP header name without '_' (web servers drop names with one)"
    elif name.lower() in _TAKEN_HEADERS:
        problem = "is a header that already means something else"
    else:
        return messages
    messages.append(
        Error(
            f"POSTMARK_WEBHOOK_HEADER {problem}.",
            hint='Leave it unset ("X-Postmark-Webhook-Secret") or name a header of your own.',
            id="postmark.E043",
        )
    )
    return messages


def _secret_problem(secret: Any) -> str:
    if not isinstance(secret, str) or not secret:
        return "is not a non-empty string"
    if not secret.isascii() or not secret.isprintable() or secret != secret.strip():
        # A header value's bytes are not always the text's: printable ASCII arrives as written.
        return "holds a character other than printable ASCII, or begins or ends with a space"
    return ""


@register(Tags.security)
def check_webhook_sources(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """postmark.E040/W040 (POSTMARK_WEBHOOK_ALLOWED_IPS) and E041/W041
    (POSTMARK_WEBHOOK_TRUSTED_PROXIES)."""
    messages: list[CheckMessage] = []
    allowed = read_networks(settings.POSTMARK_WEBHOOK_ALLOWED_IPS)
    proxies = read_networks(settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES)
    for setting, networks, check_id, effect in (
        ("ALLOWED_IPS", allowed, "postmark.E040", "allows nothing"),
        ("TRUSTED_PROXIES", proxies, "postmark.E041", "is not trusted"),
    ):
        messages.extend(
            Error(
                f"POSTMARK_WEBHOOK_{setting} {problem}; that entry {effect}.",
                hint=_NETWORK_HINT,
                id=check_id,
            )
            for problem in networks.problems
        )
    if allowed.everyone():
        messages.append(
            Warning(
                "POSTMARK_WEBHOOK_ALLOWED_IPS holds every address of a family (a /0 network): "
                "it keeps nobody out.",
                hint="List Postmark's addresses: postmark.api.spec.WEBHOOK_SOURCE_ADDRESSES.",
                id="postmark.W040",
            )
        )
    if proxies.everyone():
        messages.append(
            Warning(
                "POSTMARK_WEBHOOK_TRUSTED_PROXIES holds every address of a family (a /0 "
                "network): anyone can choose the address the webhook views see by writing "
                "X-Forwarded-For.",
                hint="List only the networks of the site's own proxies and load balancers.",
                id="postmark.W041",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_webhook_protection(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """postmark.I040, for ``check --deploy`` in a project that serves the webhook views: each
    protection, on or off, in one message."""
    if not webhooks_mounted():
        return []
    return [
        Info(
            "What protects the webhook views: " + "; ".join(protections()) + ".",
            hint="See the docs' Receiving webhooks, Trusting webhooks.",
            id="postmark.I040",
        )
    ]


def protections() -> list[str]:
    """Each protection and whether it is on, in words."""
    pairs = len(webhook_credentials())
    lines = [
        f"basic auth: yes ({pairs} accepted pair{'s' if pairs > 1 else ''})"
        if pairs
        else "basic auth: NO (POSTMARK_WEBHOOK_USER/PASSWORD unset)"
    ]
    if secret_required():
        accepted = len(webhook_secrets())
        lines.append(
            f"secret header {secret_header()}: yes, outbound events only ({accepted} accepted "
            "secret(s); Postmark cannot set headers on inbound mail's hook)"
        )
    else:
        lines.append("secret header: no (POSTMARK_WEBHOOK_SECRETS unset)")
    allowed = read_networks(settings.POSTMARK_WEBHOOK_ALLOWED_IPS)
    if settings.POSTMARK_WEBHOOK_ALLOWED_IPS:
        lines.append(f"source addresses: only {_count(allowed)}")
    else:
        lines.append("source addresses: any (POSTMARK_WEBHOOK_ALLOWED_IPS unset)")
    proxies = read_networks(settings.POSTMARK_WEBHOOK_TRUSTED_PROXIES)
    if proxies.networks:
        lines.append(f"X-Forwarded-For: believed from {_count(proxies)} of trusted proxies")
    else:
        lines.append("X-Forwarded-For: ignored (no trusted proxies; the peer is the sender)")
    return lines


def _count(networks: Networks) -> str:
    count = len(networks.networks)
    return f"{count} network{'s' if count != 1 else ''}"
