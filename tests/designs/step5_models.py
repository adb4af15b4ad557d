"""Another learner's tokens, for a copy of step 5: its models.py, in a design of its own
(tests/test_workshop.py runs step 5's checks on it).

Where the solution's table "tokens" has the digest as its primary key and keeps when a
token was created, this design gives each token an id of its own, keeps the digest unique
beside it, names its columns its own way and stores only when a token expires. The
attributes keep the solution's names, so that its routes and callbacks run on it.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask_sqlalchemy import SQLAlchemy
from passlib.apps import custom_app_context as pwd_context
from sqlalchemy import DateTime, ForeignKey, String
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

    def hash_password(self, password: str) -> None:
        self.password_hash = pwd_context.hash(password)

    def verify_password(self, password: str) -> bool:
        return pwd_context.verify(password, self.password_hash)

    def to_dict(self) -> dict:
        # The one place that decides what a client sees: never the hash.
        return {"id": self.id, "username": self.username}


def utc_now() -> datetime:
    """The app's one clock: the time in UTC, naive like the DateTime columns."""
    return datetime.now(UTC).replace(tzinfo=None)


class Token(db.Model):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column("token_sha256", String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        "owner", ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column("valid_until", DateTime(), index=True)

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, lifetime: int) -> str:
        token = "fra_" + secrets.token_urlsafe(32)
        expires_at = utc_now() + timedelta(seconds=lifetime)
        db.session.add(cls(digest=cls.digest_of(token), user_id=user.id, expires_at=expires_at))
        return token
