"""The mapping file: the demo loads; a bad file fails with file, key path and problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lago_netsuite.transform.mappings import (
    DEFAULT_MAPPING_PATH,
    MappingError,
    Mappings,
    load_mappings,
    parse_mappings,
)

DEMO = yaml.safe_load(DEFAULT_MAPPING_PATH.read_text())


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def edited(**changes: Any) -> dict[str, Any]:
    """The demo mapping with dotted-path changes (value None deletes the key)."""
    data = copy.deepcopy(DEMO)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def test_demo_mapping_loads_and_is_complete_for_the_sandbox_catalog() -> None:
    m = load_mappings(DEFAULT_MAPPING_PATH)
    assert isinstance(m, Mappings)
    assert m.options.tax_mode == "suitetax" and m.options.invoice_record_type == "invoice"
    assert m.options.skip_zero_total is False
    assert {"USD": "1", "EUR": "2", "JPY": "3", "KWD": "4"} == m.organization.currencies
    assert {"acme_us", "acme_eu", "acme_jp", "acme_kw"} == set(m.subsidiaries)
    assert {"api_calls", "storage_gb", "seats", "compute_hours", "data_transfer_gb"} == set(
        m.organization.billable_metrics)
    assert "beta_feature" not in m.organization.billable_metrics  # exercises the fallback path
    assert {"setup_fee", "premium_support", "training"} == set(m.organization.add_ons)
    assert set(m.organization.defaults) == {"subscription_fee", "minimum_commitment", "coupon", "credit_note",
                                            "prepaid_credit"}
    assert m.organization.fallback is not None
    assert {"vat_eu_20", "vat_eu_reduced_5_5", "us_ca_state_6", "us_ca_district_1_25", "jp_consumption_10",
            "kw_excise_5"} == set(m.organization.taxes)
    assert m.billing_entities["acme_eu"].billable_metrics["api_calls"].item == "211"  # an override


def test_lookup_tables_are_frames_ready_to_merge() -> None:
    m = load_mappings(DEFAULT_MAPPING_PATH)
    items = m.item_table
    assert list(items.columns) == ["scope", "map_kind", "map_code", "item", "account"]
    assert ((items["scope"] == "acme_eu") & (items["map_code"] == "api_calls")).sum() == 1
    assert set(m.tax_table["scope"]) == {"", "acme_eu", "acme_jp", "acme_kw"}
    assert m.fallback_table.to_dict("records") == [{"scope": "", "item": "499", "account": "4999"}]


def _err(tmp_path: Path, data: dict[str, Any] | str) -> MappingError:
    path = write(tmp_path, data)
    with pytest.raises(MappingError) as info:
        load_mappings(path)
    assert str(path) in str(info.value)  # every error names the file
    return info.value


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        (edited(billing_entities__acme_eu__items__billable_metrics__api_calls={"item": 211}),
         "billing_entities.acme_eu.items.billable_metrics.api_calls.item", "is a number"),
        (edited(items__billable_metrics__api_calls={"item": ""}),
         "items.billable_metrics.api_calls.item", "non-empty"),
        (edited(items__billable_metrics__api_calls={"itme": "201"}),
         "items.billable_metrics.api_calls.itme", "unknown key"),
        (edited(items__defaults__coupon={"account": "4900"}),
         "items.defaults.coupon.item", "required but missing"),
        (edited(items__defaults__voucher={"item": "1"}), "items.defaults.voucher", "unknown key"),
        (edited(currencies={"USD": "1", "XXX": "9"}), "currencies.XXX", "not an ISO 4217 currency"),
        (edited(currencies={"usd": "1"}), "currencies", "'usd'"),
        (edited(options__tax_mode="vat"), "options.tax_mode", "is not one of"),
        (edited(options__invoice_record_type="cashsale"), "options.invoice_record_type", "is not one of"),
        (edited(tax__taxes__vat_eu_20={"nexus": "2", "tax_type": "12"}), "tax.taxes.vat_eu_20", "missing tax_code"),
        (edited(options__tax_mode="legacy", tax__default={"nexus": "1", "tax_type": "11", "tax_code": "1"}),
         "tax.default", "missing tax_item"),
        (edited(options__lago_web_url="https://x/{invoice_id}"), "options.lago_web_url", "unknown placeholder"),
        (edited(billing_entities__acme_mx={"tax": {"default": {"nexus": "5", "tax_type": "1", "tax_code": "1"}}}),
         "billing_entities.acme_mx", "no subsidiary"),
        (edited(subsidiaries=None), "subsidiaries", "required but missing"),
        (edited(version=2), "version", "must be 1"),
        (edited(options__usage_grouping={"rule": {"min_lines": 2}}), "options.usage_grouping.item",
         "required but missing"),
    ],
    ids=["id-as-number", "empty-id", "typo-key", "missing-item", "unknown-default", "unknown-currency",
         "lowercase-currency", "bad-tax-mode", "bad-record-type", "incomplete-suitetax", "incomplete-legacy",
         "bad-url-placeholder", "override-without-subsidiary", "missing-section", "bad-version",
         "grouping-without-item"],
)
def test_bad_mapping_names_file_key_and_problem(tmp_path: Path, data: dict[str, Any], key: str,
                                                problem: str) -> None:
    err = _err(tmp_path, data)
    assert any(path == key and problem in text for path, text in err.errors), err.errors
    assert key in str(err) and problem in str(err)


def test_duplicate_keys_are_an_error_with_both_lines(tmp_path: Path) -> None:
    text = DEFAULT_MAPPING_PATH.read_text().replace(
        '    seats:            {item: "203", account: "4030"}',
        '    seats:            {item: "203", account: "4030"}\n    seats:            {item: "209"}')
    err = _err(tmp_path, text)
    (path, problem), = err.errors
    assert path == "items.billable_metrics.seats"
    assert "duplicate key" in problem and "first defined on line" in problem


def test_errors_carry_the_line_number(tmp_path: Path) -> None:
    text = DEFAULT_MAPPING_PATH.read_text().replace('api_calls:        {item: "201"', "api_calls:        {item: 201")
    err = _err(tmp_path, text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "item: 201," in t)
    assert any(f"(line {line})" in p for _, p in err.errors)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = edited(items__billable_metrics__seats={"item": 203}, items__add_ons__training={"item": ""})
    err = _err(tmp_path, data)
    assert {p for p, _ in err.errors} >= {"items.billable_metrics.seats.item", "items.add_ons.training.item"}


@pytest.mark.parametrize(("text", "problem"), [("options: [unclosed", "not valid YAML"),
                                               ("- a list\n- not a mapping\n", "top level"),
                                               ("", "top level")], ids=["not-yaml", "a-list", "empty"])
def test_unreadable_files(tmp_path: Path, text: str, problem: str) -> None:
    assert problem in str(_err(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        load_mappings(tmp_path / "nope.yaml")


def test_grouping_rule_is_parsed() -> None:
    data = edited(options__usage_grouping={"item": {"item": "290", "account": "4090"},
                                           "rule": {"invoice_types": ["subscription"], "min_lines": 3}})
    m = parse_mappings(yaml.safe_dump(data))
    g = m.options.usage_grouping
    assert g is not None and g.item.item == "290" and g.invoice_types == ("subscription",) and g.min_lines == 3
    assert g.billing_entities is None and g.customers is None


def test_a_mapping_file_is_parsed_once_per_content_and_an_edit_is_seen_at_once(tmp_path: Path) -> None:
    """The transform loads the file on every pass: same bytes, same parsed mapping; new bytes, new mapping."""
    path = write(tmp_path, DEMO)
    first = load_mappings(path)
    assert load_mappings(path) is first
    path.write_text(yaml.safe_dump(edited(options__invoice_record_type="salesorder"), sort_keys=False))
    changed = load_mappings(path)
    assert changed is not first and changed.options.invoice_record_type == "salesorder"
    path.write_text("subsidiaries: [")  # broken: raises every time, never served from before
    for _ in range(2):
        with pytest.raises(MappingError):
            load_mappings(path)
