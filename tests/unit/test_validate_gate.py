"""The Great Expectations gate: named expectations, the split, Data Docs."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lago_netsuite.validate import GateResult, run_gate
from lago_netsuite.validate import suites as suite_defs
from tests.unit.test_transform_lago_factory import (
    FeeSpec,
    InvoiceSpec,
    build_credit_note,
    build_invoice,
    customer,
    payment,
    run,
)


@pytest.fixture(scope="module")
def batch() -> Any:
    invoices = [build_invoice(InvoiceSpec(n=n, entity=e, fees=[FeeSpec(unit_amount="12.5", taxes=(0,)),
                                                                FeeSpec(code="seats", unit_amount="3", taxes=(0,))],
                                          coupon_fraction=Decimal("0.1")))
                for n, e in [(1, "acme_eu"), (2, "acme_us"), (3, "acme_jp"), (4, "acme_kw")]]
    voided = build_invoice(InvoiceSpec(n=5, status="voided"))
    broken = build_invoice(InvoiceSpec(n=6))
    broken["total_amount_cents"] += 1
    return run(invoices + [voided, broken], [build_credit_note(invoices[0], [Decimal("0.5"), Decimal(1)])],
               [payment(invoices[1])], [customer(1), customer(2, "acme_us", person=True)], synced=("inv-000005",))


def gate(result: Any, tmp_path: Path, run_id: str = "manual__2025-01-01T00:00:00+00:00") -> GateResult:
    return run_gate(result, data_docs_dir=tmp_path / "data_docs", run_id=run_id)


def test_good_documents_pass_and_transform_quarantine_is_kept(batch: Any, tmp_path: Path) -> None:
    g = gate(batch, tmp_path)
    assert g.success and g.summary["success"].all()
    assert set(g.summary["suite"]) == {"invoice", "creditnote", "payment", "customer", "void"}
    assert len(g.records) == len(batch.records) == 9
    (q,) = g.quarantined.to_dict("records")
    assert q["external_id"] == "lago-invoice-inv-000006" and q["failed_expectations"] == []
    assert "total_amount_cents" in q["reasons"][0]


def test_data_docs_are_written_for_an_accountant(batch: Any, tmp_path: Path) -> None:
    g = gate(batch, tmp_path, run_id="scheduled__2025-02-01T00:00:00+00:00")
    assert g.data_docs_index == tmp_path / "data_docs" / "index.html" and g.data_docs_index.exists()
    pages = list((tmp_path / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) == 5 and all("scheduled__2025-02-01T00_00_00_00_00" in str(p) for p in pages)
    invoice_page = next(p for p in pages if "lago_netsuite_invoice" in str(p)).read_text()
    assert "totals_match_lago" in invoice_page or "invariant_diff" in invoice_page
    gate(batch, tmp_path, run_id="second")  # results of every run are kept and indexed
    assert len(list((tmp_path / "data_docs" / "validations").rglob("*.html"))) == 10
    assert "second" in (tmp_path / "data_docs" / "index.html").read_text()


def edit(frames: dict[str, Any], kind: str, column: str, change: Any) -> None:
    """Replace one column of a result frame (a copy, so no chained assignment)."""
    df = frames[kind].copy()
    df[column] = change(df)
    frames[kind] = df


SABOTAGE = {
    "totals_match_lago": lambda r: edit(r.lines, "invoice", "amount_minor",
                                        lambda df: df["amount_minor"] + (df.index == df.index[0])),
    "items_mapped": lambda r: edit(r.lines, "invoice", "item", lambda df: df["item"].where(df.index != df.index[0])),
    "rate_quantity_fit_15_characters": lambda r: edit(r.lines, "invoice", "rate", lambda df: df["rate"].where(
        df.index != df.index[0], "1.23456789012345678")),
    "currency_mapped": lambda r: edit(r.headers, "invoice", "currency_id",
                                      lambda df: df["currency_id"].where(df.index != df.index[0])),
    "tax_rows_reference_lines": lambda r: edit(r.taxes, "invoice", "taxdetailsreference", lambda df: df[
        "taxdetailsreference"].where(df.index != df.index[0], "?")),
    "taxes_mapped": lambda r: edit(r.taxes, "invoice", "taxcode",
                                   lambda df: df["taxcode"].where(df.index != df.index[0])),
    "payment_matches_lago": lambda r: edit(r.headers, "payment", "total_minor", lambda df: df["total_minor"] + 1),
    "email_format": lambda r: edit(r.headers, "customer", "email", lambda df: "a@x.example, b@y.example"),
    "altemail_format": lambda r: edit(r.headers, "customer", "altemail", lambda df: "josé@x.example"),
    "phone_format": lambda r: edit(r.headers, "customer", "phone", lambda df: "555-01"),
    "fields_fit_netsuite": lambda r: edit(r.headers, "customer", "firstname", lambda df: "F" * 33),
    "isperson_flag": lambda r: edit(r.headers, "customer", "isperson", lambda df: "Y"),
}


@pytest.mark.parametrize("expectation", list(SABOTAGE), ids=list(SABOTAGE))
def test_failing_documents_are_quarantined_with_the_expectation_names(batch: Any, tmp_path: Path,
                                                                      expectation: str) -> None:
    broken = copy.deepcopy(batch)
    SABOTAGE[expectation](broken)
    g = gate(broken, tmp_path)
    assert not g.success
    failed = g.quarantined[g.quarantined["failed_expectations"].map(bool)]
    assert len(failed) >= 1
    assert all(expectation in names for names in failed["failed_expectations"]), failed.to_dict("records")
    assert all(any(r.startswith(f"gate: {expectation} — ") for r in rs) for rs in failed["reasons"])
    assert not g.records["external_id"].isin(failed["external_id"]).any()
    assert len(g.records) == len(batch.records) - len(failed)
    row = g.summary[g.summary["expectation"] == expectation]
    assert (~row["success"]).any() and row["failed_documents"].sum() >= 1


def test_duplicate_external_ids_fail_uniqueness(batch: Any, tmp_path: Path) -> None:
    broken = copy.deepcopy(batch)
    h = broken.headers["invoice"]
    broken.headers["invoice"] = h.assign(external_id=h["external_id"].where(h.index != 1, h["external_id"].iloc[0]))
    g = gate(broken, tmp_path)
    failed = g.quarantined[g.quarantined["failed_expectations"].map(lambda n: "unique_external_id" in n)]
    assert failed["external_id"].tolist() == [h["external_id"].iloc[0]]


def test_an_expectation_that_cannot_run_holds_back_the_whole_kind(batch: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real = suite_defs.void_checks
    monkeypatch.setattr(suite_defs, "void_checks", lambda: [*real(), suite_defs.Check(
        "broken_check", "ExpectColumnValuesToNotBeNull", {"column": "no_such_column"}, "Cannot run.")])
    g = gate(batch, tmp_path)
    voids = g.quarantined[g.quarantined["kind"] == "void"]
    assert voids["external_id"].tolist() == ["lago-invoice-inv-000005"]
    assert "could not be evaluated" in voids["reasons"].iloc[0][0]


def test_every_expectation_has_a_unique_name_and_a_description() -> None:
    for checks in (suite_defs.transaction_checks("invoice", "suitetax"), suite_defs.payment_checks(),
                   suite_defs.customer_checks(), suite_defs.void_checks()):
        names = [c.name for c in checks]
        assert len(names) == len(set(names)) and all(c.description for c in checks)
