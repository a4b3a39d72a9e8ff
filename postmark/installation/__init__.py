"""Is the app installed and configured right: ``package`` (this ``postmark`` is the one Django
loads, installed as an app, migrated) and ``checks`` (the system checks, naming the setting)."""
