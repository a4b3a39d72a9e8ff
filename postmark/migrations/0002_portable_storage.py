"""On MySQL and MariaDB, compare the suppression key exactly, as PostgreSQL and SQLite do.

The server's usual collation (utf8mb4_general_ci, or MySQL 8's utf8mb4_0900_ai_ci) is case- and
accent-insensitive and, on MariaDB, ignores trailing spaces: under it the unique key of two
different addresses ("jose@" and "josé@") would collide and one address's suppression would
overwrite the other's. Each key column gets its character set's binary collation, without
trailing-space padding. Nothing changes on other databases, nor in Django's model state.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

_COLUMNS = (("postmark_suppression", "email"), ("postmark_suppression", "message_stream"))


def _binary_collation(connection: Any, charset: str) -> str:
    if connection.mysql_is_mariadb:
        return f"{charset}_nopad_bin"
    return "utf8mb4_0900_bin" if charset == "utf8mb4" else f"{charset}_bin"


def use_binary_collation(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        for table, column in _COLUMNS:
            cursor.execute(
                "SELECT COLUMN_TYPE, CHARACTER_SET_NAME, IS_NULLABLE FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
                [table, column],
            )
            column_type, charset, nullable = cursor.fetchone()
            null = "NULL" if nullable == "YES" else "NOT NULL"
            collation = _binary_collation(connection, charset)
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} MODIFY {quote(column)} {column_type} "
                f"CHARACTER SET {charset} COLLATE {collation} {null}"
            )


class Migration(migrations.Migration):
    dependencies = [("postmark", "0001_initial")]

    # MySQL cannot roll DDL back, and Django refuses DDL inside a transaction there.
    operations = [
        migrations.RunPython(use_binary_collation, migrations.RunPython.noop, atomic=False)
    ]
