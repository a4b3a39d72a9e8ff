"""Send Django email through Postmark and receive its webhooks."""

__version__ = "0.1.0.dev0"
