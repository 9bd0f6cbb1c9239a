"""Extract the Lago catalog and customers into the sync store, idempotently."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lago_netsuite.ledger import catalog

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lago_netsuite.hooks.lago import LagoHook

log = logging.getLogger(__name__)


def fetch_catalog_type(hook: LagoHook, object_type: str) -> list[dict[str, Any]]:
    """All objects of one catalog type, as Lago sends them."""
    path, collection, _key = catalog.CATALOG_ENDPOINTS[object_type]
    if object_type == "billing_entity":  # the one catalog list Lago does not paginate
        return list(hook.get(path).get(collection) or [])
    return list(hook.paginate(path, collection=collection))


def extract_catalog(hook: LagoHook, engine: Engine, *, run_id: str | None = None) -> dict[str, dict[str, int]]:
    """Store every catalog type (plans, taxes, coupons, add-ons, billable metrics, billing entities).

    Returns:
        ``{object_type: {"inserted", "changed", "unchanged"}}`` for the run's report.
    """
    result: dict[str, dict[str, int]] = {}
    for object_type in catalog.CATALOG_ENDPOINTS:
        objects = fetch_catalog_type(hook, object_type)
        counts = catalog.upsert_catalog_objects(engine, object_type, objects, run_id=run_id)
        result[object_type] = counts.as_dict()
        log.info("catalog %s: %d fetched, %s", object_type, len(objects), counts.as_dict())
    return result


def extract_customers(hook: LagoHook, engine: Engine, *, run_id: str | None = None) -> dict[str, int]:
    """Store every Lago customer, with its NetSuite integration link when Lago has one."""
    customers = list(hook.paginate("/customers", collection="customers"))
    counts = catalog.upsert_customers(engine, customers, run_id=run_id)
    log.info("customers: %d fetched, %s", len(customers), counts.as_dict())
    return counts.as_dict()
