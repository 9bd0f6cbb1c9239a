"""The books after a sync: every invoice's amount due and every customer's A/R, NetSuite vs Lago.

Read from the two sandboxes (the NetSuite sandbox's ``amount_remaining`` is what NetSuite's A/R
aging shows); the demo prints it and the tests assert it.

Definitions (README, "How documents become NetSuite records"):

- **Lago's amount due on an invoice**: ``total_due_amount_cents`` of a finalized invoice (its total
  minus succeeded payments minus credit-note offsets); a voided invoice owes nothing.
- **NetSuite's amount due on an invoice**: the sandbox's ``amount_remaining`` (its total minus
  payments and credit memo applications; 0 once voided).
- **A/R of a customer**: the sum of its invoices' amounts due minus the sum of its credit memos'
  unapplied remainders (``amount_remaining``). On Lago's side: the sum of ``total_due_amount_cents``
  of its finalized invoices minus the unconsumed credit of its credit notes
  (``balance_amount_cents``) minus the refunds Lago has not paid out yet (pending or failed:
  NetSuite still holds them as customer credit on the memo). A voided credit note flagged for the
  accountant (part of it was already used) keeps its unapplied remainder open in NetSuite until
  someone reverses it, so it is listed apart.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from lago_netsuite.money import to_major


def netsuite_by_external_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["externalId"]: r for r in records if not r.get("seeded")}


def invoice_dues(lago_invoices: list[dict[str, Any]], ns: dict[str, dict[str, Any]]
                 ) -> list[tuple[str, Decimal, Decimal]]:
    """``(invoice number, Lago due, NetSuite amount remaining)`` of every invoice that reached NetSuite."""
    out = []
    for inv in lago_invoices:
        rec = ns.get(f"lago-invoice-{inv['lago_id']}")
        if rec is None:
            continue
        due = 0 if inv["status"] == "voided" else int(inv["total_due_amount_cents"])
        out.append((inv["number"], to_major(due, inv["currency"]), Decimal(rec["amount_remaining"])))
    return out


def customer_ar(lago_invoices: list[dict[str, Any]], lago_notes: list[dict[str, Any]],
                ns: dict[str, dict[str, Any]]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """``{(customer external id, currency): (Lago balance due, NetSuite A/R)}`` over synced documents."""
    lago: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    netsuite: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for inv in lago_invoices:
        rec = ns.get(f"lago-invoice-{inv['lago_id']}")
        if rec is None:
            continue
        key = (inv["customer"]["external_id"], inv["currency"])
        if inv["status"] == "finalized":
            lago[key] += to_major(int(inv["total_due_amount_cents"]), inv["currency"])
        netsuite[key] += Decimal(rec["amount_remaining"])
    for note in lago_notes:
        rec = ns.get(f"lago-creditnote-{note['lago_id']}")
        if rec is None or is_flagged(note):
            continue
        key = (note["customer"]["external_id"], note["currency"])
        unpaid_refund = int(note.get("refund_amount_cents") or 0) if note.get("refund_status") != "succeeded" else 0
        lago[key] -= to_major(int(note["balance_amount_cents"]) + unpaid_refund, note["currency"])
        netsuite[key] -= Decimal(rec["amount_remaining"])
    return {k: (lago[k], netsuite[k]) for k in sorted(set(lago) | set(netsuite))}


def is_flagged(note: dict[str, Any]) -> bool:
    """A voided credit note of which something was already used: left for the accountant."""
    used = int(note.get("offset_amount_cents") or 0) + int(note.get("refund_amount_cents") or 0)
    return note.get("credit_status") == "voided" and used > 0


def ar_lines(ar: dict[tuple[str, str], tuple[Decimal, Decimal]], limit: int = 10) -> list[str]:
    """What the demo prints: how many customers' A/R equals Lago's balance due, and each that does not."""
    equal = [k for k, (lago, netsuite) in ar.items() if lago == netsuite]
    lines = [f"A/R per customer and currency, NetSuite sandbox vs Lago's balance due: {len(equal)} of {len(ar)} equal"]
    for (customer, currency), (lago, netsuite) in ar.items():
        if lago != netsuite and len(lines) <= limit:
            lines.append(f"  {customer} {currency}: NetSuite {netsuite} vs Lago {lago} (difference {netsuite - lago})")
    return lines
