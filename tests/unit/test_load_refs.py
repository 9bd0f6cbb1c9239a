"""Filling {"$ref": externalId} placeholders from the ledger before sending."""

from __future__ import annotations

import pytest

from lago_netsuite.load import refs

PAYMENT = {
    "externalId": "lago-payment-p1", "type": "customerpayment",
    "columns": {"customer": {"$ref": "lago-customer-c1"}, "payment": 10.5},
    "lines": [{"sublistId": "apply",
               "lineItems": [{"doc": {"$ref": "lago-invoice-i1"}, "apply": True, "amount": 10.5}]}],
}
CREDIT_MEMO = {
    "externalId": "lago-creditnote-n1", "type": "creditmemo",
    "columns": {"entity": "7001"},
    "lines": [
        {"sublistId": "item", "lineItems": [{"item": "404", "amount": 5}]},
        {"sublistId": "apply", "lineItems": [{"doc": {"$ref": "lago-invoice-i1", "optional": True},
                                               "apply": True, "amount": 5}]},
    ],
}


def test_references_are_listed() -> None:
    assert refs.referenced_ids(PAYMENT) == ["lago-customer-c1", "lago-invoice-i1"]


def test_resolved_references_become_netsuite_ids_without_touching_the_original() -> None:
    res = refs.resolve(PAYMENT, {"lago-customer-c1": ("synced", "11"), "lago-invoice-i1": ("synced", "22")})
    assert res.body["columns"]["customer"] == "11"
    assert res.body["lines"][0]["lineItems"][0]["doc"] == "22"
    assert PAYMENT["columns"]["customer"] == {"$ref": "lago-customer-c1"}


@pytest.mark.parametrize(
    ("invoice_state", "waiting", "blocked"),
    [(None, ["lago-invoice-i1"], None), ("pending", ["lago-invoice-i1 (pending)"], None),
     ("quarantined", ["lago-invoice-i1 (quarantined)"], None),
     ("skipped", [], "lago-invoice-i1 will never be in NetSuite (skipped)")],
    ids=["not-extracted-yet", "on-its-way", "held-back", "never"],
)
def test_a_required_reference_not_in_netsuite_waits_or_blocks(invoice_state, waiting, blocked) -> None:
    known = {"lago-customer-c1": ("synced", "11")}
    if invoice_state:
        known["lago-invoice-i1"] = (invoice_state, None)
    res = refs.resolve(PAYMENT, known)
    assert res.body is None
    assert res.waiting_on == waiting
    assert res.blocked == blocked


@pytest.mark.parametrize(
    ("invoice_state", "apply_kept", "sendable"),
    [("synced", True, True), (None, False, True), ("skipped", False, True), ("pending", None, False)],
    ids=["applied", "never-extracted-dropped", "never-synced-dropped", "waits-for-invoice"],
)
def test_an_optional_apply_line_is_dropped_only_when_the_invoice_never_comes(invoice_state, apply_kept, sendable):
    netsuite_id = "22" if invoice_state == "synced" else None
    known = {} if invoice_state is None else {"lago-invoice-i1": (invoice_state, netsuite_id)}
    res = refs.resolve(CREDIT_MEMO, known)
    assert (res.body is not None) == sendable
    if sendable:
        sublists = [s["sublistId"] for s in res.body["lines"]]
        assert ("apply" in sublists) == apply_kept
        if apply_kept:
            assert res.body["lines"][1]["lineItems"][0]["doc"] == "22"
        else:
            assert res.dropped == ["lago-invoice-i1"]
