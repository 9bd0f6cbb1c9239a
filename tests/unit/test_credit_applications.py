"""Credit-note credit booked as NetSuite books it, in every currency exponent (USD 2, JPY 0, KWD 3).

A credit note's credit consumed by later invoices: each use becomes one memo application, the
consuming invoice carries no negative line for it, its NetSuite total is Lago's total plus the
credit, and once applied its amount due is Lago's total. Nothing is counted twice: the credit is
either a line or an application, never both, and a memo never gives more than its total. Refunds,
voided credit notes and ``credit_notes: lago_lines`` are covered too.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lago_netsuite.transform.batch import CreditNoteState
from tests.unit.test_transform_lago_factory import (
    InvoiceSpec,
    body_total,
    build_credit_note,
    build_invoice,
    fractions,
    invoice_specs,
    major,
    mapping,
    sublist,
)

PROPERTY = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])
ENTITIES = ["acme_us", "acme_jp", "acme_kw"]  # exponents 2, 0, 3


def transform(invoices: list[dict[str, Any]], notes: list[dict[str, Any]] = (), *,  # type: ignore[assignment]
              state: CreditNoteState | None = None, **settings_: Any) -> Any:
    from lago_netsuite.transform import TransformSettings, transform_documents

    m = mapping()
    return transform_documents(invoices=list(invoices), credit_notes=list(notes), payments=[], customers=[],
                               mappings=m, settings=TransformSettings.from_mappings(m, **settings_),
                               credit_note_state=state)


def consume(invoice: dict[str, Any], note: dict[str, Any], amount: int, n: int) -> dict[str, Any]:
    """``invoice`` consuming ``amount`` of ``note``'s balance after tax, as Lago does (total shrinks)."""
    inv = copy.deepcopy(invoice)
    inv["credits"] = [c for c in inv["credits"] if c["item"]["type"] != "credit_note"]
    inv["total_amount_cents"] += inv["credit_notes_amount_cents"]
    inv["credit_notes_amount_cents"] = 0
    amount = min(amount, inv["total_amount_cents"] - inv["prepaid_credit_amount_cents"], note["balance_amount_cents"])
    if amount <= 0:
        return inv
    inv["credits"].append({"lago_id": f"use-{n}", "amount_cents": amount, "before_taxes": False,
                           "item": {"type": "credit_note", "code": note["number"], "name": note["invoice_number"],
                                    "lago_item_id": note["lago_id"]}})
    inv["credit_notes_amount_cents"] = amount
    inv["total_amount_cents"] -= amount
    note["balance_amount_cents"] -= amount  # Lago's balance decreases with each use
    return inv


def by_id(result: Any) -> dict[str, dict[str, Any]]:
    return dict(zip(result.records["external_id"], result.records["body"], strict=True))


def credit_note_lines(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [li for li in sublist(body, "item") if li["item"] == "404"]  # the credit_note default item


@st.composite
def scenario(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A credit note on a first invoice, its credit consumed over one to three later invoices."""
    ent = draw(st.sampled_from(ENTITIES))
    first = build_invoice(draw(invoice_specs(ent).map(lambda s: _with(s, n=1, credit_note_fraction=Decimal(0),
                                                                    prepaid_fraction=Decimal(0))))
                          )
    note = build_credit_note(first, [Decimal(1)] * len(first["fees"]), offset_fraction=Decimal(0), n=1)
    assume(note["total_amount_cents"] > 0)  # a credit note credits something
    later = []
    for k in range(draw(st.integers(1, 3))):
        spec = draw(invoice_specs(ent).map(lambda s, k=k: _with(s, n=10 + k, credit_note_fraction=Decimal(0))))
        share = draw(fractions)
        later.append(consume(build_invoice(spec), note, int(note["credit_amount_cents"] * share) + 1, k))
    return note, [first, *later]


def _with(spec: InvoiceSpec, **changes: Any) -> InvoiceSpec:
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


@PROPERTY
@given(case=scenario())
def test_consumed_credit_is_one_application_per_use_and_never_counted_twice(case) -> None:
    note, invoices = case
    result = transform(invoices, [note])
    assert result.quarantined.empty, result.quarantined.to_dict("records")
    bodies = by_id(result)
    apps = result.records[result.records["action"] == "apply"]
    memo = bodies[f"lago-creditnote-{note['lago_id']}"]
    assert body_total(memo) == major(note["total_amount_cents"], note["currency"])
    applied_from_memo = Decimal(0)
    for inv in invoices:
        body = bodies[f"lago-invoice-{inv['lago_id']}"]
        uses = [c for c in inv["credits"] if c["item"]["type"] == "credit_note"]
        assert credit_note_lines(body) == []  # no negative credit-note line: the memo carries the credit
        # NetSuite total = Lago total + its credit-note credits ...
        assert body_total(body) == major(inv["total_amount_cents"] + inv["credit_notes_amount_cents"], inv["currency"])
        ref = {"$ref": f"lago-invoice-{inv['lago_id']}"}
        mine = apps[apps["body"].map(lambda r, ref=ref: r["lines"][0]["lineItems"][0]["doc"] == ref).astype(bool)]
        assert sorted(mine["external_id"]) == sorted(f"lago-creditapply-{c['lago_id']}" for c in uses)
        applied = sum((Decimal(str(r["lines"][0]["lineItems"][0]["amount"])) for r in mine["body"]), Decimal(0))
        # ... and once applied, what is due is exactly Lago's total
        assert body_total(body) - applied == major(inv["total_amount_cents"], inv["currency"])
        applied_from_memo += applied
        for r in mine["body"]:
            assert r["memoExternalId"] == f"lago-creditnote-{note['lago_id']}"
            assert r["$requires"] == [r["memoExternalId"]]
    # the memo never gives more than its credit
    assert applied_from_memo == major(note["credit_amount_cents"] - note["balance_amount_cents"], note["currency"])
    assert applied_from_memo <= body_total(memo)


@PROPERTY
@given(case=scenario())
def test_lago_lines_and_never_synced_credit_notes_keep_the_negative_line(case) -> None:
    note, invoices = case
    for result in (transform(invoices, [note], credit_notes="lago_lines"),
                   transform(invoices, state=CreditNoteState(line_booked=frozenset({note["lago_id"]})))):
        assert result.quarantined.empty, result.quarantined.to_dict("records")
        assert not (result.records["action"] == "apply").any()
        bodies = by_id(result)
        for inv in invoices:
            body = bodies[f"lago-invoice-{inv['lago_id']}"]
            assert body_total(body) == major(inv["total_amount_cents"], inv["currency"])
            lines = credit_note_lines(body)
            assert sum((Decimal(str(li["amount"])) for li in lines), Decimal(0)) == \
                -major(inv["credit_notes_amount_cents"], inv["currency"])


def test_a_credit_note_issued_before_the_sync_start_is_a_line_with_a_warning() -> None:
    first = build_invoice(InvoiceSpec(entity="acme_jp", n=1))
    note = build_credit_note(first, [Decimal(1)], offset_fraction=Decimal(0), n=1)
    inv = consume(build_invoice(InvoiceSpec(entity="acme_jp", n=2)), note, 5, 1)
    result = transform([inv], state=CreditNoteState(line_booked=frozenset({note["lago_id"]})))
    assert any(note["number"] in w and "before the sync start date" in w for w in result.warnings["message"])


@pytest.mark.parametrize("entity", ENTITIES)
@pytest.mark.parametrize("status", ["succeeded", "pending", "failed"])
def test_a_refund_is_a_customer_refund_applied_to_its_memo_once_it_succeeded(entity: str, status: str) -> None:
    inv = build_invoice(InvoiceSpec(entity=entity, n=3))
    note = build_credit_note(inv, [Decimal(1)] * len(inv["fees"]), offset_fraction=Decimal(0), n=3)
    note["refund_amount_cents"] = note["total_amount_cents"] // 2
    credit = note["total_amount_cents"] - note["refund_amount_cents"]
    note["credit_amount_cents"] = note["balance_amount_cents"] = credit
    note["refund_status"] = status
    m = mapping(billing_entities__acme_jp__refund_account="1010", options__refund_account="1000")
    from lago_netsuite.transform import TransformSettings, transform_documents

    result = transform_documents(invoices=[inv], credit_notes=[note], payments=[], customers=[], mappings=m,
                                 settings=TransformSettings.from_mappings(m))
    refunds = result.records[result.records["kind"] == "refund"]
    if status != "succeeded":
        assert refunds.empty
        skipped = result.skipped[result.skipped["external_id"] == f"lago-refund-{note['lago_id']}"]
        assert len(skipped) == 1 and status in skipped["reason"].iloc[0]
        return
    assert list(refunds["external_id"]) == [f"lago-refund-{note['lago_id']}"]
    body = refunds["body"].iloc[0]
    assert body["type"] == "customerrefund" and body["columns"]["custbody_lago_id"] == note["lago_id"]
    assert body["columns"]["account"] == ("1010" if entity == "acme_jp" else "1000")
    line = body["lines"][0]["lineItems"][0]
    assert line["doc"] == {"$ref": f"lago-creditnote-{note['lago_id']}"}
    assert Decimal(str(line["amount"])) == major(note["refund_amount_cents"], note["currency"])


@pytest.mark.parametrize("used", [False, True])
@pytest.mark.parametrize("synced", [False, True])
def test_a_voided_credit_note_is_voided_when_unused_else_flagged(used: bool, synced: bool) -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_kw", n=4))
    note = build_credit_note(inv, [Decimal(1)] * len(inv["fees"]), offset_fraction=Decimal(0), n=4)
    note["credit_status"], note["balance_amount_cents"] = "voided", 0
    if used:
        note["refund_amount_cents"], note["refund_status"] = 1, "succeeded"
        note["credit_amount_cents"] -= 1
    state = CreditNoteState(synced=frozenset({note["lago_id"]}) if synced else frozenset())
    result = transform([inv], [note], state=state)
    memo = f"lago-creditnote-{note['lago_id']}"
    rows = result.records[result.records["external_id"] == memo]
    if not used:
        assert list(rows["action"]) == (["void"] if synced else [])
        assert synced or memo in set(result.skipped["external_id"])
        return
    assert list(rows["action"]) == ["create"]  # kept (a synced one is never sent twice: the ledger flags it)
    flag = result.warnings[result.warnings["external_id"] == memo]["message"]
    assert len(flag) == 1 and flag.iloc[0].startswith("ACCOUNTANT:") and "refund 1" in flag.iloc[0]
