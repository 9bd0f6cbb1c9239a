"""Apply the SQL files of ``include/sql/migrations`` in order, once each.

Each file ``NNNN_name.sql`` is applied in its own transaction and recorded in
``schema_migrations`` with a checksum; editing a file that was already applied is refused, so the
schema evolves only by adding files. Concurrent callers (two Airflow workers starting at once) are
serialised with an advisory lock on PostgreSQL and a write lock on SQLite.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lago_netsuite import paths

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PG_LOCK_KEY = 0x4C41474F  # "LAGO": one advisory lock for the store's migrations


class MigrationError(RuntimeError):
    """A migration file is malformed or an applied one was edited."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    """List the migration files in version order, refusing gaps in naming or duplicate versions."""
    directory = directory or paths.sql_dir() / "migrations"
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} is also {found[version].path.name}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """Split a DDL file on the semicolons that end lines, ignoring ``--`` comments.

    Migration files hold plain DDL (no procedural bodies), so this is enough and keeps the files
    runnable by ``psql -f`` and ``sqlite3`` as they are.
    """
    statements: list[str] = []
    current: list[str] = []
    for line in sql.splitlines():
        code = line.split("--", 1)[0].rstrip()
        if not code.strip():
            continue
        current.append(code)
        if code.endswith(";"):
            statements.append("\n".join(current).rstrip(";").strip())
            current = []
    if current and "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


_BOOKKEEPING = sa.Table(
    "schema_migrations",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # Any write takes SQLite's database lock for the rest of the transaction.
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS _migration_lock (id INTEGER)"))


def migrate(engine: Engine, directory: Path | None = None) -> list[int]:
    """Bring the store's schema up to date; return the versions applied now.

    Raises:
        MigrationError: an applied migration's file changed since it was applied.
    """
    migrations = discover(directory)
    applied_now: list[int] = []
    with engine.begin() as conn:
        _lock(conn)
        _BOOKKEEPING.create(conn, checkfirst=True)
    for migration in migrations:
        with engine.begin() as conn:
            _lock(conn)
            row = conn.execute(
                sa.select(_BOOKKEEPING.c.checksum).where(_BOOKKEEPING.c.version == migration.version)
            ).first()
            if row is not None:
                if row.checksum != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} was edited after it was applied "
                        "(add a new migration instead of changing an applied one)"
                    )
                continue
            for statement in split_statements(migration.sql):
                conn.exec_driver_sql(statement)
            conn.execute(
                _BOOKKEEPING.insert().values(
                    version=migration.version,
                    name=migration.name,
                    checksum=migration.checksum,
                    applied_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            applied_now.append(migration.version)
            log.info("sync store: applied migration %s_%s", f"{migration.version:04d}", migration.name)
    return applied_now


def current_version(engine: Engine) -> int:
    """The highest applied migration version (0 for an empty store)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return 0
        return conn.execute(sa.select(sa.func.max(_BOOKKEEPING.c.version))).scalar() or 0
