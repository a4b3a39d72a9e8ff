"""Email addresses as Postmark takes them: parsed, checked, formatted, and read back.

``format_address`` is what every address of a payload goes through, so the rules for what an
address may hold (no line breaks: CR or LF in a header would start a new one) live here once.

Every parser here runs in time linear in its input, whatever a display name holds: the regular
expressions use possessive quantifiers only (they cannot backtrack), and ``address_list`` reads
the rest in one pass. The standard library's ``getaddresses`` is not used: it recurses once per
nested comment or group (``((((`` or ``::::`` raise RecursionError), and its answer for
malformed lists differs between Python releases.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..exceptions import UnsupportedMessageError

# The common forms, "a@b" and "Name <a@b>", read without the general parser. Characters that
# need it (quotes, comments, groups, several addresses) are in no class here.
_ATOM = r"[^\s@<>()\[\],;:\\\"]++"
_PLAIN_ADDRESS = re.compile(rf"\s*+({_ATOM}@{_ATOM})\s*+")
# The name's words and the spaces between them are taken possessively: a long run of spaces
# before a character that fails the match costs one pass, not one per way of dividing it.
_NAMED_ADDRESS = re.compile(rf"\s*+((?:[^\s<>()\[\],;:\\\"@]++\s*+)*+)<({_ATOM}@{_ATOM})>\s*+")
# One token of an address list: an escaped character, a run of ordinary ones, or one special.
_LIST_TOKEN = re.compile(r'\\.?|[^\\"()<>,;:]++|.', re.DOTALL)
# What an address (RFC 5322 addr-spec) may be, beyond the regular expressions above: a quoted
# local part, and a domain literal ("[192.0.2.1]"); never a list separator, bracket or space.
_LOCAL_PART = r'(?:"(?:[^"\\\r\n]|\\.)*+"|[^\s<>()\[\],;:\\"@]++)'
_DOMAIN = r"(?:\[[^\[\]\\\s]*+\]|[^\s<>()\[\],;:\\\"@]++)"
_ADDR_SPEC = re.compile(rf"{_LOCAL_PART}@{_DOMAIN}")
# What separates words: any white space, as in the regular expressions above.
_FOLDING_SPACE = re.compile(r"\s++")
_AROUND_DOTS = re.compile(r" ?([@.]) ?")

Pair = tuple[str, str]  # (display name, address)


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
        text = str(address)
        if len(text) <= _CACHED_LENGTH:
            return _format_cached(text)
        return _format_address_string(text)
    except UnsupportedMessageError as error:
        raise UnsupportedMessageError(error.message, field=field) from None


def _format_address_string(address: str) -> str:
    # address_list is exact but slow (tens of microseconds an address); most addresses are "a@b"
    # or "Name <a@b>", which a regular expression reads the same way much faster.
    refuse_line_breaks(address, "address")
    plain = _PLAIN_ADDRESS.fullmatch(address)
    if plain:
        return _join_address("", plain.group(1), address)
    named = _NAMED_ADDRESS.fullmatch(address)
    if named:
        return _join_address(named.group(1).rstrip(), named.group(2), address)
    parsed = address_list(address)
    if len(parsed) != 1 or not parsed[0][1]:
        raise UnsupportedMessageError(f"{address!r} is not one email address.")
    return _join_address(*parsed[0], address)


# The same From address recurs in every message of a send, hence a cache; of addresses of a
# common length only, so that what it holds stays bounded (4,096 x 320 characters at most).
_CACHED_LENGTH = 320
_format_cached = lru_cache(maxsize=4096)(_format_address_string)


def _join_address(name: str, addr: str, original: object) -> str:
    refuse_line_breaks(name, "address")
    refuse_line_breaks(addr, "address")
    local, _, domain = addr.rpartition("@")
    if not _ADDR_SPEC.fullmatch(addr):
        raise UnsupportedMessageError(f"{original!r} is not a valid email address.")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UnsupportedMessageError(f"{original!r} has an invalid domain: {exc}") from exc
        addr = f"{local}@{domain}"
    name = name.strip()  # spaces around a name are no part of it, and would not read back
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
    first = address_list(recipient, limit=1)
    return first[0][1].lower() if first else ""


def split_addresses(text: str) -> list[str]:
    """The bare addresses in Postmark's "To" of a result ("a@x, Name <b@y>")."""
    addresses = []
    for part in text.split(","):
        match = _PLAIN_ADDRESS.fullmatch(part) or _NAMED_ADDRESS.fullmatch(part)
        if match is None:
            # Quoted names (which may hold commas), comments, groups: the exact parser.
            return [address for _, address in address_list(text)]
        addresses.append(match.group(match.lastindex or 1))
    return addresses


def address_list(text: str, limit: int | None = None) -> list[Pair]:
    """The (display name, address) pairs of an address list (``a@b, "Doe, J" <c@d>, ...``), the
    first ``limit`` of them, read in one pass as ``email.utils.getaddresses`` reads a well-formed
    list: a quoted name keeps its text (escapes undone), a comment names an address that has no
    name, a group's name is dropped (``Team: a@b, c@d;`` gives both), and an unterminated quote,
    comment or angle address runs to the end. Items with no address at all are left out; what
    an address must hold beyond that (an ``@``...) is for the caller to say.
    """
    reader = _ListReader()
    for match in _LIST_TOKEN.finditer(text):
        pair = reader.read(match.group())
        if pair is not None:
            reader.pairs.append(pair)
            if limit is not None and len(reader.pairs) >= limit:
                return reader.pairs
    pair = reader.end_item()
    if pair is not None and (limit is None or len(reader.pairs) < limit):
        reader.pairs.append(pair)
    return reader.pairs


class _ListReader:
    """The state of ``address_list`` between tokens: the open quote, comment (nested to any
    depth, counted rather than recursed into) or angle address, and the item read so far."""

    def __init__(self) -> None:
        self.pairs: list[Pair] = []
        self.mode = ""  # '"', "(" or "<" while one is open
        self.outer = ""  # the mode a comment returns to: "" or "<" (a comment in an address)
        self.depth = 0
        self.buffer: list[str] = []  # the open quote's or comment's text
        self.start_item()

    def start_item(self) -> None:
        self.words: list[str] = []  # the display name, word by word
        self.spec: list[str] = []  # the item as written outside comments and angle brackets
        self.comments: list[str] = []
        self.angle: list[str] = []  # the angle address's text
        self.in_angle = False  # whether the item has an angle address

    def read(self, token: str) -> Pair | None:
        """Takes one token; the pair of an item that this token ends, else None."""
        text = token[1:] if token[0] == "\\" else token
        if self.mode == '"':
            self.spec.append(token)
            if token == '"':
                self.mode = ""
                self.words.append("".join(self.buffer))
            else:
                self.buffer.append(text)
        elif self.mode == "(":
            self.depth += {"(": 1, ")": -1}.get(token, 0)
            if not self.depth:
                self.mode = self.outer
                self.comments.append(" ".join(_words("".join(self.buffer))))
            elif token not in ("(", ")"):  # nested comments are read as their text
                self.buffer.append(text)
        elif token == "(":
            self.outer, self.mode, self.depth, self.buffer = self.mode, "(", 1, []
        elif self.mode == "<":
            if token == ">":
                self.mode = ""
            else:
                self.angle.append(token)
        elif token in ('"', "<"):
            self.mode, self.buffer = token, []
            if token == '"':
                self.spec.append(token)
            else:
                self.in_angle = True
        elif token in (",", ";"):
            return self.end_item()
        elif token == ":":  # the name of a group: its members are read as a list's
            self.words, self.spec = [], []
        elif token not in (")", ">"):  # a stray closing bracket is dropped, as getaddresses does
            self.words.extend(_words(text))
            self.spec.append(token)
        return None

    def end_item(self) -> Pair | None:
        # Whatever is still open is unterminated: it runs to the end of the text.
        if self.mode == '"':
            self.words.append("".join(self.buffer))
        elif self.mode == "(":
            self.comments.append(" ".join(_words("".join(self.buffer))))
        self.mode = ""
        name = " ".join(word for word in self.words if word)
        if self.in_angle:
            spec = "".join(self.angle)
            if spec.startswith("@"):  # an obsolete source route, "<@relay:a@b>"
                spec = spec.rpartition(":")[2]
            if self.comments:
                name = f"{name} ({' '.join(self.comments)})".lstrip()
        else:
            spec = "".join(self.spec)
            name = " ".join(self.comments)
        # Spaces around "@" and "." go (as getaddresses drops them); any other space stays, and
        # makes the address invalid rather than another address ("a b@c" is not "ab@c").
        spec = _AROUND_DOTS.sub(r"\1", " ".join(_words(spec)))
        self.start_item()
        return (name, spec) if spec else None


def _words(text: str) -> list[str]:
    return [word for word in _FOLDING_SPACE.split(text) if word]
