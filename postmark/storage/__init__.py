"""The few write statements behind the default receivers and the webhook views.

``statements`` is the one interface: it runs compiled SQL on SQLite, PostgreSQL and MySQL/MariaDB
and hands any other database to ``orm`` (the same operations through the ORM); both write what
``values`` makes of a value.
"""
