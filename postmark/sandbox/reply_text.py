"""``StrippedTextReply``: a reply's own text, without the message it quotes.

Postmark does not publish its rules; these are the common shapes of a quoted reply: an
attribution line ("On <date>, <someone> wrote:", which some clients wrap onto two lines), an
Outlook-style separator, or the first line of the quote itself (``>``). Everything from the
first of them on is left out. One pass over the lines: time linear in the text.
"""

from __future__ import annotations

_SEPARATORS = ("-----original message-----", "________________________________")


def stripped_reply(text: str) -> str:
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if _starts_quote(line, lines[number + 1] if number + 1 < len(lines) else ""):
            return "\n".join(lines[:number]).rstrip()
    return text.rstrip()


def _starts_quote(line: str, following: str) -> bool:
    bare = line.strip()
    if bare.startswith(">") or bare.lower() in _SEPARATORS:
        return True
    if not bare.startswith("On "):
        return False
    # "On Tue, 6 Jan 2026 at 10:00, Ann <ann@example.com> wrote:", on one line or two.
    return bare.endswith("wrote:") or f"{bare} {following.strip()}".endswith("wrote:")
