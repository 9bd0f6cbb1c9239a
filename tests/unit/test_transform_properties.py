"""Property-based: for any Lago-consistent document, the contract's invariant holds exactly.

Invoices and credit notes are drawn in every currency exponent (JPY 0, USD/EUR 2, KWD 3) with
coupons allocated to fees, progressive-billing credits, multi-rate taxes rounded per fee and per
invoice, credit-note and wallet credits; both tax modes, with and without usage grouping.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_transform_lago_factory import (
    body_total,
    build_credit_note,
    build_invoice,
    fractions,
    invoice_specs,
    major,
    mapping,
    run,
    sublist,
    tax_rows,
)

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])
MAPPINGS = {"plain": mapping(),
            "grouped": mapping(options__usage_grouping={"item": {"item": "290"}, "rule": {"min_lines": 2}})}


def batches() -> st.SearchStrategy[list[dict[str, Any]]]:
    """A few invoices with distinct numbers, any entities."""
    return st.lists(invoice_specs(), min_size=1, max_size=5, unique_by=lambda s: s.n).map(
        lambda specs: [build_invoice(s) for s in specs])


def check_invoices(invoices: list[dict[str, Any]], result: Any, *, grouped: bool) -> None:
    assert result.quarantined.empty, result.quarantined.to_dict("records")
    bodies = dict(zip(result.records["external_id"], result.records["body"], strict=True))
    assert len(bodies) == len(invoices)
    for inv in invoices:
        body = bodies[f"lago-invoice-{inv['lago_id']}"]
        assert inv["total_amount_cents"] >= 0
        assert body_total(body) == major(inv["total_amount_cents"], inv["currency"])  # exact, every currency
        lines = sublist(body, "item")
        shown = {li.get("custcol_lago_line_id") for li in lines}
        positive = [f for f in inv["fees"] if f["amount_cents"] > 0]
        expected = positive or inv["fees"]
        for fee in expected:  # every fee appears (grouped usage charges inside the group line)
            assert fee["lago_id"] in shown or (grouped and fee["item"]["type"] == "charge"), fee["lago_id"]
        assert all(li["amount"] <= 0 for li in lines if "custcol_lago_line_id" not in li
                   and li["item"] != "290")  # 290: the usage-grouping item
        if "taxdetails" in body:
            rows = tax_rows(body)
            refs = {li["taxdetailsreference"] for li in lines}
            assert {t["taxdetailsreference"] for t in rows} <= refs
            assert sum(Decimal(repr(t["taxamount"])) for t in rows) == major(inv["taxes_amount_cents"],
                                                                             inv["currency"])


@PROPERTY
@given(invoices=batches(), mode=st.sampled_from(["suitetax", "legacy"]), grouped=st.booleans())
def test_invoice_invariant_holds_exactly(invoices: list[dict[str, Any]], mode: str, grouped: bool) -> None:
    result = run(invoices, tax_mode=mode, mappings=MAPPINGS["grouped" if grouped else "plain"])
    check_invoices(invoices, result, grouped=grouped)
    if mode == "suitetax":
        taxes = result.taxes["invoice"]
        for inv in invoices:
            rows = taxes[taxes["external_id"] == f"lago-invoice-{inv['lago_id']}"]
            for applied in inv["applied_taxes"]:
                got = rows.loc[rows["lago_tax_code"] == applied["tax_code"], "amount_minor"].sum()
                # each code matches Lago's applied tax, up to the document-level rounding cent
                assert abs(got - applied["amount_cents"]) <= len(inv["applied_taxes"]) // 2


@st.composite
def credit_notes(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(invoice_specs())
    inv = build_invoice(spec)
    shares = draw(st.lists(fractions, min_size=len(inv["fees"]), max_size=len(inv["fees"])))
    if not any(f["amount_cents"] and s for f, s in zip(inv["fees"], shares, strict=True)):
        shares = [Decimal(1)] * len(inv["fees"])
    return build_credit_note(inv, shares, coupon_fraction=draw(fractions), offset_fraction=draw(fractions))


@settings(PROPERTY, max_examples=30)
@given(notes=st.lists(credit_notes(), min_size=1, max_size=4, unique_by=lambda c: c["lago_id"]),
       mode=st.sampled_from(["suitetax", "legacy"]))
def test_credit_memo_invariant_holds_exactly(notes: list[dict[str, Any]], mode: str) -> None:
    result = run([], notes, tax_mode=mode)
    assert result.quarantined.empty, result.quarantined.to_dict("records")
    bodies = dict(zip(result.records["external_id"], result.records["body"], strict=True))
    for cn in notes:
        if not cn["items"]:
            continue
        body = bodies[f"lago-creditnote-{cn['lago_id']}"]
        assert body_total(body) == major(cn["total_amount_cents"], cn["currency"])
        applied = sum((Decimal(repr(a["amount"])) for a in sublist(body, "apply")), Decimal(0))
        assert applied == major(cn["offset_amount_cents"], cn["currency"])


JUNK = st.sampled_from([None, "", "x", 1.5, -1, 10**30, True, [], {}, [1], {"a": 1}, "2024-13-45", "NaN"])
FIELDS = ["number", "currency", "issuing_date", "billing_entity_code", "fees_amount_cents", "total_amount_cents",
          "taxes_amount_cents", "coupons_amount_cents", "customer", "fees", "credits", "applied_taxes", "status"]
FEE_FIELDS = ["lago_id", "amount_cents", "taxes_amount_cents", "taxes_rate", "units", "precise_unit_amount", "item",
              "properties", "from_date", "sub_total_excluding_taxes_amount_cents"]


@settings(PROPERTY, max_examples=25)
@given(spec=invoice_specs(), field=st.sampled_from(FIELDS), fee_field=st.sampled_from(FEE_FIELDS), junk=JUNK,
       where=st.sampled_from(["invoice", "fee"]))
def test_a_malformed_document_never_raises_nor_affects_the_others(spec: Any, field: str, fee_field: str, junk: Any,
                                                                  where: str) -> None:
    good = build_invoice(spec)
    bad = build_invoice(type(spec)(**{**spec.__dict__, "n": spec.n % 999_999 + 1}))
    if where == "invoice":
        bad[field] = junk
    else:
        bad["fees"][0][fee_field] = junk
    result = run([good, bad])
    assert f"lago-invoice-{good['lago_id']}" in set(result.records["external_id"])
    sent = result.records[result.records["external_id"] == f"lago-invoice-{bad['lago_id']}"]
    held = result.quarantined[result.quarantined["lago_id"] == bad["lago_id"]]
    skipped = result.skipped[result.skipped["lago_id"] == bad["lago_id"]]
    assert len(sent) + len(held) + len(skipped) >= 1  # nothing silently dropped
    for body in sent["body"]:  # whatever was sent still meets the invariant
        assert body_total(body) == major(bad["total_amount_cents"], bad["currency"])
