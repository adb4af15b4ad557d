"""`flask --app step7_authorization admin grant NAME` (and `revoke`): the one way to change a
role, run on the server's own machine, since no route grants it."""

import click
from flask.cli import AppGroup
from werkzeug.exceptions import BadRequest

from .credentials import prepare
from .models import User, db

admin = AppGroup("admin", help="Grant or revoke the admin role of a user.")


@admin.command("grant")
@click.argument("name")
def grant(name: str) -> None:
    """Make the user NAME an admin."""
    set_admin(name, True)


@admin.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Make the user NAME a plain user again."""
    set_admin(name, False)


def set_admin(name: str, is_admin: bool) -> None:
    """Set the role of the user NAME, prepared by RFC 8265 as at login, and say what it
    is now; for an unknown name, exit with status 1 and one line (click.ClickException),
    changing nothing."""
    try:
        username = prepare("username", name, "UsernameCasePreserved", 1, 32)
    except BadRequest as error:
        raise click.ClickException(
            f"There is no user named {name!r}: {error.description}"
        ) from None
    user = db.session.scalar(db.select(User).filter_by(username=username))
    if user is None:
        raise click.ClickException(f"There is no user named {username!r}.")
    if user.is_admin == is_admin:  # run twice, say so: nothing to change
        click.echo(f"{username} is {'already' if is_admin else 'not'} an admin.")
        return
    user.is_admin = is_admin
    db.session.commit()
    click.echo(f"{username} is {'now' if is_admin else 'no longer'} an admin.")
