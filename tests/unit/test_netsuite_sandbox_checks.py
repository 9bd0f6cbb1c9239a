"""The NetSuite sandbox's fault injection, error codes, invariant checks and admin endpoints."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
import requests
from fastapi import HTTPException
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from lago_netsuite_dev.sandbox.netsuite import FaultConfig
from lago_netsuite_dev.sandbox.netsuite.admin import _loopback_only
from lago_netsuite_dev.sandbox.netsuite.store import jsonable
from tests.plugins.netsuite_sandbox import customer_record, invoice_record, payment_record


def results(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return response.json()["results"]


def one(response: requests.Response) -> tuple[str, str | None, str | None]:
    [result] = results(response)
    error = result["error"] or {}
    return result["status"], error.get("code"), error.get("message")


@pytest.fixture
def sandbox(netsuite_sandbox):
    netsuite_sandbox.seed_customer()
    return netsuite_sandbox


# -- call faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        pytest.param("throttle_400", 400, "SSS_REQUEST_LIMIT_EXCEEDED", id="throttle_400"),
        pytest.param("throttle_429", 429, "SSS_REQUEST_LIMIT_EXCEEDED", id="throttle_429"),
        pytest.param("http_5xx", 503, "UNEXPECTED_ERROR", id="http_5xx"),
    ],
)
def test_call_faults_answered_before_any_write(sandbox, kind, status, code):
    sandbox.set_faults(calls=[{"kind": kind, "calls": 1}])
    response = sandbox.post({"records": [invoice_record()]})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert sandbox.records("invoice") == []
    stats = sandbox.stats()
    assert stats["faults_injected"] == {kind: 1}
    assert stats["throttled"] == (1 if kind.startswith("throttle") else 0)
    assert one(sandbox.post({"records": [invoice_record()]}))[0] == "created"  # the script is used up


def test_lost_response_commits_then_drops_the_connection(sandbox):
    sandbox.set_faults(calls=[{"kind": "lost_response", "method": "POST"}])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sandbox.post({"records": [invoice_record()]})
    assert [r["externalId"] for r in sandbox.records("invoice")] == ["lago-invoice-1"]
    assert sandbox.stats()["calls"]["by_method_status"]["POST aborted"] == 1
    assert one(sandbox.post({"records": [invoice_record()]}))[0] == "existing"


def test_connection_reset_drops_before_processing(sandbox):
    sandbox.set_faults(calls=[{"kind": "connection_reset"}])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sandbox.post({"records": [invoice_record()]})
    assert sandbox.records("invoice") == []


def test_timeout_commits_only_after_holding_the_response(sandbox):
    sandbox.set_faults(calls=[{"kind": "timeout", "method": "POST"}], timeout_hold_s=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sandbox.post({"records": [invoice_record()]}, timeout=0.3)
    # Still being committed: invisible to look-ups, and a second write meets RCRD_HAS_BEEN_CHANGED.
    lookup = results(sandbox.get({"type": "invoice", "externalIds": "lago-invoice-1"}))
    assert lookup[0]["status"] == "missing"
    assert one(sandbox.post({"records": [invoice_record()]}))[:2] == ("failed", "RCRD_HAS_BEEN_CHANGED")
    deadline = time.monotonic() + 5
    while not sandbox.records("invoice") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r["externalId"] for r in sandbox.records("invoice")] == ["lago-invoice-1"]


def test_scripted_call_faults_honour_method_and_skip(sandbox):
    sandbox.set_faults(calls=[{"kind": "http_5xx", "method": "GET", "skip": 1, "calls": 2}])
    query = {"type": "invoice", "externalIds": "x"}
    assert [sandbox.get(query).status_code for _ in range(4)] == [200, 503, 503, 200]
    assert sandbox.post({"records": []}).status_code == 200


def test_random_faults_are_reproducible_for_a_seed(netsuite_sandbox_factory):
    def run() -> list[int]:
        sandbox = netsuite_sandbox_factory(faults=FaultConfig(seed=7, rates={"http_5xx": 0.3, "throttle_429": 0.2}))
        return [sandbox.get({"type": "invoice", "externalIds": "x"}).status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert {200, 429, 503} <= set(first)


# -- record faults ----------------------------------------------------------------------------------


def test_record_has_been_changed_once_then_created(sandbox):
    sandbox.set_faults(records=[{"kind": "rcrd_has_been_changed", "externalId": "lago-invoice-1"}])
    assert one(sandbox.post({"records": [invoice_record()]}))[:2] == ("failed", "RCRD_HAS_BEEN_CHANGED")
    assert one(sandbox.post({"records": [invoice_record()]}))[0] == "created"


def test_invalid_reference_and_record_error_faults(sandbox):
    sandbox.set_faults(records=[
        {"kind": "invalid_reference", "externalId": "lago-invoice-1"},
        {"kind": "invalid_reference", "externalId": "lago-invoice-2", "field": "item", "times": 2},
        {"kind": "record_error", "externalId": "lago-invoice-3", "code": "UNEXPECTED_ERROR"},
    ])
    answered = results(sandbox.post({"records": [invoice_record(f"lago-invoice-{n}") for n in (1, 2, 3)]}))
    assert [(r["error"]["code"], r["error"]["message"]) for r in answered] == [
        ("INVALID_KEY_OR_REF", "Invalid entity reference key 100."),
        ("INVALID_KEY_OR_REF", "Invalid item reference key 201."),
        ("UNEXPECTED_ERROR", "Injected error UNEXPECTED_ERROR."),
    ]
    assert sandbox.stats()["faults_injected"] == {"invalid_reference": 2, "record_error": 1}


# -- error codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        pytest.param(b"not json", "not valid JSON", id="not-json"),
        pytest.param(b'{"records": {}}', "records array", id="records-not-array"),
        pytest.param(b"[]", "records array", id="body-not-object"),
        pytest.param(b'{"records": [' + b",".join([b"{}"] * 501) + b"]}", "At most 500", id="over-batch-cap"),
        pytest.param(b'{"records": [{"amount": NaN}]}', "not valid JSON", id="nan"),
    ],
)
def test_malformed_requests_answer_invalid_request(sandbox, raw, message_part):
    response = sandbox.post(raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert message_part in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("record", "code", "message"),
    [
        pytest.param({"type": "invoice"}, "INVALID_FLD_VALUE", None, id="no-externalId"),
        pytest.param({"externalId": 7, "type": "invoice"}, "INVALID_FLD_VALUE", None, id="externalId-not-string"),
        pytest.param({"externalId": "x", "type": "vendorbill"}, "INVALID_RCRD_TYPE", None, id="unknown-type"),
        pytest.param({**invoice_record(), "action": "upsert"}, "INVALID_FLD_VALUE", None, id="unknown-action"),
        pytest.param(invoice_record(entity="999"), "INVALID_KEY_OR_REF", "Invalid entity reference key 999.",
                     id="unknown-customer"),
        pytest.param(invoice_record(entity={"$ref": "lago-customer-x"}), "INVALID_FLD_VALUE", None,
                     id="unresolved-ref"),
        pytest.param(invoice_record(trandate="2025-01-31"), "INVALID_FLD_VALUE", None, id="iso-date"),
        pytest.param(invoice_record(trandate="2/30/2025"), "INVALID_FLD_VALUE", None, id="impossible-date"),
        pytest.param({**invoice_record(), "isDynamic": "F"}, "INVALID_FLD_VALUE", None, id="isDynamic-not-bool"),
        pytest.param({**invoice_record(), "taxdetails": [{"lineItems": []}]}, "INVALID_FLD_VALUE", None,
                     id="sublist-without-id"),
        pytest.param(invoice_record(entity=""), "USER_ERROR", "Please enter value(s) for: entity.", id="no-customer"),
        pytest.param(invoice_record(item=""), "USER_ERROR", "Please enter value(s) for: item.", id="no-item"),
        pytest.param(invoice_record(item="999"), "INVALID_KEY_OR_REF", "Invalid item reference key 999.",
                     id="unknown-item"),
        pytest.param(invoice_record(currency="9"), "INVALID_KEY_OR_REF", "Invalid currency reference key 9.",
                     id="unknown-currency"),
        pytest.param(invoice_record(subsidiary="9"), "INVALID_KEY_OR_REF", "Invalid subsidiary reference key 9.",
                     id="unknown-subsidiary"),
        pytest.param(payment_record(doc="4242"), "INVALID_KEY_OR_REF", "Invalid doc reference key 4242.",
                     id="unknown-invoice-doc"),
        pytest.param(payment_record(customer="999"), "INVALID_KEY_OR_REF", "Invalid customer reference key 999.",
                     id="payment-unknown-customer"),
        pytest.param({"externalId": "lago-invoice-9", "type": "invoice", "action": "void"}, "RCRD_DSNT_EXIST",
                     None, id="void-missing"),
    ],
)
def test_per_record_error_codes(sandbox, record, code, message):
    sandbox.configure(valid_items=["201"], valid_currencies=["1"], valid_subsidiaries=["1"])
    status, got_code, got_message = one(sandbox.post({"records": [record]}))
    assert (status, got_code) == ("failed", code)
    if message:
        assert got_message == message
    assert sandbox.records("invoice") == []


def test_valid_references_are_accepted(sandbox):
    sandbox.configure(valid_items=["201"], valid_currencies=["1"], valid_subsidiaries=["1"])
    invoice = results(sandbox.post({"records": [invoice_record(subsidiary="1", trandate="1/31/2025")]}))[0]
    assert invoice["status"] == "created"
    assert one(sandbox.post({"records": [payment_record(doc=invoice["id"])]}))[0] == "created"


def test_apply_lines_need_an_open_invoice_of_the_same_customer(sandbox):
    sandbox.seed_customer("101", "lago-customer-c2")
    first, voided = results(sandbox.post({"records": [invoice_record("lago-invoice-1"),
                                                      invoice_record("lago-invoice-2")]}))
    sandbox.post({"records": [{"externalId": "lago-invoice-2", "type": "invoice", "action": "void"}]})
    refused = [payment_record("lago-payment-1", customer="101", doc=first["id"]),  # another customer's
               payment_record("lago-payment-2", doc=voided["id"]),  # voided
               payment_record("lago-payment-3", customer="999", doc=first["id"])]  # unknown customer
    assert [(r["error"]["code"], r["error"]["message"]) for r in results(sandbox.post({"records": refused}))] == [
        ("INVALID_KEY_OR_REF", f"Invalid doc reference key {first['id']}."),
        ("INVALID_KEY_OR_REF", f"Invalid doc reference key {voided['id']}."),
        ("INVALID_KEY_OR_REF", "Invalid customer reference key 999."),
    ]
    # An invoice created earlier in the same batch can be applied at once.
    batch = [invoice_record("lago-invoice-3"), payment_record("lago-payment-4", doc="$next")]
    batch[1]["lines"][0]["lineItems"][0]["doc"] = str(int(voided["id"]) + 1)
    assert [r["status"] for r in results(sandbox.post({"records": batch}))] == ["created", "created"]


# -- the invariant ----------------------------------------------------------------------------------


def test_negative_total_is_refused(sandbox):
    record = invoice_record(amounts=(5, -7.5))
    assert one(sandbox.post({"records": [record]})) == ("failed", "USER_ERROR", "total can not be negative")


@pytest.mark.parametrize(
    ("currency", "amount", "ok"),
    [("1", 7.5, True), ("1", 7.505, False), ("3", 750, True), ("3", 7.5, False), ("4", 1.234, True),
     ("4", 1.2345, False), ("5", 7.505, True)],
    ids=["EUR-2", "EUR-3", "JPY-0", "JPY-1", "KWD-3", "KWD-4", "unknown-currency-not-checked"],
)
def test_amounts_within_the_currency_decimals(sandbox, currency, amount, ok):
    sandbox.configure(currencies={"1": "EUR", "3": "JPY", "4": "KWD"})
    status, code, _ = one(sandbox.post({"records": [invoice_record(amounts=(amount,), currency=currency)]}))
    assert (status, code) == (("created", None) if ok else ("failed", "INVALID_FLD_VALUE"))


def test_tax_details_must_reference_a_line(sandbox):
    record = invoice_record(tax=1.5)
    record["taxdetails"][0]["lineItems"][0]["taxdetailsreference"] = "nope"
    assert one(sandbox.post({"records": [record]}))[:2] == ("failed", "INVALID_FLD_VALUE")


def test_oracle_checks_lines_plus_tax_exactly(netsuite_sandbox_factory):
    expected = {("invoice", "i1"): Decimal("0.45"), ("invoice", "i2"): Decimal("0.45"),
                ("invoice", "i3"): Decimal("12"), ("payment", "p1"): Decimal("10")}
    sandbox = netsuite_sandbox_factory(expected_totals=lambda kind, lago_id: expected.get((kind, lago_id)))
    sandbox.seed_customer()
    batch = [
        invoice_record("lago-invoice-i1", amounts=(0.1, 0.2), tax=0.15),  # exact in Decimal, not in float
        invoice_record("lago-invoice-i2", amounts=(0.1, 0.2), tax=0.16),
        invoice_record("lago-invoice-i3", amounts=(10,), tax_override=2),  # legacy tax mode
        invoice_record("lago-invoice-i4", amounts=(1,)),  # the oracle has no figure: not checked
    ]
    answered = results(sandbox.post({"records": batch}))
    assert [r["status"] for r in answered] == ["created", "failed", "created", "created"]
    assert answered[1]["error"] == {
        "code": "LAGO_TOTAL_MISMATCH", "message": "lines + tax = 0.46 but the Lago invoice i2 total is 0.45."}
    payments = [payment_record("lago-payment-p1", payment=10, doc=answered[2]["id"]),
                payment_record("lago-payment-p1", payment=9.99, doc=answered[2]["id"])]
    assert one(sandbox.post({"records": payments[1:]}))[1] == "LAGO_TOTAL_MISMATCH"
    assert one(sandbox.post({"records": payments[:1]}))[0] == "created"


# -- admin endpoints --------------------------------------------------------------------------------


def test_admin_config_seed_reset_and_stats(sandbox):
    view = sandbox.configure(latency_per_call_ms=5, valid_items=["201"], faults={"rates": {"http_5xx": 0.1}})
    assert view["latency_per_call_ms"] == 5 and view["valid_items"] == ["201"]
    assert "consumer_secret" not in str(view) and sandbox.config.consumer_secret not in str(view)
    bad = sandbox.session.post(f"{sandbox.url}/_sandbox/config", json={"consumer_secret": "x"}, timeout=5)
    assert bad.status_code == 400
    sandbox.seed({"type": "invoice", "externalId": "lago-invoice-old", "id": "5000", "voided": True})
    assert [r["id"] for r in sandbox.records()] == ["100", "5000"]
    assert sandbox.records("invoice")[0]["voided"] is True
    sandbox.reset()
    assert sandbox.records() == []
    assert sandbox.admin("GET", "config")["latency_per_call_ms"] == 0
    assert sandbox.stats()["calls"]["total"] == 0


@pytest.mark.parametrize(("host", "allowed"), [("127.0.0.1", True), ("::1", True), ("10.1.2.3", False)])
def test_admin_endpoints_answer_loopback_clients_only(host, allowed):
    request = Request({"type": "http", "method": "GET", "path": "/_sandbox/stats", "headers": [],
                       "client": (host, 4000)})
    if allowed:
        _loopback_only(request)
    else:
        with pytest.raises(HTTPException) as raised:
            _loopback_only(request)
        assert raised.value.status_code == 403


def test_fault_config_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown call fault"):
        FaultConfig.from_dict({"calls": [{"kind": "meteor"}]})
    with pytest.raises(ValueError, match="needs a code"):
        FaultConfig.from_dict({"records": [{"kind": "record_error", "externalId": "x"}]})
    with pytest.raises(ValueError, match="add up"):
        FaultConfig(rates={"http_5xx": 0.7, "timeout": 0.5})
    assert FaultConfig.from_dict(FaultConfig(calls=[], rates={"timeout": 0.1}).to_dict()).rates == {"timeout": 0.1}


def test_customer_create(sandbox):
    sandbox.configure(valid_subsidiaries=["1"])
    assert one(sandbox.post({"records": [customer_record(subsidiary="1")]}))[0] == "created"
    assert one(sandbox.post({"records": [customer_record("lago-customer-c3", subsidiary="2")]}))[1] == \
        "INVALID_KEY_OR_REF"


@pytest.mark.parametrize(("columns", "field"), [
    pytest.param({"email": "a@x.example, b@y.example"}, "email", id="email-two-addresses"),
    pytest.param({"email": "not-an-address"}, "email", id="email-malformed"),
    pytest.param({"altemail": "josé@x.example"}, "altemail", id="altemail-non-ascii"),
    pytest.param({"email": "a" * 250 + "@x.example"}, "email", id="email-over-254"),
    pytest.param({"phone": "555-01"}, "phone", id="phone-six-digits"),
    pytest.param({"phone": "+1 555 0100 " + "1" * 30}, "phone", id="phone-over-32"),
    pytest.param({"phone": "call reception"}, "phone", id="phone-letters"),
    pytest.param({"companyname": "C" * 84}, "companyname", id="companyname-over-83"),
    pytest.param({"isperson": "T", "firstname": "F" * 33, "lastname": "L"}, "firstname", id="firstname-over-32"),
])
def test_customer_fields_netsuite_refuses(sandbox, columns, field):
    status, code, message = one(sandbox.post({"records": [customer_record(**columns)]}))
    assert (status, code) == ("failed", "INVALID_FLD_VALUE") and f"following field: {field} (" in message
    assert "lago-customer-c2" not in {r["externalId"] for r in sandbox.records("customer")}


def test_customer_fields_netsuite_accepts(sandbox):
    columns = {"email": "billing@x.example", "altemail": "o'neil+ap@mail.y.example", "phone": "+1 (555) 010-0100 x23"}
    assert one(sandbox.post({"records": [customer_record(**columns)]}))[0] == "created"


def test_oracle_can_be_set_through_the_admin_endpoint(sandbox):
    view = sandbox.configure(expected_totals={"invoice:i1": "7.50"})
    assert view["oracle"] is True
    assert one(sandbox.post({"records": [invoice_record("lago-invoice-i1", amounts=(7.49,))]}))[1] == \
        "LAGO_TOTAL_MISMATCH"
    assert one(sandbox.post({"records": [invoice_record("lago-invoice-i1", amounts=(7.5,))]}))[0] == "created"
    assert sandbox.configure(expected_totals=None)["oracle"] is False


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**11, max_value=10**11))
def test_records_endpoint_serves_amounts_with_their_exact_digits(amount):
    served = json.dumps(jsonable({"amount": amount}))
    assert json.loads(served, parse_float=Decimal)["amount"] == amount
