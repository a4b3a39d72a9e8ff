"""Is the app installed and configured right: ``package`` (this ``postmark`` is the one Django
loads, installed as an app, migrated), ``setting_rules`` (what a setting's value must be, and
the ``Secret`` strings credentials are kept as), ``checks`` and ``webhook_checks`` (the system
checks, naming the setting)."""
