"""Foreign keys checked on SQLite too, so that a user's tokens are deleted with the user."""

from sqlalchemy import Engine, event


def enforce_foreign_keys(engine: Engine) -> None:
    """Make SQLite check foreign keys, and so cascade deletes, on every connection of `engine`.

    SQLite checks them only on a connection that asks it to (PRAGMA foreign_keys);
    PostgreSQL always does. Call it before the first connection, which create_all opens.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", foreign_keys_on)


def foreign_keys_on(dbapi_connection, connection_record) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys = ON")
