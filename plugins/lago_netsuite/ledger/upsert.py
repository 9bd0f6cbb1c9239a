"""Idempotent upserts of tracked payloads: insert new, update changed, touch unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lago_netsuite.ledger.store import canonical_json

CHUNK = 400  # bound parameters per statement stay well under SQLite's limit


def select_in(conn: Connection, columns: Sequence[Any], key: Any, keys: Iterable[Any], *where: Any) -> Iterator[Any]:
    """Rows of ``SELECT columns WHERE key IN keys AND where``, asked ``CHUNK`` keys at a time.

    ``keys`` are de-duplicated in order; each chunk is one statement, so the bound parameters of
    one statement stay under the database's limit however many keys there are.
    """
    wanted = list(dict.fromkeys(keys))
    for start in range(0, len(wanted), CHUNK):
        yield from conn.execute(sa.select(*columns).where(key.in_(wanted[start : start + CHUNK]), *where))


def utcnow() -> datetime:
    """Naive UTC now: the store keeps UTC timestamps without a zone, identically on every backend."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class UpsertCounts:
    """What an upsert did: new rows, changed rows, rows seen unchanged."""

    inserted: int = 0
    changed: int = 0
    unchanged: int = 0
    changed_keys: list[tuple] = field(default_factory=list, repr=False)
    invalid: list[str] = field(default_factory=list)  # objects skipped, each named with the reason

    def as_dict(self) -> dict[str, int]:
        out = {"inserted": self.inserted, "changed": self.changed, "unchanged": self.unchanged}
        if self.invalid:
            out["invalid"] = len(self.invalid)
        return out


def upsert_tracked(
    conn: Connection,
    table: sa.Table,
    key_cols: tuple[str, ...],
    rows: list[dict[str, Any]],
    run_id: str | None,
) -> UpsertCounts:
    """Insert new rows, update changed ones, touch unchanged ones; count each.

    ``rows`` carry the key columns, ``payload`` and ``payload_hash``; the tracking timestamps and
    ``last_run_id`` are set here. ``counts.changed_keys`` lists the keys inserted or changed.
    """
    counts = UpsertCounts()
    if not rows:
        return counts
    now = utcnow()
    key_of = lambda r: tuple(r[c] for c in key_cols)  # noqa: E731
    existing: dict[tuple, str] = {}
    keys = [key_of(r) for r in rows]
    # Read the current hashes in chunks (SQLite caps bound parameters).
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        cond = sa.tuple_(*[table.c[c] for c in key_cols]).in_(chunk)
        for rec in conn.execute(sa.select(*[table.c[c] for c in key_cols], table.c.payload_hash).where(cond)):
            existing[tuple(rec[:-1])] = rec[-1]
    inserts, updates, touched = [], [], []
    for row in rows:
        key = key_of(row)
        stamped = {**row, "last_seen_at": now, "last_run_id": run_id}
        if key not in existing:
            inserts.append({**stamped, "first_seen_at": now, "changed_at": now})
        elif existing[key] != row["payload_hash"]:
            updates.append({**stamped, "changed_at": now})
        else:
            touched.append(key)
    if inserts:
        conn.execute(table.insert(), inserts)
    for upd in updates:
        match = sa.and_(*[table.c[c] == upd[c] for c in key_cols])
        conn.execute(table.update().where(match).values({k: v for k, v in upd.items() if k not in key_cols}))
    for start in range(0, len(touched), CHUNK):
        chunk = touched[start : start + CHUNK]
        cond = sa.tuple_(*[table.c[c] for c in key_cols]).in_(chunk)
        conn.execute(table.update().where(cond).values(last_seen_at=now, last_run_id=run_id))
    counts.inserted, counts.changed, counts.unchanged = len(inserts), len(updates), len(touched)
    counts.changed_keys = [key_of(r) for r in inserts + updates]
    return counts


def payload_hash(payload: Any) -> str:
    """sha256 of the canonical JSON of ``payload``."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
