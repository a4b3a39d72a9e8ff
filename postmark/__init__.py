"""Send Django email through Postmark and receive its webhooks."""

from __future__ import annotations

__version__ = "1.0.0"
#: The distribution this package comes from. python-postmark and Postmark's SDK install a
#: package of the same import name, ``postmark``; ``postmark.apps`` checks this marker to tell
#: when one of them has overwritten this file.
__distribution__ = "django-postmark"

# python-postmark's public names. `from postmark import PMMail` would otherwise end in a bare
# "cannot import name"; only an ImportError (not an AttributeError, which `from ... import`
# turns into that bare message) gets through, so it is raised for these names alone.
_PYTHON_POSTMARK_NAMES = frozenset(
    {"PMMail", "PMBatchMail", "PMBounceManager", "PMMailSendException", "PMBounceException"}
)


def __getattr__(name: str) -> object:
    if name in _PYTHON_POSTMARK_NAMES:
        raise ImportError(
            f"{name} is python-postmark's. This 'postmark' is django-postmark: python-postmark "
            "and Postmark's own SDK (postmark-python) use the same import name and cannot be "
            "installed beside it (README: Install)."
        )
    raise AttributeError(f"module 'postmark' has no attribute {name!r}")
