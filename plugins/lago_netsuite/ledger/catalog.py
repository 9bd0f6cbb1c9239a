"""The Lago catalog and customers in the store: idempotent upserts and reads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.store import canonical_json

#: Lago catalog endpoints: object type -> (API path, collection key, key field).
CATALOG_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "billing_entity": ("/billing_entities", "billing_entities", "code"),
    "tax": ("/taxes", "taxes", "code"),
    "plan": ("/plans", "plans", "code"),
    "coupon": ("/coupons", "coupons", "code"),
    "add_on": ("/add_ons", "add_ons", "code"),
    "billable_metric": ("/billable_metrics", "billable_metrics", "code"),
}


@dataclass
class UpsertCounts:
    """What an upsert did: new rows, changed rows, rows seen unchanged."""

    inserted: int = 0
    changed: int = 0
    unchanged: int = 0
    keys: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "changed": self.changed, "unchanged": self.unchanged}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def payload_hash(payload: Any) -> str:
    """sha256 of the canonical JSON of ``payload``."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _upsert(
    conn: Connection,
    table: sa.Table,
    key_cols: tuple[str, ...],
    rows: list[dict[str, Any]],
    run_id: str | None,
) -> UpsertCounts:
    """Insert new rows, update changed ones, touch unchanged ones; count each."""
    counts = UpsertCounts()
    if not rows:
        return counts
    now = _now()
    key_of = lambda r: tuple(r[c] for c in key_cols)  # noqa: E731
    existing: dict[tuple, str] = {}
    keys = [key_of(r) for r in rows]
    # Read the current hashes in chunks (SQLite caps bound parameters).
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
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
        cond = sa.and_(*[table.c[c] == upd[c] for c in key_cols])
        conn.execute(table.update().where(cond).values({k: v for k, v in upd.items() if k not in key_cols}))
    for start in range(0, len(touched), 400):
        chunk = touched[start : start + 400]
        cond = sa.tuple_(*[table.c[c] for c in key_cols]).in_(chunk)
        conn.execute(table.update().where(cond).values(last_seen_at=now, last_run_id=run_id))
    counts.inserted, counts.changed, counts.unchanged = len(inserts), len(updates), len(touched)
    counts.keys = ["/".join(map(str, k)) for k in keys]
    return counts


def upsert_catalog_objects(
    engine: Engine, object_type: str, objects: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> UpsertCounts:
    """Store Lago catalog objects of one type (by ``code``), idempotently.

    Raises:
        ValueError: an object has no ``code`` (named in the message), or the type is unknown.
    """
    if object_type not in CATALOG_ENDPOINTS:
        raise ValueError(f"unknown catalog object type {object_type!r}")
    rows = []
    seen: set[str] = set()
    for obj in objects:
        code = obj.get("code")
        if not code:
            raise ValueError(f"Lago {object_type} without a code: lago_id={obj.get('lago_id')!r}")
        if code in seen:  # a page shifted during the crawl: keep the first copy
            continue
        seen.add(code)
        rows.append(
            {
                "object_type": object_type,
                "code": str(code),
                "lago_id": obj.get("lago_id"),
                "name": obj.get("name") or obj.get("invoice_display_name"),
                "payload": canonical_json(obj),
                "payload_hash": payload_hash(obj),
            }
        )
    with engine.begin() as conn:
        return _upsert(conn, schema.catalog_object, ("object_type", "code"), rows, run_id)


def netsuite_link(customer: Mapping[str, Any]) -> str | None:
    """The NetSuite customer id from Lago's own NetSuite integration link, if any."""
    for link in customer.get("integration_customers") or []:
        if isinstance(link, Mapping) and link.get("type") == "netsuite" and link.get("external_customer_id"):
            return str(link["external_customer_id"])
    return None


def upsert_customers(
    engine: Engine, customers: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> UpsertCounts:
    """Store Lago customers (by ``lago_id``), idempotently.

    Raises:
        ValueError: a customer lacks ``lago_id`` or ``external_id`` (named in the message).
    """
    rows = []
    seen: set[str] = set()
    for cust in customers:
        lago_id, external_id = cust.get("lago_id"), cust.get("external_id")
        if not lago_id or not external_id:
            raise ValueError(
                f"Lago customer without lago_id/external_id: lago_id={lago_id!r} external_id={external_id!r}"
            )
        if lago_id in seen:
            continue
        seen.add(lago_id)
        rows.append(
            {
                "lago_id": str(lago_id),
                "external_id": str(external_id),
                "billing_entity_code": cust.get("billing_entity_code"),
                "name": cust.get("name") or " ".join(filter(None, [cust.get("firstname"), cust.get("lastname")])),
                "email": cust.get("email"),
                "currency": cust.get("currency"),
                "netsuite_customer_id": netsuite_link(cust),
                "payload": canonical_json(cust),
                "payload_hash": payload_hash(cust),
            }
        )
    with engine.begin() as conn:
        return _upsert(conn, schema.customer, ("lago_id",), rows, run_id)


def catalog_counts(engine: Engine) -> dict[str, int]:
    """Number of stored objects per catalog type, plus ``customer``."""
    with engine.connect() as conn:
        out = {
            t: c
            for t, c in conn.execute(
                sa.select(schema.catalog_object.c.object_type, sa.func.count()).group_by(
                    schema.catalog_object.c.object_type
                )
            )
        }
        out["customer"] = conn.execute(sa.select(sa.func.count()).select_from(schema.customer)).scalar_one()
    return out


def load_catalog(engine: Engine, object_type: str) -> list[dict[str, Any]]:
    """The stored payloads of one catalog type, as Lago sent them."""
    import json

    table = schema.customer if object_type == "customer" else schema.catalog_object
    query = sa.select(table.c.payload)
    if object_type != "customer":
        query = query.where(table.c.object_type == object_type)
    with engine.connect() as conn:
        return [json.loads(p) for (p,) in conn.execute(query)]
