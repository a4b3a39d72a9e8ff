"""The few write statements behind the default receivers, the webhook views and the sent-message
log.

``statements`` is the one interface every caller uses: it hands each operation to ``compiled``
(SQL compiled for SQLite, PostgreSQL and MySQL/MariaDB) or to ``orm`` (the same operations through
the ORM, for any other database), which take the same arguments; both write what ``values``
makes of a value.
"""
