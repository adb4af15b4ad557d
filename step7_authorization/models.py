"""The database: users, and the tokens issued to them."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask_sqlalchemy import SQLAlchemy
from passlib.apps import custom_app_context as pwd_context
from sqlalchemy import DateTime, ForeignKey, String, false
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def create_tables() -> None:
    """Create every table that does not exist yet; never alter one that does."""
    try:
        db.create_all()
    except DatabaseError:
        # gunicorn's workers build the app at the same moment: two may both find a table
        # missing and both create it, and the second fails. Looking again finds it there.
        db.create_all()


class User(db.Model):
    __tablename__ = "users"
    # An id is never given twice, even after its user is deleted: SQLite's AUTOINCREMENT
    # (PostgreSQL's sequences never reuse one), so a Location once sent never names another.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    # Room for the ~120-character sha512_crypt hashes of step 2, and more.
    password_hash: Mapped[str] = mapped_column(String(255))
    # Granted only by `flask admin grant` on the server's machine, never by a route. The
    # database's own default lets an earlier step's code still register users here.
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())

    def hash_password(self, password: str) -> None:
        self.password_hash = pwd_context.hash(password)

    def verify_password(self, password: str) -> bool:
        return pwd_context.verify(password, self.password_hash)

    def to_dict(self) -> dict:
        # The one place that decides what a client sees: never the hash.
        return {"id": self.id, "username": self.username}

    def to_dict_for_admins(self) -> dict:
        # Who is an admin is not public: only the list of users, for admins, says it.
        return {**self.to_dict(), "is_admin": self.is_admin}


def utc_now() -> datetime:
    """The app's one clock: the time in UTC, naive like the DateTime columns."""
    return datetime.now(UTC).replace(tzinfo=None)


class Token(db.Model):
    """An access token of a user, stored as its SHA-256 digest and never as itself."""

    __tablename__ = "tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A user's tokens go with the user, in the database itself (ON DELETE CASCADE).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime())
    expires_at: Mapped[datetime] = mapped_column(DateTime(), index=True)

    @staticmethod
    def digest_of(token: str) -> str:
        # Fast on purpose, unlike a password hash: nobody can find 256 random bits from
        # their digest, and a slow hash would cost every request what tokens save.
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, lifetime: int) -> str:
        """Store a new token for `user`, valid for `lifetime` seconds, and return it."""
        token = "fra_" + secrets.token_urlsafe(32)  # a prefix scanners know, 256 random bits
        row = cls(digest=cls.digest_of(token), user_id=user.id, created_at=utc_now())
        row.expires_at = row.created_at + timedelta(seconds=lifetime)
        db.session.add(row)
        return token
