"""The database: users, and the tokens issued to them."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask_sqlalchemy import SQLAlchemy
from passlib.context import CryptContext
from sqlalchemy import DateTime, ForeignKey, String, false
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# New hashes are argon2id, with OWASP's first configuration: 19 MiB (19,456 KiB) of memory,
# 2 passes, 1 lane. Step 2's sha512_crypt hashes still verify, deprecated: the next login
# replaces them (User.log_in), as it does an argon2 hash made with other parameters.
pwd_context = CryptContext(
    schemes=["argon2", "sha512_crypt"],
    deprecated=["sha512_crypt"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)


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
        self.verified_hash = self.password_hash  # what replace_hash may replace
        return pwd_context.verify(password, self.password_hash)

    def log_in(self, password: str) -> bool:
        """Verify a password at login. A hash of a deprecated scheme, or of other parameters
        than pwd_context's, is replaced by a current one (PassLib's verify_and_update)."""
        self.verified_hash = self.password_hash
        verified, new_hash = pwd_context.verify_and_update(password, self.password_hash)
        return verified and (new_hash is None or self.replace_hash(password, new_hash))

    def change_password(self, current: str, new: str) -> bool:
        """Store a hash of `new`, and delete every token of the user in the same transaction;
        False, and nothing changed, if another request changed the password first."""
        return self.replace_hash(current, pwd_context.hash(new), change=True)

    def replace_hash(self, password: str, new_hash: str, change: bool = False) -> bool:
        """Store new_hash only while the stored hash is still the one that `password` was
        verified against (a conditional UPDATE), so that of two requests at once, the second
        never brings back a password that the first replaced. A change ends every token."""
        user_id = self.id  # read now: after a rollback, reading it would reload a deleted row
        while True:
            query = db.update(User).filter_by(id=user_id, password_hash=self.verified_hash)
            if db.session.execute(query.values(password_hash=new_hash)).rowcount == 1:
                break
            # Replaced meanwhile: by a login's upgrade (then `password` still verifies), or
            # by a change or a deletion (then it fails).
            db.session.rollback()
            stored = db.select(User.password_hash).filter_by(id=user_id)
            self.verified_hash = db.session.scalar(stored)
            if self.verified_hash is None or not pwd_context.verify(password, self.verified_hash):
                return False
            if not change and not pwd_context.needs_update(self.verified_hash):
                return True  # another login's upgrade came first: it stays
        if change:
            db.session.execute(db.delete(Token).filter_by(user_id=user_id))
        db.session.commit()
        self.verified_hash = new_hash
        return True

    def still_verified(self) -> bool:
        """Whether the stored hash is still the one verified in this request, read under a
        lock that a change under way holds until it ends: a shared row lock (on SQLite, the
        write lock that this transaction's pending writes take first)."""
        query = db.select(User.password_hash).filter_by(id=self.id).with_for_update(read=True)
        return db.session.scalar(query) == self.verified_hash

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
