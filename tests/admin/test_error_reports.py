"""No secret setting of the app appears in Django's error reports: the debug page (a request
through the test client with DEBUG on), ``ExceptionReporter``'s text and HTML, and the mail
``AdminEmailHandler`` sends to ADMINS. Django hides settings whose names match
API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE; ``POSTMARK_WEBHOOK_CREDENTIALS`` and
``POSTMARK_WEBHOOK_USER`` match none, and a failed send's traceback runs through http.client,
whose frames hold the request's bytes (the server token with them)."""

from __future__ import annotations

import logging
import os
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage, send_mail
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter
from hypothesis import given
from hypothesis import strategies as st

from postmark.conf import SECRET_SETTINGS, PostmarkConf
from postmark.operations.forget import forget
from tests.support.webhook_helpers import basic_auth, post

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def send(request: HttpRequest) -> HttpResponse:
    # tests.settings points the API at a closed port: the send fails, the page shows why.
    send_mail("Hello", "Hi", "shop@example.com", ["someone@example.com"])
    return HttpResponse("sent")


def send_through_another_server(request: HttpRequest) -> HttpResponse:
    from django.conf import settings

    message = EmailMessage("Hello", "Hi", "shop@example.com", ["someone@example.com"])
    message.server_token = str(settings.POSTMARK_SERVER_TOKENS[0])  # type: ignore[attr-defined]
    message.send()
    return HttpResponse("sent")


def forget_someone(request: HttpRequest) -> HttpResponse:
    forget("someone@example.com")  # asks Postmark with the account token: fails
    return HttpResponse("forgotten")


urlpatterns = [
    path("send/", send),
    path("send-other/", send_through_another_server),
    path("forget/", forget_someone),
    path("postmark/", include("postmark.urls")),
]


def test_every_setting_that_holds_a_credential_is_a_secret_setting() -> None:
    names = [name for name in vars(PostmarkConf) if name.isupper()]
    looks_secret = [
        name
        for name in names
        if any(word in name for word in ("USER", "PASS", "TOKEN", "KEY", "CREDENTIAL", "SECRET"))
    ]
    assert set(looks_secret) <= set(SECRET_SETTINGS) <= set(names)


# Letters and digits, both: a value that cannot turn up in the page by chance (as "1234..."
# might in a frame's id).
token = st.text(string.ascii_letters + string.digits, min_size=12, max_size=32).filter(
    lambda text: not text.isdigit() and not text.isalpha()
)


def value_of(name: str) -> st.SearchStrategy[Any]:
    default = getattr(PostmarkConf, name)
    if "CREDENTIALS" in name:
        return st.lists(st.tuples(token, token), min_size=1, max_size=2)
    if isinstance(default, list):
        return st.lists(token, min_size=1, max_size=2)
    if isinstance(default, dict):
        return st.dictionaries(token, token, min_size=1, max_size=2)
    return token


def _aliases_agree(values: dict[str, Any]) -> dict[str, Any]:
    """POSTMARK_WEBHOOK_USER/_PASSWORD are the documented names for POSTMARK_API_USER/_PASSWORD:
    a site sets one spelling, or both alike (``postmark.conf`` refuses two different values)."""
    values["POSTMARK_WEBHOOK_USER"] = values["POSTMARK_API_USER"]
    values["POSTMARK_WEBHOOK_PASSWORD"] = values["POSTMARK_API_PASSWORD"]
    return values


secret_settings = st.fixed_dictionaries(
    {f"POSTMARK_{name}": value_of(name) for name in SECRET_SETTINGS}
).map(_aliases_agree)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for pair in value.items() for item in pair for s in strings_in(item)]
    return [s for item in value for s in strings_in(item)]


def reports() -> list[str]:
    """Every report of one exception: ExceptionReporter's text and HTML, and the mail."""
    request = RequestFactory().get("/somewhere/?q=1")
    try:
        raise RuntimeError("something broke")
    except RuntimeError:
        exc_info = sys.exc_info()
    reporter = ExceptionReporter(request, *exc_info)
    handler = AdminEmailHandler(
        include_html=True, email_backend="django.core.mail.backends.locmem.EmailBackend"
    )
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Boom", (), exc_info)
    record.request = request
    mail.outbox = []
    handler.emit(record)
    [sent] = mail.outbox
    html = [str(content) for content, _ in sent.alternatives]  # type: ignore[attr-defined]
    return [reporter.get_traceback_text(), reporter.get_traceback_html(), sent.body, *html]


@given(secret_settings)
def test_no_secret_setting_appears_in_an_error_report(values: dict[str, Any]) -> None:
    with override_settings(DEBUG=True, ADMINS=[("Admin", "admin@example.com")], **values):
        pages = reports()
        client = Client(raise_request_exception=False)
        for url in ("/send/", "/send-other/", "/forget/"):
            response = client.get(url)
            assert response.status_code == 500
            pages.append(response.content.decode())
        # The debug page does show the settings (hidden ones as stars): the report is real.
        assert all("POSTMARK_WEBHOOK_CREDENTIALS" in page for page in pages)
        for name, value in values.items():
            for secret in strings_in(value):
                for page in pages:
                    assert secret not in page, f"{name} shown in an error report"

        # Concealed, not changed: the webhook still takes every configured pair and secret.
        user, password = values["POSTMARK_WEBHOOK_CREDENTIALS"][-1]
        api_pair = (values["POSTMARK_API_USER"], values["POSTMARK_API_PASSWORD"])
        for pair in ((user, password), api_pair):
            for secret in values["POSTMARK_WEBHOOK_SECRETS"]:
                answer = post(
                    client,
                    {"RecordType": "Bounce"},
                    auth=basic_auth(*pair),
                    HTTP_X_POSTMARK_WEBHOOK_SECRET=secret,
                )
                assert answer.status_code == 400
        assert post(client, {}, auth=basic_auth(user, password + "x")).status_code == 401
        assert post(client, {}, auth=basic_auth(user, password)).status_code == 403


def test_secrets_set_in_the_settings_module_are_hidden_too(tmp_path: Path) -> None:
    # Not override_settings: a site's settings file, read once at start-up.
    secrets = {f"POSTMARK_{name}": f"{name.lower()}-S3cr3t-value" for name in SECRET_SETTINGS}
    secrets["POSTMARK_WEBHOOK_USER"] = secrets["POSTMARK_API_USER"]
    secrets["POSTMARK_WEBHOOK_PASSWORD"] = secrets["POSTMARK_API_PASSWORD"]
    pair = ("rotated-user-1a2b3c", "rotated-pass-4d5e6f")
    lines = [f"{name} = {value!r}" for name, value in secrets.items()]
    lines += [
        f"POSTMARK_WEBHOOK_CREDENTIALS = [{pair!r}]",
        f"POSTMARK_SERVER_TOKENS = [{secrets['POSTMARK_SERVER_TOKENS']!r}]",
    ]
    (tmp_path / "site_settings.py").write_text("from tests.settings import *\n" + "\n".join(lines))
    script = (
        "import sys, django; django.setup()\n"
        "from django.test import RequestFactory\n"
        "from django.views.debug import ExceptionReporter\n"
        "try:\n    raise RuntimeError('boom')\n"
        "except RuntimeError:\n    info = sys.exc_info()\n"
        "reporter = ExceptionReporter(RequestFactory().get('/'), *info)\n"
        "print(reporter.get_traceback_text()); print(reporter.get_traceback_html())\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "site_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert "POSTMARK_WEBHOOK_CREDENTIALS" in done.stdout
    for secret in [*secrets.values(), *pair]:
        assert secret not in done.stdout
