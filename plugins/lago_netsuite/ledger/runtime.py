"""The store as seen from inside a task: resolved from the connection, migrated once per process."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from lago_netsuite.ledger import migrations, store

_migrated: set[str] = set()
_lock = threading.Lock()


def store_engine(url: str | None = None) -> Engine:
    """The store's engine, with its schema brought up to date on first use in this process."""
    url = url or store.store_url_from_connection()
    engine = store.get_engine(url)
    with _lock:
        if url not in _migrated:
            migrations.migrate(engine)
            _migrated.add(url)
    return engine
