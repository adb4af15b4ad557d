"""The database: its users."""

from flask_sqlalchemy import SQLAlchemy
from passlib.apps import custom_app_context as pwd_context
from sqlalchemy import String
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
