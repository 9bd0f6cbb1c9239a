"""Engines for the sync store, and where its URL comes from."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from lago_netsuite import paths
from lago_netsuite.hooks.errors import ConfigurationError

log = logging.getLogger(__name__)

STORE_CONN_ID = "lago_netsuite_store"
DEFAULT_SQLITE_NAME = "lago_netsuite_sync.db"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def default_store_url() -> str:
    """The embedded default: a SQLite file next to Airflow's own metadata database."""
    return f"sqlite:///{paths.airflow_home() / DEFAULT_SQLITE_NAME}"


def store_url_from_connection(conn_id: str = STORE_CONN_ID) -> str:
    """Resolve the store's SQLAlchemy URL from an Airflow connection.

    Accepted shapes: extra ``sqlalchemy_url``; a ``postgres`` connection (host, port, schema =
    database, login, password); a ``sqlite`` connection whose host is the file path. When the
    connection does not exist the embedded SQLite default is used, so a newcomer needs nothing.
    On PostgreSQL, extra ``pg_schema`` keeps the store's tables in that schema of the database
    (see ``with_search_path``).

    Raises:
        ConfigurationError: the connection exists but names no usable database.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return default_store_url()
    extra = conn.extra_dejson if conn.extra else {}
    pg_schema = extra.get("pg_schema")
    if extra.get("sqlalchemy_url"):
        return with_search_path(str(extra["sqlalchemy_url"]), pg_schema, conn_id=conn_id)
    conn_type = (conn.conn_type or "").lower()
    if conn_type in {"postgres", "postgresql"}:
        if not conn.host:
            raise ConfigurationError("a postgres store connection needs a host", conn_id=conn_id)
        return with_search_path(URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host,
            port=conn.port or None,
            database=conn.schema or "postgres",
        ).render_as_string(hide_password=False), pg_schema, conn_id=conn_id)
    if conn_type == "sqlite" and conn.host:
        return f"sqlite:///{conn.host}"
    raise ConfigurationError(
        "set extra 'sqlalchemy_url', or use a postgres or sqlite connection", conn_id=conn_id
    )


_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def with_search_path(url: str, pg_schema: str | None, *, conn_id: str = STORE_CONN_ID) -> str:
    """``url`` with PostgreSQL's ``search_path`` set to ``pg_schema`` alone (libpq ``options``).

    Every statement of the store names its tables without a schema, so with this search path the
    migrations create them in ``pg_schema`` and every read and write finds them there: the store
    shares a database with other applications without touching their tables. The schema must
    exist (``CREATE SCHEMA lago_sync AUTHORIZATION <the store's user>``); PostgreSQL refuses to
    create a table when no schema of the search path exists.

    Raises:
        ConfigurationError: ``pg_schema`` is not a plain lower-case identifier, or the URL is not PostgreSQL.
    """
    if not pg_schema:
        return url
    if not _SCHEMA_NAME.match(str(pg_schema)):
        raise ConfigurationError(f"pg_schema {pg_schema!r} is not a lower-case SQL identifier", conn_id=conn_id)
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError("pg_schema applies to a PostgreSQL store only", conn_id=conn_id)
    options = f"{parsed.query.get('options', '')} -csearch_path={pg_schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (the report, the UI of a curious accountant) run beside a loader; the busy
    # timeout makes concurrent writers queue instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """Return a process-wide engine for ``url`` (default: the store connection's URL)."""
    url = url or store_url_from_connection()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
        return engine


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def dispose_engines() -> None:
    """Close every pooled connection (after a fork, or at the end of a test)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


#: A PostgreSQL store table is analyzed again once this share of its rows changed since it last was.
STALE_SHARE = 0.2
STALE_MIN_ROWS = 500


def refresh_statistics(engine: Engine, table_names: tuple[str, ...]) -> list[str]:
    """On PostgreSQL, ``ANALYZE`` the tables that changed much since they were last analyzed; return them.

    A first sync or a backfill grows the store by thousands of rows a minute, faster than
    autovacuum re-analyzes it; with statistics that still say a table is nearly empty, the planner
    joins documents to the ledger row by row, and a query of milliseconds takes seconds. Cheap
    when nothing changed (one look at ``pg_stat_user_tables``); a role that may not analyze a table
    is told once in the log and left to autovacuum.
    """
    if engine.dialect.name != "postgresql":
        return []
    look = sa.text("SELECT s.n_mod_since_analyze, c.reltuples FROM pg_stat_user_tables s "
                   "JOIN pg_class c ON c.oid = s.relid WHERE s.relid = to_regclass(:name)")
    stale: list[str] = []
    with engine.connect() as conn:
        for name in table_names:
            row = conn.execute(look, {"name": name}).first()
            if row is not None and row[0] >= max(STALE_MIN_ROWS, STALE_SHARE * max(float(row[1]), 0.0)):
                stale.append(name)
    done: list[str] = []
    for name in stale:
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f'ANALYZE "{name}"'))
            done.append(name)
        except sa.exc.DBAPIError as exc:
            if name not in _analyze_refused:
                _analyze_refused.add(name)
                log.warning("could not ANALYZE %s (left to autovacuum): %s", name, str(exc).splitlines()[0])
    return done


_analyze_refused: set[str] = set()


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and reports."""
    return make_url(url).render_as_string(hide_password=True)


def lookup_text(value: Any, column: sa.Column) -> str | None:
    """A Lago field as a lookup column of the store keeps it: text that fits the column, or None.

    Lookup columns (a document's number and status, a customer's name, ...) only index and show
    what the ``payload`` column keeps whole, as Lago sent it. So a field Lago sent with the wrong
    type (an object, a list), longer than the column, or holding NUL — which PostgreSQL text
    cannot store — is cut to fit instead of making the database refuse the row, and with it every
    other document of the batch; the transform step then holds the document back by name.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).replace("\x00", "\ufffd")
    length = getattr(column.type, "length", None)
    return text[:length] if length else text


def canonical_json(payload: Any) -> str:
    """Stable JSON text (sorted keys, no spaces) used for hashing and storage."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
