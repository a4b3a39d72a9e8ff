"""Documented path (README) of ``LINK_KEY``, which lives in ``postmark.sending.recipients``."""

from .sending.recipients import LINK_KEY

__all__ = ["LINK_KEY"]
