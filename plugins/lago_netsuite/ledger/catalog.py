"""The Lago catalog and customers in the store: idempotent upserts and reads."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.billing_entities import refresh_customers
from lago_netsuite.ledger.store import canonical_json, lookup_text
from lago_netsuite.ledger.upsert import UpsertCounts, payload_hash, upsert_tracked

log = logging.getLogger(__name__)

#: Lago catalog endpoints: object type -> (API path, collection key, key field).
CATALOG_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "billing_entity": ("/billing_entities", "billing_entities", "code"),
    "tax": ("/taxes", "taxes", "code"),
    "plan": ("/plans", "plans", "code"),
    "coupon": ("/coupons", "coupons", "code"),
    "add_on": ("/add_ons", "add_ons", "code"),
    "billable_metric": ("/billable_metrics", "billable_metrics", "code"),
}


def upsert_catalog_objects(
    engine: Engine, object_type: str, objects: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> UpsertCounts:
    """Store Lago catalog objects of one type (by ``code``), idempotently.

    An object without a ``code`` cannot be mapped or stored by key: it is skipped and named in
    ``counts.invalid`` (and logged), and the others are stored.

    Raises:
        ValueError: the type is unknown.
    """
    if object_type not in CATALOG_ENDPOINTS:
        raise ValueError(f"unknown catalog object type {object_type!r}")
    rows = []
    seen: set[str] = set()
    invalid: list[str] = []
    for obj in objects:
        code = obj.get("code") if isinstance(obj, Mapping) else None
        if not code or not isinstance(code, str):
            invalid.append(f"Lago {object_type} without a code: lago_id="
                           f"{obj.get('lago_id') if isinstance(obj, Mapping) else None!r}")
            continue
        if lookup_text(code, schema.catalog_object.c.code) != code:
            invalid.append(f"Lago {object_type} whose code is too long or holds NUL: {code!r:.80}")
            continue
        if code in seen:  # a page shifted during the crawl: keep the first copy
            continue
        seen.add(code)
        rows.append(
            {
                "object_type": object_type,
                "code": str(code),
                "lago_id": lookup_text(obj.get("lago_id"), schema.catalog_object.c.lago_id),
                "name": lookup_text(obj.get("name") or obj.get("invoice_display_name"), schema.catalog_object.c.name),
                "payload": canonical_json(obj),
                "payload_hash": payload_hash(obj),
            }
        )
    with engine.begin() as conn:
        counts = upsert_tracked(conn, schema.catalog_object, ("object_type", "code"), rows, run_id)
    return _with_invalid(counts, invalid)


def _with_invalid(counts: UpsertCounts, invalid: list[str]) -> UpsertCounts:
    for message in invalid:
        log.warning("skipped: %s", message)
    counts.invalid = invalid
    return counts


def netsuite_link(customer: Mapping[str, Any]) -> str | None:
    """The NetSuite customer id from Lago's own NetSuite integration link, if any."""
    links = customer.get("integration_customers")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, Mapping) and link.get("type") == "netsuite" and link.get("external_customer_id"):
            return str(link["external_customer_id"])
    return None


def upsert_customers(
    engine: Engine, customers: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> UpsertCounts:
    """Store Lago customers (by ``lago_id``), idempotently.

    A customer without ``lago_id`` or ``external_id`` (or with one its key columns cannot hold) is
    skipped and named in ``counts.invalid``; documents of that customer then wait for it. The other
    columns only look up what ``payload`` keeps whole, so they are cut to fit (``lookup_text``).
    """
    t = schema.customer
    rows = []
    seen: set[str] = set()
    invalid: list[str] = []
    for cust in customers:
        if not isinstance(cust, Mapping):
            invalid.append(f"Lago customer that is not an object: {cust!r:.80}")
            continue
        lago_id, external_id = cust.get("lago_id"), cust.get("external_id")
        if not lago_id or not external_id or not isinstance(lago_id, str) or not isinstance(external_id, str):
            invalid.append(
                f"Lago customer without lago_id/external_id: lago_id={lago_id!r} external_id={external_id!r}"
            )
            continue
        if lookup_text(lago_id, t.c.lago_id) != lago_id or lookup_text(external_id, t.c.external_id) != external_id:
            invalid.append(f"Lago customer whose lago_id or external_id is too long or holds NUL: "
                           f"lago_id={lago_id!r:.80} external_id={external_id!r:.80}")
            continue
        if lago_id in seen:
            continue
        seen.add(lago_id)
        rows.append(
            {
                "lago_id": str(lago_id),
                "external_id": str(external_id),
                "billing_entity_code": lookup_text(cust.get("billing_entity_code"), t.c.billing_entity_code),
                "name": lookup_text(cust.get("name") or full_name(cust), t.c.name),
                "email": lookup_text(cust.get("email"), t.c.email),
                "currency": lookup_text(cust.get("currency"), t.c.currency),
                "netsuite_customer_id": lookup_text(netsuite_link(cust), t.c.netsuite_customer_id),
                "payload": canonical_json(cust),
                "payload_hash": payload_hash(cust),
            }
        )
    with engine.begin() as conn:
        counts = upsert_tracked(conn, schema.customer, ("lago_id",), rows, run_id)
        changed = {key[0] for key in counts.changed_keys}
        # a new or changed customer (its billing entity, say) re-derives its own and its documents' rows
        refresh_customers(conn, [(str(r["lago_id"]), str(r["external_id"])) for r in rows if r["lago_id"] in changed])
    return _with_invalid(counts, invalid)


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


def full_name(customer: Mapping[str, Any]) -> str | None:
    """``firstname lastname`` of an individual customer, or None."""
    parts = (customer.get("firstname"), customer.get("lastname"))
    return " ".join(p for p in parts if isinstance(p, str) and p) or None


def missing_customer_external_ids(engine: Engine) -> list[str]:
    """External ids of customers that stored documents name but the store does not hold."""
    d, c = schema.document, schema.customer
    query = (
        sa.select(d.c.customer_external_id)
        .distinct()
        .where(d.c.customer_external_id.is_not(None))
        .where(~sa.exists().where(c.c.external_id == d.c.customer_external_id))
    )
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def customers_by_external_id(engine: Engine, external_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Stored customer payloads for the given external ids."""
    import json

    from lago_netsuite.ledger.upsert import select_in

    t = schema.customer
    with engine.connect() as conn:
        return [json.loads(p) for (p,) in select_in(conn, [t.c.payload], t.c.external_id, external_ids)]
