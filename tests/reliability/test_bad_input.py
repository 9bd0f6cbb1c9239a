"""Bad input never stops a run: property-based fuzzing of Lago documents and mapping files.

Two levels, as the issue asks:

- **Unit properties** (bounded examples): ``transform_documents`` + the Great Expectations gate
  over a fixed batch of good documents with one to three mutated documents beside them — missing,
  null and wrongly typed fields, unknown currency or billing entity, unmapped items, totals that do
  not add up, negative or enormous amounts, rates with 30 decimals, Unicode and very long names.
  Nothing raises; a document that cannot be sent exactly is held back (quarantined) by a reason
  that names it (its number or Lago id); a document that is sent carries Lago's total to the minor
  unit; the good documents give exactly the records they give without the bad ones. Broken mapping
  files always raise ``MappingError`` naming the file and the key (or the line).
- **Regressions** for the product bugs the fuzzing found, each named after what it fixes.
- **Whole runs** (``dag.test`` against both sandboxes; slow, so few): bad documents added to the
  Lago sandbox next to the seeded good ones, while the invoice list shifts between page calls.
  Every good document lands in NetSuite once with Lago's total, every bad one is quarantined or
  failed by name, no task but the report fails; a broken mapping file stops the run at transform,
  before NetSuite receives a single record, naming the file and the key.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Context, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lago_netsuite.transform import MappingError, load_mappings
from lago_netsuite.transform.mappings import DEFAULT_MAPPING_PATH, parse_mappings
from lago_netsuite.validate import run_gate
from tests.plugins.airflow_runs import captured_output, latest_run_tasks
from tests.unit.test_transform_lago_factory import (
    FeeSpec,
    InvoiceSpec,
    body_total,
    build_credit_note,
    build_invoice,
    customer,
    fractions,
    invoice_specs,
    major,
    mapping,
    payment,
    run,
)

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                          HealthCheck.filter_too_much])


# --- the good documents every example sits next to -------------------------------------------

def neighbours() -> dict[str, list[dict[str, Any]]]:
    """Good documents of every kind in every currency exponent (fresh copies each call)."""
    invoices = [build_invoice(InvoiceSpec(n=n, entity=e, fees=[FeeSpec(unit_amount="12.5", taxes=(0,)),
                                                               FeeSpec("add_on", "training", "2", "40", ())],
                                          coupon_fraction=Decimal("0.1")))
                for n, e in [(1, "acme_eu"), (2, "acme_us"), (3, "acme_jp"), (4, "acme_kw")]]
    return {"invoices": invoices,
            "credit_notes": [build_credit_note(invoices[0], [Decimal("0.5"), Decimal(1)],
                                               offset_fraction=Decimal("0.5"))],
            "payments": [payment(invoices[1])],
            "customers": [customer(1), customer(2, "acme_us", person=True)]}


def _record_map(records: Any) -> dict[str, tuple[Any, ...]]:
    return {r["external_id"]: (r["action"], r["record_type"], json.dumps(r["body"], sort_keys=True),
                               list(r["depends_on"] or [])) for r in records.to_dict("records")}


@lru_cache(maxsize=4)
def baseline(mapping_name: str) -> dict[str, tuple[Any, ...]]:
    """The neighbours' records without any bad document (transform only: they pass the gate)."""
    docs = neighbours()
    result = run(docs["invoices"], docs["credit_notes"], docs["payments"], docs["customers"],
                 mappings=MAPPINGS[mapping_name]())
    assert result.quarantined.empty and result.skipped.empty, result.quarantined.to_dict("records")
    return _record_map(result.records)


@lru_cache(maxsize=1)
def _no_fallback() -> Any:
    return mapping(items__fallback=None)


MAPPINGS: dict[str, Callable[[], Any]] = {"demo": lru_cache(maxsize=1)(mapping), "no_fallback": _no_fallback}


def test_the_neighbours_pass_the_gate_untouched(tmp_path: Path) -> None:
    docs = neighbours()
    result = run(docs["invoices"], docs["credit_notes"], docs["payments"], docs["customers"])
    gate = run_gate(result, data_docs_dir=tmp_path, run_id="neighbours")
    assert gate.quarantined.empty, gate.quarantined.to_dict("records")
    assert _record_map(gate.records) == baseline("demo")
    assert len(gate.records) == 8  # 4 invoices, 1 credit memo, 1 payment, 2 customers


# --- mutated documents ----------------------------------------------------------------------------

LONG = st.builds(lambda ch, n: ch * n, st.characters(exclude_categories=("Cs",)), st.integers(256, 20_000))
UNICODE = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(), UNICODE, LONG,
    st.sampled_from(["", "   ", "2024-13-45", "NaN", "1e309", "-0", "０１２", "\x00", "\u202e", "12.5", "-1"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NOT_AN_INT = st.one_of(st.sampled_from(["100", "1.5", "", "1e3"]), st.floats(), st.booleans(),
                       st.integers(2**63, 10**30), st.integers(-(10**30), -(2**63) - 1),
                       st.just([]), st.just({}), st.lists(st.integers(), min_size=1, max_size=2))


def thirty_decimals(text: str) -> str:
    """The same decimal written with 30 decimals (Lago's precise strings can be that long)."""
    return str(Decimal(text).quantize(Decimal(10) ** -30, context=Context(prec=200)))


INVOICE_REQUIRED = ["number", "currency", "issuing_date", "billing_entity_code", "fees_amount_cents",
                    "coupons_amount_cents", "sub_total_excluding_taxes_amount_cents", "taxes_amount_cents",
                    "credit_notes_amount_cents", "prepaid_credit_amount_cents", "total_amount_cents", "fees",
                    "customer"]
INVOICE_AMOUNTS = ["fees_amount_cents", "coupons_amount_cents", "sub_total_excluding_taxes_amount_cents",
                   "taxes_amount_cents", "credit_notes_amount_cents", "prepaid_credit_amount_cents",
                   "total_amount_cents"]
CREDIT_NOTE_REQUIRED = ["number", "currency", "issuing_date", "total_amount_cents", "taxes_amount_cents",
                        "sub_total_excluding_taxes_amount_cents", "items", "customer"]
PAYMENT_REQUIRED = ["amount_cents", "amount_currency", "invoice_ids", "created_at"]
NAME_FIELDS = ["name", "invoice_display_name", "filter_invoice_display_name"]


@dataclass
class Target:
    """One bad (or odd) document: its kind, how it was changed, and what must become of it.

    ``expect``: ``held`` — must be quarantined by a reason naming it; ``sent`` — must be sent with
    Lago's exact total; ``any`` — either of those, or skipped with a reason.
    """

    kind: str
    doc: Any
    mutation: str
    expect: str
    mapping: str = "demo"


def _positive_fee(doc: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in doc.get("fees") or [] if f["amount_cents"] > 0), None)


@st.composite
def bad_invoices(draw: st.DrawFn, n: int) -> Target:
    """A Lago-consistent invoice, then one mutation from the issue's list."""
    doc = build_invoice(replace(draw(invoice_specs()), n=n))
    choice = draw(st.sampled_from(["missing", "null", "wrong_type", "totals", "negative", "enormous",
                                   "currency", "billing_entity", "unmapped_item", "fee_wrong_type", "lago_id",
                                   "names", "rates_30", "junk_field", "junk_fee_field", "junk_customer_field"]))
    if choice in ("missing", "null"):
        field = draw(st.sampled_from(INVOICE_REQUIRED))
        if choice == "missing":
            del doc[field]
        else:
            doc[field] = None
        return Target("invoice", doc, f"{choice} {field}", "held")
    if choice == "wrong_type":
        field = draw(st.sampled_from(INVOICE_AMOUNTS))
        doc[field] = draw(NOT_AN_INT)
        return Target("invoice", doc, f"{field} = {doc[field]!r:.40}", "held")
    if choice == "totals":
        field = draw(st.sampled_from(["total_amount_cents", "fees_amount_cents",
                                      "sub_total_excluding_taxes_amount_cents"]))
        delta = draw(st.integers(-(10**6), 10**6).filter(bool))
        doc[field] += delta
        return Target("invoice", doc, f"{field} {delta:+d}", "held")
    if choice == "negative":
        doc["total_amount_cents"] = -abs(doc["total_amount_cents"]) - draw(st.integers(1, 10**9))
        return Target("invoice", doc, "negative total", "held")
    if choice == "enormous":
        # Every amount times 10**k: the arithmetic still adds up, but amounts may outgrow the 15
        # significant digits NetSuite keeps (or int64): sent exactly or held back, never a crash.
        k = draw(st.integers(14, 25))
        scale = 10**k
        for key, value in list(doc.items()):
            if key.endswith("_amount_cents") and isinstance(value, int):
                doc[key] = value * scale
        for child in [*doc["fees"], *doc["credits"], *doc["applied_taxes"]]:
            for key, value in list(child.items()):
                if key.endswith("amount_cents") and isinstance(value, int):
                    child[key] = value * scale
        return Target("invoice", doc, f"amounts x 10**{k}", "any")
    if choice == "currency":
        doc["currency"] = draw(st.sampled_from(["XYZ", "CHF", "usd", "EURO", "", "€"]))
        return Target("invoice", doc, f"currency {doc['currency']!r}", "held")
    if choice == "billing_entity":
        doc["billing_entity_code"] = draw(st.sampled_from(["acme_mx", "ACME_US", "", "acme us", "🏢"]))
        return Target("invoice", doc, f"billing entity {doc['billing_entity_code']!r}", "held")
    if choice == "unmapped_item":
        fee = _positive_fee(doc)
        if fee is None:  # nothing becomes a line: nothing needs an item
            return Target("invoice", doc, "no positive fee to unmap", "sent")
        fee["item"].update(type="charge", code=f"unmapped_metric_{n}")
        return Target("invoice", doc, "unmapped item, no fallback", "held", mapping="no_fallback")
    if choice == "fee_wrong_type":
        fee = draw(st.sampled_from(doc["fees"]))
        field = draw(st.sampled_from(["amount_cents", "taxes_amount_cents"]))
        fee[field] = draw(NOT_AN_INT)
        return Target("invoice", doc, f"fee {field} = {fee[field]!r:.40}", "held")
    if choice == "lago_id":
        doc["lago_id"] = draw(st.one_of(st.none(), st.sampled_from(["", "   "]), st.integers(), st.just([])))
        return Target("invoice", doc, f"lago_id {doc['lago_id']!r}", "held")
    if choice == "names":
        for fee in doc["fees"]:
            fee["item"][draw(st.sampled_from(NAME_FIELDS))] = draw(st.one_of(UNICODE, LONG))
        doc["customer"]["name"] = draw(st.one_of(UNICODE, LONG))
        doc["number"] = draw(st.sampled_from(["ÜNÏ-😀-", "فاتورة-", "請求書-", "INV\u200b-"])) + str(n)
        return Target("invoice", doc, "Unicode and long names", "sent")
    if choice == "rates_30":
        for fee in doc["fees"]:
            fee["precise_unit_amount"] = thirty_decimals(fee["precise_unit_amount"])
            fee["units"] = thirty_decimals(fee["units"])
        return Target("invoice", doc, "rates and units with 30 decimals", "sent")
    if choice == "junk_field":
        field = draw(st.sampled_from(sorted(doc)))
        doc[field] = draw(JUNK)
        return Target("invoice", doc, f"{field} = {doc[field]!r:.40}", "any")
    if choice == "junk_fee_field":
        fee = draw(st.sampled_from(doc["fees"]))
        field = draw(st.sampled_from(sorted(fee)))
        fee[field] = draw(JUNK)
        return Target("invoice", doc, f"fee {field} = {fee[field]!r:.40}", "any")
    field = draw(st.sampled_from(sorted(doc["customer"])))
    doc["customer"][field] = draw(JUNK)
    return Target("invoice", doc, f"customer {field} = {doc['customer'][field]!r:.40}", "any")


@st.composite
def bad_credit_notes(draw: st.DrawFn, n: int) -> Target:
    inv = build_invoice(InvoiceSpec(n=n, entity=draw(st.sampled_from(["acme_eu", "acme_us", "acme_jp", "acme_kw"])),
                                    fees=[FeeSpec(unit_amount="33.33", taxes=(0,)), FeeSpec(code="seats", units="3",
                                                                                            unit_amount="7")]))
    doc = build_credit_note(inv, [Decimal(1), Decimal("0.5")], offset_fraction=draw(fractions))
    choice = draw(st.sampled_from(["missing", "wrong_type", "totals", "currency", "item_amount", "junk_field"]))
    if choice == "missing":
        field = draw(st.sampled_from(CREDIT_NOTE_REQUIRED))
        del doc[field]
        return Target("creditnote", doc, f"missing {field}", "held")
    if choice == "wrong_type":
        field = draw(st.sampled_from(["total_amount_cents", "taxes_amount_cents"]))
        doc[field] = draw(NOT_AN_INT)
        return Target("creditnote", doc, f"{field} = {doc[field]!r:.40}", "held")
    if choice == "totals":
        doc["total_amount_cents"] += draw(st.integers(-(10**6), 10**6).filter(bool))
        return Target("creditnote", doc, "total off", "held")
    if choice == "currency":
        doc["currency"] = draw(st.sampled_from(["XYZ", "CHF", ""]))
        return Target("creditnote", doc, f"currency {doc['currency']!r}", "held")
    if choice == "item_amount":
        doc["items"][0]["amount_cents"] = draw(st.one_of(st.none(), NOT_AN_INT))
        return Target("creditnote", doc, "item amount junk", "held")
    field = draw(st.sampled_from(sorted(doc)))
    doc[field] = draw(JUNK)
    return Target("creditnote", doc, f"{field} = {doc[field]!r:.40}", "any")


@st.composite
def bad_payments(draw: st.DrawFn, n: int) -> Target:
    doc = payment(build_invoice(InvoiceSpec(n=n, entity=draw(st.sampled_from(["acme_eu", "acme_jp", "acme_kw"])),
                                            fees=[FeeSpec(unit_amount="19.99", taxes=(0,))])))
    choice = draw(st.sampled_from(["missing", "amount", "negative", "enormous", "currency", "invoice_ids",
                                   "junk_field"]))
    if choice == "missing":
        field = draw(st.sampled_from(PAYMENT_REQUIRED))
        del doc[field]
        return Target("payment", doc, f"missing {field}", "held")
    if choice == "amount":
        doc["amount_cents"] = draw(NOT_AN_INT)
        return Target("payment", doc, f"amount {doc['amount_cents']!r:.40}", "held")
    if choice == "negative":
        doc["amount_cents"] = -draw(st.integers(1, 10**12))
        return Target("payment", doc, "negative amount", "held")
    if choice == "enormous":
        doc["amount_cents"] = draw(st.integers(10**15, 2**63 - 1))
        return Target("payment", doc, f"amount {doc['amount_cents']}", "any")
    if choice == "currency":
        doc["amount_currency"] = draw(st.sampled_from(["XYZ", "CHF", "", "eur"]))
        return Target("payment", doc, f"currency {doc['amount_currency']!r}", "held")
    if choice == "invoice_ids":
        doc["invoice_ids"] = draw(st.one_of(st.just([]), st.integers(), st.text(min_size=1, max_size=8),
                                            st.just([None]), st.just([{"lago_id": "x"}]),
                                            st.just(["inv-a", "inv-b"])))
        return Target("payment", doc, f"invoice_ids {doc['invoice_ids']!r:.40}", "held")
    field = draw(st.sampled_from(sorted(doc)))
    doc[field] = draw(JUNK)
    return Target("payment", doc, f"{field} = {doc[field]!r:.40}", "any")


@st.composite
def bad_customers(draw: st.DrawFn, n: int) -> Target:
    doc = customer(n, draw(st.sampled_from(["acme_eu", "acme_us", "acme_jp", "acme_kw"])), person=draw(st.booleans()))
    choice = draw(st.sampled_from(["billing_entity", "currency", "names", "junk_field"]))
    if choice == "billing_entity":
        doc["billing_entity_code"] = draw(st.sampled_from(["acme_mx", "", None, 7]))
        return Target("customer", doc, f"billing entity {doc['billing_entity_code']!r}", "held")
    if choice == "currency":
        doc["currency"] = draw(st.sampled_from(["XYZ", "CHF", "ABCDEF", 5]))
        return Target("customer", doc, f"currency {doc['currency']!r}", "held")
    if choice == "names":
        for field in ("name", "firstname", "lastname", "legal_name"):
            if doc.get(field) is not None:
                doc[field] = draw(st.one_of(UNICODE.filter(str.strip), LONG.filter(str.strip)))
        return Target("customer", doc, "Unicode and long names", "any")
    field = draw(st.sampled_from(sorted(doc)))
    doc[field] = draw(JUNK)
    return Target("customer", doc, f"{field} = {doc[field]!r:.40}", "any")


STRATEGIES = {"invoice": bad_invoices, "creditnote": bad_credit_notes, "payment": bad_payments,
              "customer": bad_customers}


@st.composite
def bad_batches(draw: st.DrawFn) -> list[Target]:
    """One to three bad documents, each of its own customer (so none can touch a neighbour)."""
    kinds = draw(st.lists(st.sampled_from(list(STRATEGIES)), min_size=1, max_size=3))
    targets = [draw(STRATEGIES[kind](100 + i)) for i, kind in enumerate(kinds)]
    if any(t.mapping == "no_fallback" for t in targets):  # one mapping per batch; without a fallback
        # item, any unmapped fee (the factory draws unmapped metrics too) holds its document back
        targets = [replace(t, mapping="no_fallback", expect="any" if t.expect == "sent" else t.expect)
                   for t in targets]
    return targets


# --- what must become of them ---------------------------------------------------------------------

def usable(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def names_of(target: Target) -> list[str]:
    """What may name the document in a reason: its Lago id, its number (customers: external id)."""
    doc = target.doc if isinstance(target.doc, dict) else {}
    keys = ["lago_id", "number"] + (["external_id"] if target.kind == "customer" else [])
    return [doc[k] for k in keys if usable(doc.get(k))]


def external_id(target: Target) -> str | None:
    lago_id = target.doc.get("lago_id") if isinstance(target.doc, dict) else None
    return f"lago-{target.kind}-{lago_id}" if usable(lago_id) else None


def outcome(target: Target, records: Any, quarantined: Any, skipped: Any) -> tuple[str, Any]:
    """``sent`` / ``held`` / ``skipped`` / ``lost`` and the rows saying so."""
    ext = external_id(target)
    if ext is not None:
        sent = records[records["external_id"] == ext]
        held = quarantined[quarantined["external_id"] == ext]
        skip = skipped[skipped["external_id"] == ext]
    else:  # no usable Lago id: found by the number its reason names
        names = names_of(target)
        sent = records.iloc[0:0]
        held = quarantined[quarantined["external_id"].isna() & quarantined["reasons"].map(
            lambda rs: not names or any(nm in r for r in rs for nm in names))]
        skip = skipped.iloc[0:0]
    if len(held):
        return "held", held
    if len(sent):
        return "sent", sent
    if len(skip):
        return "skipped", skip
    return "lost", None


def assert_sent_exactly(target: Target, body: dict[str, Any]) -> None:
    """A sent document carries Lago's own total, to the minor unit."""
    doc = target.doc
    if target.kind in ("invoice", "creditnote"):
        assert isinstance(doc["total_amount_cents"], int), target.mutation
        assert body_total(body) == major(doc["total_amount_cents"], doc["currency"]), target.mutation
    elif target.kind == "payment":
        sent = Decimal(repr(json.loads(json.dumps(body))["columns"]["payment"]))
        assert sent == major(doc["amount_cents"], doc["amount_currency"]), target.mutation


def check_targets(targets: list[Target], records: Any, quarantined: Any, skipped: Any) -> None:
    for target in targets:
        what, rows = outcome(target, records, quarantined, skipped)
        assert what != "lost", f"{target.kind} ({target.mutation}) vanished: neither sent, held nor skipped"
        if what == "held":
            ext = external_id(target)
            assert ext is None or not (records["external_id"] == ext).any(), f"held and sent: {target.mutation}"
            reasons = [r for rs in rows["reasons"] for r in rs]
            names = names_of(target)
            if names:  # a document with neither id nor number can only be named by its position
                assert any(nm in r for r in reasons for nm in names), (target.mutation, names, reasons)
            assert all(isinstance(r, str) and r for r in reasons)
        elif what == "skipped":
            assert target.expect == "any", f"{target.kind} ({target.mutation}) skipped, expected {target.expect}"
            assert all(isinstance(r, str) and r for r in rows["reason"])
        else:
            assert target.expect != "held", f"{target.kind} ({target.mutation}) was sent"
            assert_sent_exactly(target, rows["body"].iloc[0])
        if target.expect == "sent":
            assert what == "sent", (target.kind, target.mutation, rows.to_dict("records") if rows is not None else None)


def docs_with(targets: list[Target]) -> dict[str, list[Any]]:
    docs = neighbours()
    key = {"invoice": "invoices", "creditnote": "credit_notes", "payment": "payments", "customer": "customers"}
    for target in targets:
        docs[key[target.kind]].append(target.doc)
    return docs


def assert_neighbours_unchanged(records: Any, quarantined: Any, mapping_name: str) -> None:
    expected = baseline(mapping_name)
    got = _record_map(records[records["external_id"].isin(set(expected))])
    assert got == expected, "a good document's record changed because of a bad one beside it"
    assert not quarantined["external_id"].isin(set(expected)).any()


@settings(PROPERTY, max_examples=20)
@given(targets=bad_batches())
def test_bad_documents_are_held_back_by_name_and_the_good_ones_are_sent_unchanged(targets: list[Target]) -> None:
    docs = docs_with(targets)
    result = run(docs["invoices"], docs["credit_notes"], docs["payments"], docs["customers"],
                 mappings=MAPPINGS[targets[0].mapping]())  # must not raise, whatever the input
    with tempfile.TemporaryDirectory() as data_docs:
        gate = run_gate(result, data_docs_dir=data_docs, run_id="fuzz")
    assert_neighbours_unchanged(gate.records, gate.quarantined, targets[0].mapping)
    check_targets(targets, gate.records, gate.quarantined, result.skipped)


@settings(PROPERTY, max_examples=8)
@given(spec=invoice_specs(), total_delta=st.integers(-500, 500), copies=st.integers(2, 4))
def test_a_document_sent_twice_in_one_batch_counts_once_in_its_last_version(spec: Any, total_delta: int,
                                                                          copies: int) -> None:
    """A list page that shifted while it was read repeats a document: its last version is the one."""
    doc = build_invoice(replace(spec, n=500))
    versions = [copy.deepcopy(doc) for _ in range(copies)]
    versions[0]["total_amount_cents"] += total_delta or 1  # an earlier, broken version
    last = run([versions[-1]])
    both = run([versions[0], *versions[1:]])
    ext = f"lago-invoice-{doc['lago_id']}"
    assert _record_map(both.records) == _record_map(last.records)
    assert list(both.records["external_id"]).count(ext) == 1
    assert both.quarantined.empty


# --- mapping files --------------------------------------------------------------------------------

DEMO_TEXT = DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")
DEMO_DATA = yaml.safe_load(DEMO_TEXT)


def _key_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, str(key)))
            out += _key_paths(value, (*prefix, str(key)))
    return out


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


KEY_PATHS = _key_paths(DEMO_DATA)
DICT_PATHS = [()] + [p for p in KEY_PATHS if isinstance(_get(DEMO_DATA, p), dict)]
MAPPING_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False),
                         st.just(""), st.just("  "), st.just([]), st.just({}), st.just(["x"]),
                         st.text(max_size=12), st.just({"zz": 1}))


@dataclass
class MappingCase:
    text: str
    key: str | None  # the key the message must name (None: a YAML syntax error, named by line)
    mutation: str


@st.composite
def broken_mappings(draw: st.DrawFn) -> MappingCase:
    """The demo mapping with one change: a key deleted, retyped or unknown, or the YAML itself broken."""
    choice = draw(st.sampled_from(["delete", "retype", "unknown_key", "currency_code", "duplicate_key",
                                   "syntax"]))
    data = copy.deepcopy(DEMO_DATA)
    if choice in ("delete", "retype"):
        path = draw(st.sampled_from(KEY_PATHS))
        parent = _get(data, path[:-1])
        if choice == "delete":
            del parent[path[-1]]
            mutation = f"delete {'.'.join(path)}"
        else:
            parent[path[-1]] = draw(MAPPING_JUNK)
            mutation = f"{'.'.join(path)} = {parent[path[-1]]!r}"
        return MappingCase(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), path[-1], mutation)
    if choice == "unknown_key":
        path = draw(st.sampled_from(DICT_PATHS))
        key = draw(st.sampled_from(["zz_unknown", "Fallback", "itemz", "tax mode"]))
        _get(data, path)[key] = draw(MAPPING_JUNK)
        return MappingCase(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), key,
                           f"unknown key {'.'.join((*path, key))}")
    if choice == "currency_code":
        code = draw(st.sampled_from(["XYZ", "usd", "EURO", "E1"]))
        scope = draw(st.sampled_from([(), ("billing_entities", "acme_eu")]))
        _get(data, scope).setdefault("currencies", {})[code] = "9"
        return MappingCase(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), code, f"currency {code}")
    lines = DEMO_TEXT.splitlines()
    if choice == "duplicate_key":  # a "key: value" line written twice
        leaves = [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z_]\w*:\s+[^#\s]", line)]
        at = draw(st.sampled_from(leaves))
        lines.insert(at + 1, lines[at])
        key = lines[at].split(":")[0].strip()
        return MappingCase("\n".join(lines) + "\n", key, f"duplicate key line {at + 1}")
    keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z_]\w*:", line)]
    at = draw(st.sampled_from(keyed))
    junk = draw(st.sampled_from(["{unclosed: [", "key: : value", "\tindented: 1", "- [", "  : no key", "*alias"]))
    lines.insert(at, junk)
    return MappingCase("\n".join(lines) + "\n", None, f"syntax {junk!r} at line {at + 1}")


@settings(PROPERTY, max_examples=60)
@given(case=broken_mappings())
def test_a_broken_mapping_file_is_refused_naming_the_file_and_the_key(case: MappingCase) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "netsuite_mapping.yaml"
        path.write_text(case.text, encoding="utf-8")
        try:
            mappings = load_mappings(path)
        except MappingError as exc:
            message = str(exc)
            assert str(path) in message, message
            assert exc.errors and all(problem for _, problem in exc.errors)
            if case.key is None:
                assert re.search(r"line \d+", message), (case.mutation, message)
            else:
                assert case.key in message, (case.mutation, message)
            return
    # Some changes are legal (an optional key removed, null where null is allowed): then the
    # mapping must still transform the good documents without raising.
    docs = neighbours()
    run(docs["invoices"], docs["credit_notes"], docs["payments"], docs["customers"], mappings=mappings)


def test_every_mapping_problem_is_listed_with_its_key_and_line(tmp_path: Path) -> None:
    data = copy.deepcopy(DEMO_DATA)
    data["currencies"]["USD"] = 1
    data["items"]["billable_metrics"]["api_calls"]["item"] = ""
    data["tax"]["taxes"]["vat_eu_20"].pop("nexus")
    path = tmp_path / "three_problems.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(MappingError) as info:
        load_mappings(path)
    message = str(info.value)
    for key in ("currencies.USD", "items.billable_metrics.api_calls.item"):
        assert re.search(re.escape(key) + r".*\(line \d+\)", message), message
    assert str(path) in message
    with pytest.raises(MappingError):
        parse_mappings("version: 1\noptions: {}\n", source=str(path))


# --- regressions: the product bugs this fuzzing found ---------------------------------------------

def test_an_amount_beyond_15_significant_digits_holds_its_document_back_instead_of_raising() -> None:
    """Found by the fuzzing: ``json_number`` raised out of ``transform_documents`` (the whole batch lost)."""
    good = build_invoice(InvoiceSpec(n=1))
    huge = build_invoice(InvoiceSpec(n=2, entity="acme_us", fees=[FeeSpec(units="1000", unit_amount="999999999999.99",
                                                                          taxes=(0,))]))
    pay = dict(payment(good, n=3), amount_cents=10**17 + 1)
    result = run([good, huge], [], [pay])
    assert list(result.records["external_id"]) == [f"lago-invoice-{good['lago_id']}"]
    reasons = {q["external_id"]: q["reasons"] for q in result.quarantined.to_dict("records")}
    assert "invoice INV-000002: could not be transformed (InexactAmountError" in reasons["lago-invoice-inv-000002"][0]
    assert "payment pay-000003: could not be transformed (InexactAmountError" in reasons["lago-payment-pay-000003"][0]


def test_a_reason_from_the_gate_names_its_document(tmp_path: Path) -> None:
    """Found by the fuzzing: gate reasons read "the transaction date is present" and named no document."""
    bad = build_invoice(InvoiceSpec(n=9))
    bad["issuing_date"] = "2024-02-30"  # ISO-shaped, not a real day
    gate = run_gate(run([bad]), data_docs_dir=tmp_path, run_id="r")
    (reason,) = gate.quarantined["reasons"].iloc[0]
    assert reason.startswith("gate: trandate_present — ") and reason.endswith("(invoice INV-000009)")


def test_a_broken_mapping_file_fails_the_task_without_retries(tmp_path: Path) -> None:
    """Found by the whole-run test: a MappingError was retried twice, 30 s and 60 s apart, for nothing."""
    from airflow.sdk.exceptions import AirflowFailException

    from lago_netsuite.orchestration.dag_support import fail_fast

    path = tmp_path / "m.yaml"
    path.write_text("version: 2\n")
    with pytest.raises(AirflowFailException, match=re.escape(str(path))), fail_fast():
        load_mappings(path)


ODD_DOCUMENTS = [
    {"lago_id": "a1", "number": {"value": "INV-1"}, "status": ["finalized"], "issuing_date": {"y": 1},
     "customer": {"external_id": {"x": 1}}, "updated_at": 5},
    {"lago_id": "a2", "number": "N" * 300, "status": "s" * 40, "updated_at": "2026-01-01T00:00:00Z" + "x" * 60,
     "customer": {"external_id": "E" * 300}},
    {"lago_id": "a3", "number": "INV\x00-3", "customer": {"external_id": "ext\x00-3"}, "note": "kept \x00 whole"},
    {"lago_id": "L" * 65, "number": "INV-4"},
    {"lago_id": "a5\x00", "number": "INV-5"},
]
ODD_CUSTOMERS = [
    {"lago_id": "c1", "external_id": "e1", "currency": {"code": "EUR"}, "name": ["x"], "email": {"a": 1},
     "billing_entity_code": 7, "integration_customers": 5},
    {"lago_id": "c2", "external_id": "e2", "currency": "ABCDEF", "name": "Ω" * 10_000 + "\x00",
     "firstname": {"a": 1}, "lastname": "L"},
    {"lago_id": "c3", "external_id": "E" * 300},
    {"lago_id": "c4\x00", "external_id": "e4"},
]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_store_keeps_documents_with_fields_no_lookup_column_can_hold(backend: str, tmp_path: Path,
                                                                         request: pytest.FixtureRequest) -> None:
    """Found by the whole-run test: a wrong type (both backends), an over-long value or a NUL
    (PostgreSQL) in a Lago field made the database refuse the batch, and the extract task failed."""
    from lago_netsuite.ledger import catalog, documents, migrations, schema, store
    from lago_netsuite.ledger.records import Outcome, apply_outcomes

    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else f"sqlite:///{tmp_path}/s.db"
    engine = store.get_engine(url)
    try:
        migrations.migrate(engine)
        counts = documents.store_documents(engine, "invoice", ODD_DOCUMENTS)
        assert counts.inserted == len(ODD_DOCUMENTS)
        payments = [{"lago_id": "p1", "reference": {"r": 1}, "created_at": ["x"], "payment_status": 5},
                    {"lago_id": "p2", "reference": "R\x00" * 200, "created_at": "2026-01-01" + "T" * 60}]
        documents.store_documents(engine, "payment", payments)
        customers = catalog.upsert_customers(engine, ODD_CUSTOMERS)
        assert customers.inserted == 2 and len(customers.invalid) == 2
        catalog.upsert_catalog_objects(engine, "plan", [{"code": "p" * 300}, {"code": "ok", "lago_id": ["x"],
                                                                               "name": {"n": 1}}])
        with engine.connect() as conn:
            rows = {r.lago_id: r for r in conn.execute(sa.select(schema.document))}
        assert rows["a1"].number is None and rows["a1"].status is None and rows["a1"].lago_updated_at == "5"
        assert rows["a2"].number == "N" * 255 and len(rows["a2"].lago_updated_at) == 40
        assert rows["a3"].number == "INV\ufffd-3"
        assert json.loads(rows["a3"].payload)["note"] == "kept \x00 whole"  # the payload is never cut
        stand_ins = [k for k in rows if k.startswith(documents.MISSING_ID_PREFIX)]
        assert len(stand_ins) == 2  # ids no key column can hold: kept, then held back by the transform step
        apply_outcomes(engine, [
            Outcome("lago-invoice-a3", "invoice", "invoice", "a3", "INV\x00-3" + "9" * 300, None, "quarantined",
                    reason="invoice INV\x00-3: " + "why " * 10_000, code="QUARANTINED")],
            mapping_hash="m", run_id="r")
        with engine.connect() as conn:
            row = conn.execute(sa.select(schema.ledger)).one()
        assert row.number.startswith("INV\ufffd-3") and len(row.number) == 255
        assert row.last_error_message.startswith("invoice INV\ufffd-3: why")
    finally:
        store.dispose_engines()


def _transform_context(tmp_path: Path, run_id: str) -> Any:
    from lago_netsuite.context import RunContext
    from lago_netsuite.settings import SyncSettings

    return RunContext(run_id=run_id, dag_id="test", store_url=f"sqlite:///{tmp_path}/store.db",
                      settings=SyncSettings(mapping_file=str(DEFAULT_MAPPING_PATH), data_docs_dir=str(tmp_path / "dd")))


def _store(ctx: Any, invoices: list[dict[str, Any]] = (), payments: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    from lago_netsuite.ledger import catalog, documents

    documents.store_documents(ctx.engine, "invoice", invoices)
    documents.store_documents(ctx.engine, "payment", payments)
    catalog.upsert_customers(ctx.engine, [i["customer"] for i in invoices])


def test_a_document_whose_number_another_already_carries_is_held_back_naming_both(tmp_path: Path) -> None:
    """Found by the whole-run test: two Lago invoices with one number were both sent; NetSuite keeps
    the number (tranid) unique, so the second is refused there — or booked as a confusing twin."""
    from lago_netsuite.ledger import store
    from lago_netsuite.transform.run import transform_pending

    first, second = build_invoice(InvoiceSpec(n=1)), build_invoice(InvoiceSpec(n=2))
    second["number"] = first["number"]
    later = build_invoice(InvoiceSpec(n=3))
    later["number"] = first["number"]
    try:
        ctx = _transform_context(tmp_path, "run-1")
        _store(ctx, [first, second])
        summary = transform_pending(ctx, kinds=("invoice",))
        assert summary["records"] == 1 + 2 and summary["quarantined"] == 1  # + the two customers
        ledger = {r.external_id: r for r in _ledger(ctx)}
        assert ledger["lago-invoice-inv-000001"].state == "pending"
        held = ledger["lago-invoice-inv-000002"]
        assert held.state == "quarantined" and "inv-000002" in held.last_error_message
        assert "lago-invoice-inv-000001" in held.last_error_message and "INV-000001" in held.last_error_message
        ctx = _transform_context(tmp_path, "run-2")  # a later run: the ledger already holds the number
        _store(ctx, [later])
        transform_pending(ctx, kinds=("invoice",))
        ledger = {r.external_id: r for r in _ledger(ctx)}
        assert ledger["lago-invoice-inv-000003"].state == "quarantined"
        assert ledger["lago-invoice-inv-000001"].state == "pending"
    finally:
        store.dispose_engines()


def _ledger(ctx: Any) -> list[Any]:
    from lago_netsuite.ledger import schema

    with ctx.engine.connect() as conn:
        return list(conn.execute(sa.select(schema.ledger)))


def test_payments_whose_invoice_ids_are_not_a_list_are_held_back_not_raised(tmp_path: Path) -> None:
    """Found by the whole-run test: ``invoice_ids: 5`` raised TypeError in the extract and transform steps."""
    from lago_netsuite.extract.documents import ExtractCounts, fetch_referenced_invoices
    from lago_netsuite.ledger import store
    from lago_netsuite.transform.run import transform_pending

    inv = build_invoice(InvoiceSpec(n=1))
    odd = [dict(payment(inv, n=n), invoice_ids=ids) for n, ids in [(2, 5), (3, "inv-000001"), (4, [None, {"a": 1}])]]
    try:
        ctx = _transform_context(tmp_path, "run-1")
        ctx = replace(ctx, settings=replace(ctx.settings, sync_start_date="2024-01-01"))
        _store(ctx, [inv], odd)

        class NoLago:
            def get_invoice(self, lago_id: str) -> dict[str, Any]:
                raise AssertionError(f"nothing to fetch, asked for {lago_id!r}")

        fetch_referenced_invoices(NoLago(), ctx.engine, odd, ExtractCounts(), run_id="r", workers=1)  # type: ignore[arg-type]
        transform_pending(ctx, kinds=("invoice", "payment"))
        ledger = {r.external_id: r for r in _ledger(ctx)}
        for pay in odd:
            row = ledger[f"lago-payment-{pay['lago_id']}"]
            assert row.state == "quarantined" and pay["lago_id"] in row.last_error_message
    finally:
        store.dispose_engines()


# --- whole runs (dag.test against both sandboxes) -------------------------------------------------

def _fresh_invoice(template: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy of a seeded invoice under a new Lago id and number (fees re-identified too)."""
    doc = copy.deepcopy(template)
    doc["lago_id"] = str(uuid.uuid4())
    doc["number"] = f"{template['number']}-X{n:02d}"
    for fee in doc.get("fees") or []:
        fee["lago_id"] = str(uuid.uuid4())
        fee["lago_invoice_id"] = doc["lago_id"]
    return doc


def _scale_amounts(doc: dict[str, Any], scale: int) -> None:
    for node in [doc, *(doc.get("fees") or []), *(doc.get("credits") or []), *(doc.get("applied_taxes") or [])]:
        for key, value in list(node.items()):
            if key.endswith("amount_cents") and isinstance(value, int) and not isinstance(value, bool):
                node[key] = value * scale


@dataclass
class BadDoc:
    collection: str
    doc: dict[str, Any]
    expect: str  # held | sent | any
    why: str

    @property
    def external_id(self) -> str:
        kind = {"invoices": "invoice", "credit_notes": "creditnote", "payments": "payment"}[self.collection]
        return f"lago-{kind}-{self.doc['lago_id']}"


def plant_bad_documents(world: Any) -> tuple[list[BadDoc], dict[str, Any]]:
    """Add the issue's bad documents to the Lago sandbox, each a variant of a good seeded one."""
    finalized = [i for i in world.dataset.invoices if i["status"] == "finalized" and i.get("fees")
                 and i["total_amount_cents"] > 0 and not i.get("credits")]
    finalized.sort(key=lambda i: (i["issuing_date"], i["created_at"]))
    template = finalized[0]  # the oldest: the shifting list copies the newest, never one of these
    bad: list[BadDoc] = []

    def invoice(why: str, expect: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        doc = _fresh_invoice(template, len(bad))
        change(doc)
        bad.append(BadDoc("invoices", doc, expect, why))
        return doc

    invoice("totals do not add up", "held", lambda d: d.update(total_amount_cents=d["total_amount_cents"] + 7))
    invoice("unknown currency", "held", lambda d: d.update(currency="XYZ"))
    invoice("currency without mapping", "held", lambda d: d.update(currency="CHF"))
    invoice("unknown billing entity", "held", lambda d: d.update(billing_entity_code="acme_mx"))
    invoice("amount of the wrong type", "held", lambda d: d.update(fees_amount_cents=str(d["fees_amount_cents"])))
    invoice("number of the wrong type", "held", lambda d: d.update(number={"value": d["number"]}))
    invoice("enormous total", "held", lambda d: d.update(total_amount_cents=10**30))
    invoice("enormous amounts that add up", "held", lambda d: _scale_amounts(d, 10**15))
    invoice("negative total", "held", lambda d: d.update(total_amount_cents=-d["total_amount_cents"]))
    invoice("fee amount of the wrong type", "held", lambda d: d["fees"][0].update(amount_cents=[1]))
    invoice("fees missing", "held", lambda d: d.pop("fees"))
    twin = next(i for i in finalized[1:] if i["number"] != template["number"])
    invoice("duplicate number", "held", lambda d: d.update(number=twin["number"]))
    invoice("rates and units with 30 decimals", "sent", lambda d: [
        f.update(precise_unit_amount=thirty_decimals(f["precise_unit_amount"]), units=thirty_decimals(f["units"]))
        for f in d["fees"]])
    invoice("a very long number", "any", lambda d: d.update(number="N" * 300))
    invoice("an updated_at no column can hold", "sent", lambda d: d.update(updated_at=d["updated_at"] + "x" * 60))

    # A new customer with Unicode (NUL included) and very long names, and an invoice of it.
    names = dict(copy.deepcopy(template["customer"]), lago_id=str(uuid.uuid4()), external_id="ext-ünïcødé-😀",
                 name="Ünïcødé GmbH \u202e😀\x00 " + "名" * 3000, email="billing@ünïcødé.example",
                 integration_customers=[])
    world.lago_admin("POST", "documents/customers", names)

    def unicode_invoice(d: dict[str, Any]) -> None:
        d["customer"] = names
        d["number"] = f"ÜNÏ-😀-{len(bad)}"
        for fee in d["fees"]:
            fee["item"]["name"] = "Ŝtörägé \x00 " + "✓" * 5000
            fee["item"]["invoice_display_name"] = "表示名 " * 800

    invoice("Unicode and very long names", "sent", unicode_invoice)

    # A customer whose currency no column (and no NetSuite) knows: held; its invoice waits for it.
    odd = dict(copy.deepcopy(template["customer"]), lago_id=str(uuid.uuid4()), external_id="ext-odd-currency",
               currency="ABCDEF", integration_customers=[])
    world.lago_admin("POST", "documents/customers", odd)
    waits = invoice("its customer is held back", "waits", lambda d: d.update(customer=odd))

    pay_template = next(p for p in world.dataset.payments if p["payment_status"] == "succeeded")

    def pay(why: str, expect: str, **changes: Any) -> None:
        doc = dict(copy.deepcopy(pay_template), lago_id=str(uuid.uuid4()), **changes)
        bad.append(BadDoc("payments", doc, expect, why))

    pay("invoice_ids that is not a list", "held", invoice_ids=5)
    pay("amount of the wrong type", "held", amount_cents="abc")
    pay("unknown currency", "held", amount_currency="XYZ")
    note = dict(copy.deepcopy(world.dataset.credit_notes[0]), lago_id=str(uuid.uuid4()))
    note["number"] = note["number"] + "-X"
    note["total_amount_cents"] += 3
    bad.append(BadDoc("credit_notes", note, "held", "credit note totals do not add up"))

    for item in bad:
        world.lago_admin("POST", f"documents/{item.collection}", item.doc)
    return bad, {"waits": waits, "customer": odd, "unicode_customer": names}


def shifting_list_pages(monkeypatch: pytest.MonkeyPatch, per_page: int = 7) -> None:
    """Small invoice pages, so the Lago sandbox's shifting list moves documents across many pages."""
    from lago_netsuite.hooks.lago import LagoHook

    original = LagoHook.paginate_pages

    def small_pages(self: Any, path: str, params: Any = None, collection: str | None = None,
                    per_page_: int = 100) -> Any:
        return original(self, path, params, collection, per_page if path == "/invoices" else per_page_)

    monkeypatch.setattr(LagoHook, "paginate_pages", small_pages)


def names_it(message: str | None, doc: dict[str, Any]) -> bool:
    if not message:
        return False
    candidates = [doc.get("lago_id"), doc.get("number") if isinstance(doc.get("number"), str) else None]
    return any(isinstance(c, str) and c and c[:255] in message for c in candidates)


@pytest.mark.slow
@pytest.mark.airflow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_run_with_bad_documents_and_a_shifting_list_syncs_every_good_document_once(
        sync_world_factory: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
        backend: str) -> None:
    store_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    world = sync_world_factory(invoices=40, customers=10, store_url=store_url)
    bad, special = plant_bad_documents(world)
    shifting_list_pages(monkeypatch)
    world.lago_admin("POST", "config", {"shift_on_list": True})

    state = world.run()

    tasks = latest_run_tasks("lago_netsuite_sync")
    broken = {t: s for t, (s, _) in tasks.items() if s not in ("success", "skipped") and t not in ("report", "watcher")}
    assert broken == {}, f"a task other than the report failed on bad input: {broken}"
    assert state == "failed" and tasks["report"][0] == "failed"  # the report shows the held documents
    spawned = world.lago_admin("GET", "stats")["spawned_invoices"]
    assert spawned >= 3, "the invoice list should have shifted between page calls"

    world.lago_admin("POST", "config", {"shift_on_list": False})
    # picks up what the last shift added; nothing new is bad, but the documents held back in the
    # first run are still unresolved, so the report fails this run too (unresolved_policy: fail)
    assert world.run() == "failed"
    tasks = latest_run_tasks("lago_netsuite_sync")
    assert {t for t, (s, _) in tasks.items() if s not in ("success", "skipped")} == {"report", "watcher"}
    outcome = world.report()["outcome"]
    assert outcome["failed_now"] == 0 and outcome["unresolved"] > 0, outcome

    ledger = world.ledger()
    records = {r["externalId"]: r for r in world.netsuite_records()}
    for item in bad:
        row = ledger.get(item.external_id)
        if item.expect == "waits":
            continue
        assert row is not None, f"{item.why}: the document was lost"
        if item.expect == "sent" or (item.expect == "any" and row.state == "synced"):
            assert row.state == "synced", (item.why, row.state, row.last_error_message)
            total = Decimal(world.lago_total(item.external_id.split("-")[1], item.doc["lago_id"]))
            assert Decimal(records[item.external_id]["total"]) == total, item.why
        else:
            assert row.state in ("quarantined", "failed"), (item.why, row.state)
            assert names_it(row.last_error_message, item.doc), (item.why, row.last_error_message)
            assert item.external_id not in records
    # the customer nobody can book is held by name; its (good) invoice waits for it, saying so
    customer_row = ledger[f"lago-customer-{special['customer']['lago_id']}"]
    assert customer_row.state == "quarantined" and special["customer"]["external_id"] in \
        customer_row.last_error_message
    waiting = ledger[f"lago-invoice-{special['waits']['lago_id']}"]
    assert waiting.state == "waiting" and f"lago-customer-{special['customer']['lago_id']}" in \
        waiting.last_error_message
    assert ledger[f"lago-customer-{special['unicode_customer']['lago_id']}"].state == "synced"

    # every good document — seeded, and added by the shifting list — is in NetSuite once, with Lago's total
    bad_ids = {item.doc["lago_id"] for item in bad}
    lago = world.lago_app.state.sandbox.collections
    good_invoices = [i for i in lago["invoices"].documents() if i["status"] == "finalized"
                     and i["lago_id"] not in bad_ids]
    for inv in good_invoices:
        ext = f"lago-invoice-{inv['lago_id']}"
        assert ext in records, f"good invoice {inv['number']} was not synced"
        assert Decimal(records[ext]["total"]) == Decimal(world.lago_total("invoice", inv["lago_id"])), inv["number"]
    for pay in lago["payments"].documents():
        if pay["payment_status"] == "succeeded" and pay["lago_id"] not in bad_ids:
            assert f"lago-payment-{pay['lago_id']}" in records, pay["lago_id"]
    for note in lago["credit_notes"].documents():
        if note["lago_id"] not in bad_ids:
            assert f"lago-creditnote-{note['lago_id']}" in records, note["number"]
    world.assert_exactly_once_and_in_agreement()


@pytest.mark.slow
@pytest.mark.airflow
def test_a_broken_mapping_file_stops_the_run_before_anything_is_sent(
        sync_world_factory: Any, tmp_path: Path, request: pytest.FixtureRequest,
        capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    data = copy.deepcopy(DEMO_DATA)
    data["billing_entities"]["acme_eu"]["items"]["billable_metrics"]["api_calls"]["item"] = 211  # not quoted
    broken = tmp_path / "broken_mapping.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False))
    world = sync_world_factory()
    world.configure(mapping_file=str(broken))
    caplog.set_level(logging.INFO, logger="lago_netsuite.alerts")

    assert world.run() == "failed"

    stats = world.netsuite_stats()
    assert stats["records_received"] == 0 and world.netsuite_records() == []
    assert stats["calls"]["by_method"].get("POST", 0) == 0
    assert world.ledger() == {}
    tasks = latest_run_tasks("lago_netsuite_sync")
    assert tasks["extract_transform"] == ("failed", 1), "a broken mapping file fails the same way on every retry"
    # the load lanes saw the producer fail for good and stopped, sending nothing (asserted above)
    assert all(s in ("success", "upstream_failed", "skipped", None) for t, (s, _) in tasks.items()
               if t.startswith("load"))
    logs = captured_output(request, capfd)
    key = "billing_entities.acme_eu.items.billable_metrics.api_calls.item"
    assert re.search(rf"mapping file {re.escape(str(broken))} is invalid[^\n]*\n[^\n]*{re.escape(key)}", logs), \
        "the task log names the file and the key"
    alerts = [r.getMessage() for r in caplog.records if r.name == "lago_netsuite.alerts"]
    transform_alerts = [a for a in alerts if "task=extract_transform" in a]
    assert len(transform_alerts) == 1 and "FAILED" in transform_alerts[0], alerts  # one line, no retries
    assert str(broken) in transform_alerts[0]
