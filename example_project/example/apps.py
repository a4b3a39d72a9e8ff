from django.apps import AppConfig


class ExampleConfig(AppConfig):
    name = "example"
    verbose_name = "django-postmark example"

    def ready(self) -> None:
        # Connects the mailboxes (receivers of postmark's inbound_routed signal), in every
        # process: the site's, and the worker's, which runs them.
        from . import mailboxes  # noqa: F401
