"""Web app accounts in the state database: users and roles, server-side sessions, the audit log.

The tables live on the state database's metadata (``storage.schema.metadata``) so that one
database holds tasks and who may act on them. Passwords are stored as argon2 hashes only
(argon2-cffi); a session row holds the hash of its token, never the token itself, so a copy
of the database opens nobody's session. The audit log is append-only: nothing here updates or
deletes its rows, and on SQLite and PostgreSQL a trigger refuses it at the database too.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from kaizenflow.storage.roles import ADMIN as ADMIN
from kaizenflow.storage.roles import ANALYST as ANALYST
from kaizenflow.storage.roles import OWNER as OWNER
from kaizenflow.storage.roles import ROLES as ROLES
from kaizenflow.storage.roles import VIEWER as VIEWER
from kaizenflow.storage.schema import metadata

#: A login name: an e-mail address or a plain name, as task owners are written in the config.
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$")
MIN_PASSWORD_LENGTH = 12

users = sa.Table(
    "web_users", metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(255), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text),  # None: signs in only through OIDC or the proxy header
    # JSON lists: the processes a user works on (empty: all) and the scopes (attribute=value)
    # whose tasks an owner owns besides the tasks named after them
    sa.Column("processes_json", sa.Text, nullable=False, default="[]"),
    sa.Column("scopes_json", sa.Text, nullable=False, default="[]"),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("web_users.user_id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

audit_log = sa.Table(
    "web_audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("username", sa.String(255), nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(600), nullable=False),
    sa.Column("detail_json", sa.Text, nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
)

_APPEND_ONLY_SQLITE = [
    sa.DDL(f"CREATE TRIGGER IF NOT EXISTS web_audit_log_no_{verb.lower()} BEFORE {verb} ON web_audit_log "
           "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    for verb in ("UPDATE", "DELETE")
]
_APPEND_ONLY_POSTGRES = [
    sa.DDL("CREATE OR REPLACE FUNCTION web_audit_log_append_only() RETURNS trigger AS $$ "
           "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql"),
    sa.DDL("CREATE TRIGGER web_audit_log_append_only BEFORE UPDATE OR DELETE ON web_audit_log "
           "FOR EACH ROW EXECUTE FUNCTION web_audit_log_append_only()"),
]
for _ddl in _APPEND_ONLY_SQLITE:
    sa.event.listen(audit_log, "after_create", _ddl.execute_if(dialect="sqlite"))
for _ddl in _APPEND_ONLY_POSTGRES:
    sa.event.listen(audit_log, "after_create", _ddl.execute_if(dialect="postgresql"))

#: Webhook deliveries the web app believed (two-way sinks): a delivery id seen twice is a replay.
hook_deliveries = sa.Table(
    "web_hook_deliveries", metadata,
    sa.Column("sink", sa.String(64), primary_key=True),
    sa.Column("delivery_id", sa.String(128), primary_key=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

TABLES = [users, sessions, audit_log, hook_deliveries]

#: A session and its user by the token's hash: every page asks it, so it is built once (a
#: statement made anew is built and keyed again by SQLAlchemy on each call).
_SESSION = (sa.select(sessions.c.csrf_token, sessions.c.expires_at, users)
            .join(users, users.c.user_id == sessions.c.user_id)
            .where(sessions.c.token_hash == sa.bindparam("token_hash")))


class AccountError(ValueError):
    """A user or role that does not exist or cannot be given; the message says which."""


@dataclass(frozen=True)
class User:
    """An account as the web app sees it."""

    user_id: int
    username: str
    role: str
    processes: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    disabled: bool = False
    has_password: bool = True

    def sees(self, process: str) -> bool:
        return not self.processes or process in self.processes


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    username: str
    action: str
    target: str
    detail: dict[str, object]
    address: str


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi's default parameters, RFC 9106's low-memory profile)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _user(row: sa.RowMapping) -> User:
    return User(
        user_id=int(row["user_id"]), username=row["username"], role=row["role"],
        processes=tuple(json.loads(row["processes_json"] or "[]")),
        scopes=tuple(json.loads(row["scopes_json"] or "[]")),
        disabled=bool(row["disabled"]), has_password=row["password_hash"] is not None,
    )


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def check_scope(scope: str) -> str:
    attribute, equals, value = scope.partition("=")
    if not (attribute.strip() and equals and value.strip()):
        raise AccountError(f"scope {scope!r} is not attribute=value (for example plant=P-03)")
    return scope


class AccountStore:
    """Users, sessions and the audit log on the state database's engine."""

    #: Dummy hash verified for unknown users, so that a login takes as long either way.
    _DUMMY_HASH: str | None = None

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, tables=TABLES)

    # --- users ------------------------------------------------------------------------------

    def add_user(
        self, username: str, role: str, password: str | None, processes: Sequence[str] = (),
        scopes: Sequence[str] = (),
    ) -> User:
        if not _USERNAME.match(username):
            raise AccountError(f"user name {username!r}: use letters, digits and . _ @ + - only")
        check_role(role)
        for scope in scopes:
            check_scope(scope)
        hashed = hash_password(password) if password is not None else None
        with self.engine.begin() as connection:
            if connection.execute(sa.select(users.c.user_id).where(users.c.username == username)).first():
                raise AccountError(f"user {username} exists already")
            connection.execute(users.insert().values(
                username=username, role=role, password_hash=hashed,
                processes_json=json.dumps(list(processes)), scopes_json=json.dumps(list(scopes)),
                disabled=False, created_at=datetime.now(UTC),
            ))
        return self.user(username)

    def user(self, username: str) -> User:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            raise AccountError(f"there is no user {username}")
        return _user(row)

    def list_users(self) -> list[User]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(users).order_by(users.c.username)).mappings().all()
        return [_user(row) for row in rows]

    def set_role(self, username: str, role: str) -> User:
        check_role(role)
        return self._update(username, role=role)

    def set_password(self, username: str, password: str) -> User:
        user = self._update(username, password_hash=hash_password(password))
        self.end_sessions(user.user_id)
        return user

    def set_disabled(self, username: str, disabled: bool = True) -> User:
        """A disabled user cannot sign in, and their open sessions end at once."""
        user = self._update(username, disabled=disabled)
        if disabled:
            self.end_sessions(user.user_id)
        return user

    def _update(self, username: str, **values: object) -> User:
        with self.engine.begin() as connection:
            done = connection.execute(users.update().where(users.c.username == username).values(**values))
        if not done.rowcount:
            raise AccountError(f"there is no user {username}")
        return self.user(username)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is theirs and they are enabled; None otherwise."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = PasswordHasher()
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        stored = row["password_hash"] if row is not None else None
        if stored is None:
            if AccountStore._DUMMY_HASH is None:
                AccountStore._DUMMY_HASH = hasher.hash(secrets.token_hex(16))
            stored = AccountStore._DUMMY_HASH
            row = None
        try:
            hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row["disabled"]:
            return None
        if hasher.check_needs_rehash(stored):
            with self.engine.begin() as connection:
                connection.execute(users.update().where(users.c.user_id == row["user_id"])
                                   .values(password_hash=hasher.hash(password)))
        return _user(row)

    # --- sessions ---------------------------------------------------------------------------

    def start_session(self, user: User, lifetime: timedelta) -> tuple[str, Session]:
        """A new session: returns the token for the cookie (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        csrf = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.expires_at < now))
            connection.execute(sessions.insert().values(
                token_hash=_token_hash(token), user_id=user.user_id, csrf_token=csrf,
                created_at=now, expires_at=now + lifetime,
            ))
        return token, Session(user=user, csrf_token=csrf, expires_at=now + lifetime)

    def session(self, token: str) -> Session | None:
        """The live session of a token: not expired, its user enabled."""
        with self.engine.connect() as connection:
            row = connection.execute(_SESSION, {"token_hash": _token_hash(token)}).mappings().first()
        if row is None or row["disabled"] or _aware(row["expires_at"]) <= datetime.now(UTC):
            return None
        return Session(user=_user(row), csrf_token=row["csrf_token"], expires_at=_aware(row["expires_at"]))

    def end_session(self, token: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.token_hash == _token_hash(token)))

    def end_sessions(self, user_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(sessions.delete().where(sessions.c.user_id == user_id))

    # --- the audit log ----------------------------------------------------------------------

    def audit(self, username: str, action: str, target: str, detail: dict[str, object] | None = None,
              address: str = "") -> None:
        with self.engine.begin() as connection:
            connection.execute(audit_log.insert().values(
                at=datetime.now(UTC), username=username, action=action, target=target[:600],
                detail_json=json.dumps(detail or {}, sort_keys=True, default=str), address=address[:64],
            ))

    def audit_entries(self, limit: int = 200, username: str | None = None,
                      target: str | None = None) -> list[AuditEntry]:
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if username is not None:
            query = query.where(audit_log.c.username == username)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [AuditEntry(at=_aware(r["at"]), username=r["username"], action=r["action"],
                           target=r["target"], detail=json.loads(r["detail_json"]), address=r["address"])
                for r in rows]

    def recent_failures(self, since: datetime, username: str | None = None,
                        address: str | None = None) -> int:
        """Failed sign-ins since ``since`` for a user name or from an address (rate limiting)."""
        query = sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.action == "login_failed", audit_log.c.at >= since)
        if username is not None:
            query = query.where(audit_log.c.target == username)
        if address is not None:
            query = query.where(audit_log.c.address == address)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)
