"""Each ledger row's billing entity, kept on the row so the ledger UI filters and counts by it on an index.

A document's billing entity is its customer's (``lago_customer.billing_entity_code``, found through
the stored Lago document); a customer row's is its own. Credit memo applications and refunds have
no Lago document of their own kind and keep none, as the UI always showed them. The column is set
when the transform writes a row (:func:`refresh_rows`) and again for every document of a customer
whose Lago record changed (:func:`refresh_customers`); only rows whose value differs are written.
Migration 0017 filled it for the rows that existed before.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.upsert import CHUNK

L, D, C = schema.ledger, schema.document, schema.customer


def _derived() -> sa.ColumnElement[str | None]:
    """The billing entity a ledger row should carry, from the stored Lago document and customer."""
    doc_kind = sa.case((L.c.kind == "salesorder", "invoice"), else_=L.c.kind)
    of_document = (sa.select(C.c.billing_entity_code)
                   .select_from(D.join(C, C.c.external_id == D.c.customer_external_id))
                   .where(D.c.kind == doc_kind, D.c.lago_id == L.c.lago_id).limit(1).scalar_subquery())
    of_customer = sa.select(C.c.billing_entity_code).where(C.c.lago_id == L.c.lago_id).limit(1).scalar_subquery()
    return sa.case((L.c.kind == "customer", of_customer), else_=of_document)


def _update(conn: Connection, scope: sa.ColumnElement[bool]) -> int:
    value = _derived()
    result = conn.execute(L.update().where(scope, L.c.billing_entity_code.is_distinct_from(value))
                          .values(billing_entity_code=value))
    return int(result.rowcount or 0)


def refresh_rows(conn: Connection, external_ids: Iterable[str]) -> int:
    """Set the billing entity of these ledger rows; returns how many changed."""
    ids = list(dict.fromkeys(external_ids))
    return sum(_update(conn, L.c.external_id.in_(ids[i : i + CHUNK])) for i in range(0, len(ids), CHUNK))


def refresh_customers(conn: Connection, customers: Iterable[tuple[str, str]]) -> int:
    """Re-derive the rows of these customers (``(lago_id, external_id)``) and of all their documents."""
    pairs = list(dict.fromkeys(customers))
    changed = 0
    for i in range(0, len(pairs), CHUNK // 2):
        chunk = pairs[i : i + CHUNK // 2]
        lago_ids, external_ids = [p[0] for p in chunk], [p[1] for p in chunk]
        documents = sa.select(D.c.lago_id).where(D.c.customer_external_id.in_(external_ids))
        changed += _update(conn, sa.or_(sa.and_(L.c.kind == "customer", L.c.lago_id.in_(lago_ids)),
                                        L.c.lago_id.in_(documents)))
    return changed
