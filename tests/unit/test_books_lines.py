"""The demo's books line: A/R per customer, NetSuite against Lago, names each customer that differs."""

from __future__ import annotations

from decimal import Decimal

from lago_netsuite_dev.sandbox.books import ar_lines, customer_ar


def _invoice(lago_id: str, customer: str, due: int, status: str = "finalized") -> dict:
    return {"lago_id": lago_id, "number": lago_id.upper(), "status": status, "currency": "EUR",
            "total_due_amount_cents": due, "customer": {"external_id": customer}}


def test_a_customer_whose_ar_differs_is_named_with_both_amounts() -> None:
    invoices = [_invoice("i1", "acme", 1000), _invoice("i2", "acme", 250), _invoice("i3", "globex", 500)]
    notes = [{"lago_id": "n1", "currency": "EUR", "customer": {"external_id": "acme"}, "balance_amount_cents": 200,
              "refund_amount_cents": 0, "refund_status": None, "credit_status": "available",
              "offset_amount_cents": 0}]
    netsuite = {"lago-invoice-i1": {"amount_remaining": "10.00"}, "lago-invoice-i2": {"amount_remaining": "2.50"},
                "lago-invoice-i3": {"amount_remaining": "4.00"}, "lago-creditnote-n1": {"amount_remaining": "2.00"}}
    ar = customer_ar(invoices, notes, netsuite)
    assert ar == {("acme", "EUR"): (Decimal("10.50"), Decimal("10.50")),
                  ("globex", "EUR"): (Decimal("5.00"), Decimal("4.00"))}
    lines = ar_lines(ar)
    assert lines[0].endswith("1 of 2 equal")
    assert lines[1:] == ["  globex EUR: NetSuite 4.00 vs Lago 5.00 (difference -1.00)"]
