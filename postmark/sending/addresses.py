"""Email addresses as Postmark takes them: parsed, checked, formatted, and read back.

``format_address`` is what every address of a payload goes through, so the rules for what an
address may hold (no line breaks: CR or LF in a header would start a new one) live here once.
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from functools import lru_cache

from ..exceptions import UnsupportedMessageError

# Characters that need the full RFC 5322 parser (quotes, comments, groups, several addresses).
_ATOM = r"[^\s@<>()\[\],;:\\\"]+"
_PLAIN_ADDRESS = re.compile(rf"\s*({_ATOM}@{_ATOM})\s*")
_NAMED_ADDRESS = re.compile(rf"\s*([^<>()\[\],;:\\\"@\r\n]*?)\s*<({_ATOM}@{_ATOM})>\s*")


def refuse_line_breaks(value: str, field: str) -> str:
    """``value`` unchanged, or UnsupportedMessageError naming ``field`` if it holds CR, LF or NUL.

    Django's own ``message()`` raises BadHeaderError for these; Postmark would copy them into
    the header, where a "\\r\\nBcc: ..." becomes a header of its own.
    """
    # Three scans beat a regular expression here. NUL is no more allowed in a header (RFC 5322)
    # and no database text column takes it.
    if "\n" in value or "\r" in value or "\x00" in value:
        raise UnsupportedMessageError(
            f"{value[:80]!r} holds a line break (CR or LF) or a NUL, which a mail header cannot "
            "carry.",
            field=field,
        )
    return value


def format_address(address: str | tuple[str, str], field: str = "address") -> str:
    """``Name <local@domain>`` with the domain in IDNA (punycode) and the name quoted if needed.

    Raises UnsupportedMessageError naming ``field`` (From, To...) for anything else.
    """
    try:
        if isinstance(address, tuple | list):
            name, addr = address
            return _join_address(str(name), str(addr), address)
        return _format_address_string(str(address))
    except UnsupportedMessageError as error:
        raise UnsupportedMessageError(error.message, field=field) from None


@lru_cache(maxsize=4096)
def _format_address_string(address: str) -> str:
    # email.utils.getaddresses is exact but slow (about 50 us an address); most addresses are
    # "a@b" or "Name <a@b>", which a regular expression reads the same way much faster. The same
    # From address recurs in every message of a send, hence the cache.
    refuse_line_breaks(address, "address")
    plain = _PLAIN_ADDRESS.fullmatch(address)
    if plain:
        return _join_address("", plain.group(1), address)
    named = _NAMED_ADDRESS.fullmatch(address)
    if named:
        return _join_address(named.group(1), named.group(2), address)
    parsed = getaddresses([address])
    if len(parsed) != 1 or not parsed[0][1]:
        raise UnsupportedMessageError(f"{address!r} is not one email address.")
    return _join_address(*parsed[0], address)


def _join_address(name: str, addr: str, original: object) -> str:
    refuse_line_breaks(name, "address")
    refuse_line_breaks(addr, "address")
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise UnsupportedMessageError(f"{original!r} is not a valid email address.")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UnsupportedMessageError(f"{original!r} has an invalid domain: {exc}") from exc
        addr = f"{local}@{domain}"
    if not name:
        return addr
    if any(char in name for char in '()<>@,;:\\".[]'):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>"


def bare_address(recipient: object) -> str:
    """The address part of ``"Name <a@b>"``, ``"a@b"`` or a ``(name, address)`` pair (which
    Django takes wherever it takes an address), lowercased ("" if there is none).

    As ``email.utils.parseaddr(recipient)[1].lower()``, at a fraction of its cost for the common
    forms, for code that looks at every recipient of a batch (suppression lists...).
    """
    if isinstance(recipient, tuple | list) and len(recipient) == 2:
        recipient = recipient[1]
    recipient = str(recipient)
    match = _PLAIN_ADDRESS.fullmatch(recipient) or _NAMED_ADDRESS.fullmatch(recipient)
    if match is not None:
        return str(match.group(match.lastindex or 1)).lower()
    return getaddresses([recipient])[0][1].lower() if recipient else ""


def split_addresses(text: str) -> list[str]:
    """The bare addresses in Postmark's "To" of a result ("a@x, Name <b@y>")."""
    addresses = []
    for part in text.split(","):
        match = _PLAIN_ADDRESS.fullmatch(part) or _NAMED_ADDRESS.fullmatch(part)
        if match is None:
            # Quoted names (which may hold commas), comments, groups: the exact parser.
            return [address for _, address in getaddresses([text]) if address]
        addresses.append(match.group(match.lastindex or 1))
    return addresses
