"""Wire a Lago sandbox and a NetSuite sandbox together, as the demo and the integration tests use them.

The NetSuite side accepts exactly the items, currencies and subsidiaries the mapping file names,
already holds the NetSuite customers that Lago links to, and checks every document's total
against the Lago sandbox's own document (the contract's invariant) — live, so documents added or
changed through the Lago admin endpoints are checked too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from lago_netsuite import money

# The demo's NetSuite account makes the department mandatory on invoices and credit memos, as many
# real accounts do; the demo mapping's ``fields`` section gives one per billing entity.
DEMO_REQUIRED_FIELDS: dict[str, list[str]] = {"invoice": ["department"], "creditmemo": ["department"]}

_COLLECTION = {"invoice": "invoices", "salesorder": "invoices", "creditnote": "credit_notes", "payment": "payments"}


def mapping_references(mapping_path: Path) -> tuple[set[str], dict[str, str], set[str]]:
    """Items, currencies (NetSuite id → ISO code) and subsidiaries named anywhere in the mapping file."""
    data = yaml.safe_load(Path(mapping_path).read_text(encoding="utf-8")) or {}
    items: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("item", "tax_item") and isinstance(value, str | int):
                    items.add(str(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for key in ("items", "tax", "options"):
        walk(data.get(key))
    currencies = {str(v): k for k, v in (data.get("currencies") or {}).items()}
    subsidiaries = {str(v) for v in (data.get("subsidiaries") or {}).values()}
    for scope in (data.get("billing_entities") or {}).values():
        for key in ("items", "tax"):
            walk(scope.get(key))
        currencies.update({str(v): k for k, v in (scope.get("currencies") or {}).items()})
        if scope.get("subsidiary"):
            subsidiaries.add(str(scope["subsidiary"]))
    return items, currencies, subsidiaries


def lago_totals_oracle(lago_app: Any) -> Callable[[str, str], Decimal | frozenset[Decimal] | None]:
    """``expected_totals(kind, lago_id)`` answering from the Lago sandbox's live documents.

    An invoice may total Lago's total (its credit-note credits as negative lines, ``credit_notes:
    lago_lines``) or Lago's total plus the credit-note credits booked as memo applications
    (``apply``; all of them, or all but those of credit notes never synced): the answer is the set
    of those totals. A customer refund answers its credit note's ``refund_amount_cents``.
    """
    state = lago_app.state.sandbox

    def expected_total(kind: str, lago_id: str) -> Decimal | frozenset[Decimal] | None:
        collection = "credit_notes" if kind == "refund" else _COLLECTION.get(kind)
        doc = state.collections[collection].by_id(lago_id) if collection else None
        if doc is None:
            return None
        if kind == "payment":
            return money.to_major(int(doc["amount_cents"]), doc["amount_currency"])
        if kind == "refund":
            return money.to_major(int(doc.get("refund_amount_cents") or 0), doc["currency"])
        total = int(doc["total_amount_cents"])
        if kind == "invoice":
            credits = [int(c["amount_cents"]) for c in doc.get("credits") or []
                       if isinstance(c, dict) and (c.get("item") or {}).get("type") == "credit_note"][:8]
            sums = {0}
            for amount in credits:
                sums |= {s + amount for s in sums}
            return frozenset(money.to_major(total + s, doc["currency"]) for s in sums)
        return money.to_major(total, doc["currency"])

    return expected_total


def linked_netsuite_customers(dataset: Any) -> list[dict[str, str]]:
    """``{"type", "id", "externalId"}`` seeds for the NetSuite customers Lago customers link to."""
    seeds = {}
    for customer in dataset.customers:
        for link in customer.get("integration_customers") or []:
            if link.get("type") == "netsuite" and link.get("external_customer_id"):
                ns_id = str(link["external_customer_id"])
                seeds[ns_id] = {"type": "customer", "id": ns_id, "externalId": f"netsuite-customer-{ns_id}",
                                "entityid": customer.get("external_id")}
    return list(seeds.values())


@dataclass
class SandboxPair:
    """The two apps, ready to serve."""

    lago_app: Any
    netsuite_app: Any
    netsuite_config: Any


def build_pair(
    dataset: Any,
    *,
    lago_api_key: str,
    netsuite_credentials: dict[str, Any],
    mapping_path: Path,
    lago_rate_limit: int | None = 50,
    seed_linked_customers: bool = True,
    **netsuite_overrides: Any,
) -> SandboxPair:
    """Create both sandbox apps wired together (see the module docstring)."""
    from lago_netsuite_dev.sandbox.lago.app import create_app as create_lago
    from lago_netsuite_dev.sandbox.netsuite import NetSuiteSandboxConfig
    from lago_netsuite_dev.sandbox.netsuite import create_app as create_netsuite
    from lago_netsuite_dev.sandbox.netsuite.store import StoredRecord

    lago_app = create_lago(dataset, lago_api_key, rate_limit_per_s=lago_rate_limit)
    items, currencies, subsidiaries = mapping_references(mapping_path)
    config = NetSuiteSandboxConfig(
        **netsuite_credentials,
        valid_items=items, valid_currencies=set(currencies), valid_subsidiaries=subsidiaries,
        currencies=currencies, expected_totals=lago_totals_oracle(lago_app), **netsuite_overrides,
    )
    netsuite_app = create_netsuite(config)
    if seed_linked_customers:
        store = netsuite_app.state.sandbox.store
        for seed in linked_netsuite_customers(dataset):
            store.seed(StoredRecord(type="customer", id=seed["id"], external_id=seed["externalId"],
                                    body={"entityid": seed["entityid"]}))
    return SandboxPair(lago_app, netsuite_app, config)
