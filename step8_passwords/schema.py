"""A database that an earlier step made: refused when the app starts, and left as it is."""

import click
from sqlalchemy import inspect

from .models import db


class EarlierSchema(click.ClickException):
    """The database lacks a column of this step's tables. A ClickException, so that Flask's
    commands (flask run, flask shell) print its message as one line and exit with status 1;
    under gunicorn, a worker that raises it fails to boot, which stops the server."""


def refuse_an_earlier_schema() -> None:
    """Raise EarlierSchema if a table of this step exists without all of its columns.

    create_tables makes the tables that are missing but never alters one that exists, so
    such a table would fail every request that reads the new column. This looks before
    anything is created: a refused database is left exactly as it was. Real projects
    evolve their tables with migrations (Flask-Migrate, over Alembic) instead.
    """
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in present]
        if missing:
            raise EarlierSchema(
                f"The database at DATABASE_URL was made by an earlier step: its {table.name}"
                f" table has no {', '.join(missing)} column. Point DATABASE_URL at a new"
                " database (without it, each step has its own SQLite file)."
            )
