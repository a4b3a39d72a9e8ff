"""Postmark's webhooks: ``views`` (HTTP), ``processing`` (store, dedupe, dispatch, replay).

``receive`` and ``replay`` are the entry points the admin and ``manage.py postmark_replay`` use.
"""

from .processing import WebhookOutcome, dispatch, receive, replay

__all__ = ["WebhookOutcome", "dispatch", "receive", "replay"]
