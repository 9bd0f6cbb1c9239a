"""End to end on fixtures and on the Lago sandbox generator's dataset: nothing held back, exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lago_netsuite.validate import run_gate
from tests.unit.test_transform_lago_factory import body_total, major, run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lago"


def test_invoice_fixture_gives_the_expected_contract_body() -> None:
    invoice = json.loads((FIXTURES / "transform_invoice_usd_all_discounts.json").read_text())
    expected = json.loads((FIXTURES / "transform_invoice_usd_all_discounts.expected.json").read_text())
    result = run([invoice])
    body = json.loads(json.dumps(result.records["body"].iloc[0]))
    assert body == expected
    assert body_total(body) == major(invoice["total_amount_cents"], "USD")
    assert any("beta_feature" in w for w in result.warnings["message"])  # the unmapped metric is reported


def test_sandbox_dataset_goes_through_transform_and_gate(tmp_path: Path) -> None:
    generator = pytest.importorskip("lago_netsuite_dev.sandbox.lago.generator")
    ds = generator.generate(generator.DatasetSpec(seed=11, customers=30, invoices=300))
    voided = [i["lago_id"] for i in ds.invoices if i["status"] == "voided"]
    result = run(ds.invoices, ds.credit_notes, ds.payments, ds.customers, synced=tuple(voided[:1]))
    assert result.quarantined.empty, result.quarantined.to_dict("records")[:3]
    applied: dict[str, int] = {}  # credit-note credit booked as memo applications, per invoice
    for rec in result.records[result.records["action"] == "apply"].itertuples():
        applied[rec.body["lines"][0]["lineItems"][0]["doc"]["$ref"]] = \
            applied.get(rec.body["lines"][0]["lineItems"][0]["doc"]["$ref"], 0) + int(rec.total_minor)
    assert applied, "the dataset consumes credit notes on later invoices"
    for rec in result.records.itertuples():
        if rec.action == "create" and rec.kind in ("invoice", "creditnote"):
            currency = rec.currency
            want = int(rec.total_minor) + applied.get(rec.external_id, 0)
            assert body_total(rec.body) == major(want, currency), rec.external_id
    gate = run_gate(result, data_docs_dir=tmp_path / "docs", run_id="sandbox")
    assert gate.success and len(gate.records) == len(result.records)
    assert set(result.skipped["reason"].str.split(":").str[0]).issuperset({"draft invoice"})
    # customers with several e-mails or a phone NetSuite refuses are sent, with warnings naming the field
    customers = {c["external_id"]: c for c in ds.customers  # those not yet linked to NetSuite are created
                 if not any(link["type"] == "netsuite" for link in c["integration_customers"])}
    several = {e for e, c in customers.items() if "," in (c["email"] or "")}
    bad_phone = {e for e, c in customers.items() if len(c["phone"] or "") > 32}
    assert several and bad_phone
    sent = {r.body["columns"]["entityid"]: r.body["columns"] for r in result.records.itertuples()
            if r.kind == "customer"}
    assert several | bad_phone <= set(sent)
    assert all(sent[e]["altemail"].startswith("finance") for e in several)
    assert not any("phone" in sent[e] for e in bad_phone)
    warned = " ".join(result.warnings["message"])
    assert all(f"customer {e}: field phone: value {customers[e]['phone']!r}" in warned for e in bad_phone)
