"""Mapping coverage: every gap is named per billing entity, following the transform's resolution order."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lago_netsuite.transform import load_mappings
from lago_netsuite.transform.coverage import mapping_coverage, render
from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, generate

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "include" / "mappings" / "netsuite_mapping.yaml"


@pytest.fixture(scope="module")
def dataset():
    return generate(DatasetSpec(seed=5, customers=12, invoices=20))


def catalog_of(dataset) -> dict:
    return {"billing_entity": dataset.billing_entities, "billable_metric": dataset.billable_metrics,
            "add_on": dataset.add_ons, "tax": dataset.taxes, "plan": dataset.plans, "coupon": dataset.coupons}


def gaps_with(tmp_path: Path, dataset, edit=None):
    data = yaml.safe_load(DEMO.read_text())
    if edit:
        edit(data)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(data))
    return {(g.object_type, g.code, g.billing_entity): g for g in
            mapping_coverage(load_mappings(path), catalog_of(dataset), dataset.customers)}


def test_the_demo_mapping_only_leaves_beta_feature_on_the_fallback(tmp_path, dataset) -> None:
    gaps = gaps_with(tmp_path, dataset)
    assert {(t, c) for t, c, _ in gaps} == {("billable_metric", "beta_feature")}
    assert {g.status for g in gaps.values()} == {"fallback"}
    assert {be for _, _, be in gaps} == {e["code"] for e in dataset.billing_entities}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["subsidiaries"].pop("acme_us"), ("billing_entity", "acme_us", "acme_us", "unmapped")),
        (lambda d: d["currencies"].pop("KWD"), ("currency", "KWD", "acme_kw", "unmapped")),
        (lambda d: (d["items"].pop("fallback"), d["items"]["add_ons"].pop("setup_fee")),
         ("add_on", "setup_fee", "acme_us", "unmapped")),
        (lambda d: d["tax"]["taxes"].pop("jp_consumption_10"), ("tax", "jp_consumption_10", "acme_jp", None)),
        (lambda d: d["items"]["defaults"].pop("coupon"), ("default", "coupon", "acme_eu", "fallback")),
    ],
    ids=["no-subsidiary", "no-currency", "no-add-on-no-fallback", "tax-falls-to-default-or-gap", "no-coupon-item"],
)
def test_each_kind_of_gap_is_named(tmp_path, dataset, edit, expected) -> None:
    gaps = gaps_with(tmp_path, dataset, edit)
    object_type, code, entity, status = expected
    gap = gaps.get((object_type, code, entity))
    assert gap is not None, sorted(gaps)
    if status:
        assert gap.status == status
    assert code in render(list(gaps.values()))


def test_an_entity_override_covers_only_its_entity(tmp_path, dataset) -> None:
    def edit(d):
        d["items"]["billable_metrics"].pop("api_calls")  # acme_eu maps it itself
        d["items"].pop("fallback")

    gaps = gaps_with(tmp_path, dataset, edit)
    entities = {be for t, c, be in gaps if (t, c) == ("billable_metric", "api_calls")}
    assert entities == {"acme_us", "acme_jp", "acme_kw"}


def test_lookup_values_seen_in_lago_with_no_entry_and_no_default_are_listed(tmp_path, dataset) -> None:
    def edit(data):
        data["fields"]["invoice"]["lines"]["class"] = {"from": "item.code", "lookup": {"growth": "12"}}
        data["fields"]["customer"] = {"header": {"custentity_type": {"from": "customer_type",
                                                                     "lookup": {"company": "1"}}}}

    gaps = gaps_with(tmp_path, dataset, edit)
    lookups = {(c, be) for t, c, be in gaps if t == "field_lookup"}
    entities = {e["code"] for e in dataset.billing_entities}
    expected_codes = {o["code"] for k in ("plan", "billable_metric", "add_on") for o in catalog_of(dataset)[k]} - {
        "growth"}
    assert {c for c, _ in lookups} == expected_codes | {"individual"}
    assert {be for _, be in lookups} == entities
    gap = gaps[("field_lookup", "starter", "acme_us")]
    assert gap.status == "unmapped" and gap.detail.startswith("field class (invoice lines) from item.code: no lookup")
