"""Is this ``postmark`` package the one Django loads, installed as an app, alone, and migrated?

Two other distributions install a top-level package named ``postmark``: python-postmark and
Postmark's own SDK (postmark-python). Installed beside this one they overwrite each other's files
and ``pip check`` says nothing, so the mistake surfaces here, in words, instead of as an
``ImportError`` from deep inside whichever half was overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import packages_distributions

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, OperationalError, ProgrammingError, connections, router
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Model

import postmark

DISTRIBUTION = "django-postmark"
IMPORT_NAME = "postmark"
REMEDY = (
    "They cannot share one environment: `pip uninstall` every one of them, then "
    "`pip install django-postmark` again."
)


def other_distributions() -> list[str]:
    """Installed distributions other than this one that provide the ``postmark`` package."""
    found = packages_distributions().get(IMPORT_NAME, [])
    return sorted({name for name in found if _normalise(name) != DISTRIBUTION})


def require_own_package() -> None:
    """Raise if ``postmark/__init__.py`` is another distribution's (it overwrote ours)."""
    if getattr(postmark, "__distribution__", None) != DISTRIBUTION:
        others = ", ".join(other_distributions()) or "another distribution"
        raise ImproperlyConfigured(
            f"The 'postmark' package Django imported is not django-postmark's: {others} "
            f"installed its own 'postmark' over it. {REMEDY}"
        )


def require_installed_app() -> None:
    """Raise if Django has loaded its apps without this one: nothing would log the messages,
    skip suppressed addresses or store webhooks, and the models would have no tables.

    Asked as soon as the app configs are loaded (``apps_ready``), not only once every app is
    ready: another app's models module that imports ours is read before that, and would
    otherwise end in Django's RuntimeError about an explicit ``app_label``."""
    if apps.apps_ready and not apps.is_installed(IMPORT_NAME):
        raise ImproperlyConfigured(
            'django-postmark is used but "postmark" is not in INSTALLED_APPS: add it, then run '
            "`python manage.py migrate`."
        )


#: What sending raises, and what the webhook views log, when this app's tables are missing.
NOT_MIGRATED = (
    "django-postmark's tables are missing from the database: its migrations have not run. "
    "Run `python manage.py migrate postmark` (system check postmark.W020 says so too, with "
    "`manage.py check --database default`)."
)


def migrate_command(alias: str) -> str:
    database = "" if alias == "default" else f" --database {alias}"
    return f"python manage.py migrate {IMPORT_NAME}{database}"


def migration_state(alias: str) -> tuple[list[str], int]:
    """(this app's migrations not applied to the database ``alias``, in order; how many
    migrations the app has). Queries the database's migration records."""
    executor = MigrationExecutor(connections[alias])
    graph = executor.loader.graph
    targets = [node for node in graph.leaf_nodes() if node[0] == IMPORT_NAME]
    plan = executor.migration_plan(targets)
    unapplied = [migration.name for migration, _ in plan if migration.app_label == IMPORT_NAME]
    return unapplied, sum(1 for app_label, _ in graph.nodes if app_label == IMPORT_NAME)


def _tables() -> list[type[Model]]:
    """The models whose tables this app's migrations create."""
    models = apps.get_app_config(IMPORT_NAME).get_models()
    return [model for model in models if model._meta.managed and not model._meta.proxy]


def holds_tables(alias: str) -> bool:
    """Whether the project's routers put any of this app's tables in the database ``alias``."""
    return any(router.allow_migrate_model(alias, model) for model in _tables())


def missing_tables(alias: str) -> list[str]:
    """This app's tables that the database ``alias`` lacks (one introspection query)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    return [
        model._meta.db_table
        for model in _tables()
        if model._meta.db_table not in existing and router.allow_migrate_model(alias, model)
    ]


#: How each database says "no such table": PostgreSQL's SQLSTATE undefined_table (in any
#: language), MySQL's and MariaDB's ER_NO_SUCH_TABLE, SQLite's message (never translated).
_UNDEFINED_TABLE_STATE = "42P01"
_MYSQL_NO_SUCH_TABLE = 1146
_SQLITE_NO_SUCH_TABLE = "no such table: "


def is_missing_table(error: BaseException) -> bool:
    """Whether a database error comes from this app's tables not being there (``migrate`` has
    not run), as opposed to any other failure, which the caller should let through."""
    if not isinstance(error, OperationalError | ProgrammingError):
        return False
    names = [model._meta.db_table for model in _tables()]
    if _says_no_such_table(error) and any(name in str(error) for name in names):
        return True
    # Another database: ask it. Not first, and not only: after the error PostgreSQL refuses
    # every statement of the transaction, and inside an atomic block so does Django.
    aliases = {router.db_for_write(model) for model in _tables()}
    for alias in sorted(aliases | {router.db_for_read(model) for model in _tables()}):
        try:
            if missing_tables(alias):
                return True
        except DatabaseError:
            continue
    return False


def _says_no_such_table(error: BaseException) -> bool:
    cause = error.__cause__ or error
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    number = cause.args[0] if cause.args and isinstance(cause.args[0], int) else None
    return (
        state == _UNDEFINED_TABLE_STATE
        or number == _MYSQL_NO_SUCH_TABLE
        or str(error).startswith(_SQLITE_NO_SUCH_TABLE)
    )


@contextmanager
def migrated() -> Iterator[None]:
    """Turn the database error of this app's missing tables into an ImproperlyConfigured that
    says to run ``migrate``; every other error goes through unchanged."""
    try:
        yield
    except (OperationalError, ProgrammingError) as error:
        if is_missing_table(error):
            raise ImproperlyConfigured(NOT_MIGRATED) from error
        raise


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
