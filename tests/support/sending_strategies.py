"""Hypothesis strategies for the sending side: Django messages (good, odd and bad), values that
try to break a header, and the ways a Postmark stand-in can misbehave.

Example counts stay small by default (the suite runs in about a minute); set
``HYPOTHESIS_PROFILE=fuzz`` for a long run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.utils.functional import lazystr
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.support.fake_postmark import Received, Reply, accepted, redirect

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def examples(count: int) -> Any:
    """Hypothesis settings for a test that uses function-scoped fixtures (the stand-ins)."""
    return settings(
        max_examples=count * 25 if FUZZ else count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# Any code point but surrogates (which no str that came from UTF-8 holds) and NUL: PostgreSQL
# stores no NUL in text or JSON, and the default receivers (pre_send's suppression query, the
# Message log) pass it through, so a NUL in a name, body or metadata fails there on PostgreSQL.
# The payload refuses NUL where it would reach a header (test_a_nul_in_a_header_is_refused).
any_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30
)
line_breaks = st.sampled_from(["\r", "\n", "\r\n", "\r\nBcc: evil@example.net"])


@st.composite
def with_line_break(draw: st.DrawFn, text: st.SearchStrategy[str] = any_text) -> str:
    return draw(text) + draw(line_breaks) + draw(text)


names = any_text.filter(lambda name: "\r" not in name and "\n" not in name)
local_parts = st.text("abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=12).filter(
    lambda part: not part.startswith(".") and not part.endswith(".") and ".." not in part
)
domains = st.sampled_from(["example.com", "example.org", "bücher.example", "mail.example.net"])


@st.composite
def addresses(draw: st.DrawFn, name: st.SearchStrategy[str] = names, pairs: bool = False) -> Any:
    """An address as Django takes one: "a@b", "Name <a@b>", or (``pairs``) a (name, address)
    pair, which Django's own backends accept for from_email."""
    address = f"{draw(local_parts)}@{draw(domains)}"
    shown = draw(name)
    form = draw(st.sampled_from(["bare", "pair", "string"] if pairs else ["bare", "string"]))
    if form == "bare" or not shown:
        return address
    if form == "pair":
        return (shown, address)
    return quoted(shown, address)


def quoted(name: str, address: str) -> str:
    """``"name" <address>``, the name quoted and escaped as Django's formataddr() writes it."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + f'" <{address}>'


# --- Addresses from around the world, and lazy text ---------------------------------------------

#: Letters of several left-to-right scripts, both cases, and a few that IDNA maps to others
#: ("ß" to "ss", the "ﬁ" ligature to "fi", capitals to small letters).
WORLD_LETTERS = "äöüßéñçøåæœłśżčřšžığÄÖÜÉÑÇØÅαβγδωΣабвгджяБЖЯ日本語中文한국어ไทยﬁ"


def _idna_encodes(label: str) -> bool:
    try:
        return 0 < len(label.encode("idna")) <= 63
    except UnicodeError:
        return False


@st.composite
def idn_label(draw: st.DrawFn) -> str:
    """A domain label holding at least one letter outside ASCII, as IDNA takes it."""
    ascii_part = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", max_size=6)
    label = draw(ascii_part) + draw(st.sampled_from(WORLD_LETTERS)) + draw(ascii_part)
    label = label.strip("-") or "x"
    # IDNA 2008 refuses "--" in a label's third and fourth places (they mark "xn--").
    return draw(st.just(label).filter(lambda text: text[2:4] != "--" and _idna_encodes(text)))


idn_domains = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(idn_label(), min_size=1, max_size=2),
    st.sampled_from(["com", "example", "org", "рф", "中国"]),
)
#: Display names with at least one letter outside ASCII, and characters an address header must
#: quote or escape (Django's own tests send "Sürname, Firstname").
world_names = st.builds(
    lambda head, letter, tail: " ".join(f"{head}{letter}{tail}".split()),
    st.text(WORLD_LETTERS + "abcXYZ09 .,'\"\\()-&@:;[]<>", max_size=10),
    st.sampled_from(WORLD_LETTERS),
    st.text(WORLD_LETTERS + "abcXYZ09 .,'-", max_size=10),
)


#: The ways Django code hands over text that is translated only when it is read.
lazy_forms: st.SearchStrategy[Callable[[str], Any]] = st.sampled_from(
    [gettext_lazy, lazystr, lambda text: format_lazy("{}", text)]
)


#: Where a line break can be put, and the field the refusal must name.
INJECTABLE_FIELDS = ("Subject", "From", "To", "Cc", "Reply-To", "header name", "header value")


def message_with_line_break(field: str, bad: str, n: int = 0) -> EmailMessage:
    """A message otherwise fine, with ``bad`` (holding CR or LF) put in ``field``."""
    message = EmailMessage(f"Subject {n}", "Body", "from@example.com", [f"to{n}@example.com"])
    if field == "Subject":
        message.subject = bad
    elif field == "From":
        message.from_email = (bad, "from@example.com")  # type: ignore[assignment]
    elif field in ("To", "Cc"):
        quoted = bad.replace("\\", "\\\\").replace('"', '\\"')
        getattr(message, field.lower()).append(f'"{quoted}" <other{n}@example.com>')
    elif field == "Reply-To":
        message.extra_headers["Reply-To"] = f"reply@example.com{bad}"
    elif field == "header name":
        message.extra_headers[f"X-{bad}"] = "value"
    else:
        message.extra_headers["X-Custom"] = bad
    return message


@st.composite
def django_messages(draw: st.DrawFn, n: int = 0) -> EmailMessage:
    """A message a caller might build: any text anywhere, sometimes what Postmark refuses."""
    html = draw(st.booleans())
    cls = EmailMultiAlternatives if html else EmailMessage
    message = cls(
        # A numbered subject start, so that a test can tell the messages apart in what was sent.
        f"[{n}] " + draw(any_text | with_line_break()),
        draw(any_text),
        draw(addresses(pairs=True) | addresses(with_line_break(), pairs=True)),
        [
            draw(addresses() | addresses(with_line_break())),
            *draw(st.lists(addresses(), max_size=2)),
        ],
        cc=draw(st.lists(addresses(), max_size=2)),
        reply_to=draw(st.lists(addresses(), max_size=1)),
        headers=draw(st.dictionaries(st.sampled_from(["X-A", "X-B"]), any_text, max_size=2)),
    )
    if html and draw(st.booleans()):
        message.attach_alternative(draw(any_text), "text/html")  # type: ignore[attr-defined]
    for _ in range(draw(st.integers(0, 2))):
        message.attach(draw(any_text) or "file.bin", draw(st.binary(max_size=64)), "text/plain")
    message.tag = draw(st.none() | any_text)  # type: ignore[attr-defined]
    message.metadata = draw(st.dictionaries(any_text, any_text, max_size=2))  # type: ignore[attr-defined]
    message.track_links = draw(st.sampled_from([None, "HtmlOnly", "Sometimes"]))  # type: ignore[attr-defined]
    return message


#: Values JSON cannot carry (DjangoJSONEncoder also takes dates, decimals and UUIDs, as text).
_unencodable_leaves = st.sampled_from(
    [object(), float("nan"), float("inf"), -float("inf"), b"bytes", {1, 2}, 1j, {(1, 2): "key"}]
)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def unencodable(draw: st.DrawFn) -> Any:
    """A value JSON cannot carry, alone or somewhere deep in lists and dicts of good ones."""
    value = draw(_unencodable_leaves)
    for _ in range(draw(st.integers(0, 3))):
        siblings = draw(st.lists(_json_values, max_size=2))
        if draw(st.booleans()):
            value = [*siblings, value]
        else:
            value = {**{str(i): v for i, v in enumerate(siblings)}, draw(any_text): value}
    return value


# --- A stand-in that misbehaves ----------------------------------------------------------------


def _item(kind: str, message: Any) -> Any:
    good = accepted(message if isinstance(message, dict) else {})
    return {
        "ok": good,
        "null": None,
        "text": "accepted",
        "number": 7,
        "list": [good],
        "code as text": {**good, "ErrorCode": "three hundred"},
        "code too large": {**good, "ErrorCode": 10**20},
        "code as float": {**good, "ErrorCode": 1.5},
        "code negative": {**good, "ErrorCode": -1},
        "code as bool": {**good, "ErrorCode": True},
        "refused": {"ErrorCode": 300, "Message": "Invalid email request"},
        "id not text": {**good, "MessageID": 12},
        "to not text": {**good, "To": ["a@example.com"]},
        "no id": {"ErrorCode": 0, "Message": "OK"},
    }[kind]


ITEM_KINDS = (
    "ok",
    "null",
    "text",
    "number",
    "list",
    "code as text",
    "code too large",
    "code as float",
    "code negative",
    "code as bool",
    "refused",
    "id not text",
    "to not text",
    "no id",
)


def _messages_of(received: Received) -> list[Any]:
    body = received.body
    if isinstance(body, dict) and "Messages" in body:
        return list(body["Messages"])
    return list(body) if isinstance(body, list) else [body]


@st.composite
def misbehaviours(draw: st.DrawFn, other_origin: str) -> Callable[[Received], Reply]:
    """A reply for one request: a readable or garbled answer, a redirect, a broken connection.

    ``other_origin`` is where redirects point; nothing may ever arrive there.
    """
    how = draw(
        st.sampled_from(
            ["items", "length", "not a list", "garbage", "redirect", "5xx", "drop", "cut"]
        )
    )
    kinds = draw(st.lists(st.sampled_from(ITEM_KINDS), min_size=1, max_size=6))
    extra = draw(st.sampled_from([-1, 1, 3]))
    shape = draw(st.sampled_from([{}, "OK", None, 0, {"Messages": []}]))

    def reply(received: Received) -> Reply:
        sent = _messages_of(received)
        items = [_item(kinds[i % len(kinds)], m) for i, m in enumerate(sent)]
        batch = isinstance(received.body, list | dict) and received.path.endswith(
            ("batch", "Templates")
        )
        if how == "items":
            return Reply(200, items if batch else items[0])
        if how == "length":
            return Reply(200, items[:-1] if extra < 0 else items + items[:1] * extra)
        if how == "not a list":
            return Reply(200, shape)
        if how == "garbage":
            return Reply(200, b"{" + json.dumps(items).encode()[:20])
        if how == "redirect":
            return redirect(other_origin + received.path, draw_status)
        if how == "5xx":
            return Reply(draw_5xx, {"ErrorCode": "x", "Message": "oops"})
        if how == "drop":
            return Reply(drop=True)
        return Reply(200, items, cut_after=5)

    draw_status = draw(st.sampled_from([301, 302, 303, 307, 308]))
    draw_5xx = draw(st.sampled_from([500, 502, 504]))
    return reply
