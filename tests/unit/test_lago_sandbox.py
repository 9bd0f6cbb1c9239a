"""The Lago sandbox answers like Lago's API: auth, pagination, filters, shapes, errors, 429, admin."""

from __future__ import annotations

import time

import pytest
import requests

from tests.plugins.lago_sandbox import LagoSandbox

UNAUTHORIZED = {"status": 401, "error": "Unauthorized"}


def _all(sandbox: LagoSandbox, path: str, params: dict | list | None = None, per_page: int = 100) -> list[dict]:
    name = path.rsplit("/", 1)[-1]
    out, page = [], 1
    while page:
        query = list((params or {}).items()) if isinstance(params, dict) else list(params or [])
        body = sandbox.get(path, query + [("page", page), ("per_page", per_page)]).json()
        out += body[name]
        page = body["meta"]["next_page"]
    return out


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "lago-sandbox-test-key"},
        {"Authorization": "Basic bGFnbw=="},
    ],
    ids=["no-header", "wrong-key", "no-bearer", "basic-auth"],
)
def test_requests_without_the_key_get_401(lago_sandbox: LagoSandbox, headers: dict) -> None:
    response = requests.get(f"{lago_sandbox.url}/invoices", headers=headers, timeout=5)
    assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert "X-RateLimit-Limit" not in response.headers


def test_pages_follow_lagos_meta_and_order(lago_sandbox: LagoSandbox) -> None:
    first = lago_sandbox.get("invoices", {"per_page": 7}).json()
    total = len(lago_sandbox.dataset.invoices)
    assert first["meta"] == {
        "current_page": 1,
        "next_page": 2,
        "prev_page": None,
        "total_pages": -(-total // 7),
        "total_count": total,
    }
    invoices = _all(lago_sandbox, "invoices", per_page=7)
    assert len(invoices) == total and len({i["lago_id"] for i in invoices}) == total
    keys = [(i["issuing_date"], i["created_at"]) for i in invoices]
    assert keys == sorted(keys, reverse=True)  # newest first
    last = lago_sandbox.get("invoices", {"per_page": 7, "page": first["meta"]["total_pages"]}).json()["meta"]
    assert last["next_page"] is None and last["prev_page"] == last["current_page"] - 1
    beyond = lago_sandbox.get("invoices", {"page": 999}).json()
    assert beyond["invoices"] == [] and beyond["meta"]["next_page"] is None
    assert lago_sandbox.get("invoices").json()["meta"]["total_pages"] == -(-total // 100)  # per_page 100 by default


@pytest.mark.parametrize("path", ["credit_notes", "payments"], ids=lambda p: p)
def test_other_documents_are_listed_newest_created_first(lago_sandbox: LagoSandbox, path: str) -> None:
    docs = _all(lago_sandbox, path, per_page=50)
    assert len(docs) == len(getattr(lago_sandbox.dataset, path))
    stamps = [d["created_at"] for d in docs]
    assert stamps == sorted(stamps, reverse=True)


INVOICE_FILTERS = [
    (
        {"issuing_date_from": "2025-02-01", "issuing_date_to": "2025-02-10"},
        lambda i: "2025-02-01" <= i["issuing_date"] <= "2025-02-10",
    ),
    ({"issuing_date_from": "2025-03-15"}, lambda i: i["issuing_date"] >= "2025-03-15"),
    ({"issuing_date_to": "2025-01-05"}, lambda i: i["issuing_date"] <= "2025-01-05"),
    ([("statuses[]", "voided")], lambda i: i["status"] == "voided"),
    ([("statuses[]", "draft"), ("statuses[]", "failed")], lambda i: i["status"] in ("draft", "failed")),
    ({"status": "pending"}, lambda i: i["status"] == "pending"),
    ([("payment_statuses[]", "failed")], lambda i: i["payment_status"] == "failed"),
    ({"external_customer_id": "cust-00003"}, lambda i: i["customer"]["external_id"] == "cust-00003"),
    ({"currency": "JPY"}, lambda i: i["currency"] == "JPY"),
    ({"invoice_type": "progressive_billing"}, lambda i: i["invoice_type"] == "progressive_billing"),
    (
        [("billing_entity_codes[]", "acme_kw"), ("billing_entity_codes[]", "acme_jp")],
        lambda i: i["billing_entity_code"] in ("acme_kw", "acme_jp"),
    ),
    ({"amount_from": 100000, "amount_to": 500000}, lambda i: 100000 <= i["total_amount_cents"] <= 500000),
]


@pytest.mark.parametrize(
    ("params", "expected"),
    INVOICE_FILTERS,
    ids=[
        "date-window",
        "date-from",
        "date-to",
        "voided",
        "draft-or-failed",
        "status-alias",
        "payment-failed",
        "customer",
        "currency",
        "invoice-type",
        "billing-entities",
        "amount",
    ],
)
def test_invoice_filters(lago_sandbox: LagoSandbox, params, expected) -> None:
    got = _all(lago_sandbox, "invoices", params)
    want = [i["lago_id"] for i in lago_sandbox.dataset.invoices if expected(i)]
    assert want and sorted(i["lago_id"] for i in got) == sorted(want)


def test_search_term_finds_documents_by_number_and_customer(lago_sandbox: LagoSandbox) -> None:
    invoice = next(i for i in lago_sandbox.dataset.invoices if i["status"] == "finalized")
    found = lago_sandbox.get("invoices", {"search_term": invoice["number"].lower()}).json()["invoices"]
    assert [i["lago_id"] for i in found] == [invoice["lago_id"]]
    external_id = invoice["customer"]["external_id"]
    by_customer = _all(lago_sandbox, "invoices", {"search_term": external_id})
    assert {i["customer"]["external_id"] for i in by_customer} == {external_id}
    note = lago_sandbox.dataset.credit_notes[0]
    notes = lago_sandbox.get("credit_notes", {"search_term": note["number"]}).json()["credit_notes"]
    assert [n["lago_id"] for n in notes] == [note["lago_id"]]


def test_invoice_filter_errors(lago_sandbox: LagoSandbox) -> None:
    unknown = lago_sandbox.get("invoices", [("billing_entity_codes[]", "acme_us"), ("billing_entity_codes[]", "nope")])
    assert unknown.status_code == 404
    assert unknown.json() == {"status": 404, "error": "Not Found", "code": "billing_entity_not_found"}
    bad_date = lago_sandbox.get("invoices", {"issuing_date_from": "2025-13-01"})
    assert bad_date.status_code == 422 and bad_date.json()["error_details"] == {"issuing_date_from": ["invalid_date"]}
    bad_status = lago_sandbox.get("invoices", [("statuses[]", "paid")])
    assert bad_status.status_code == 422 and bad_status.json()["code"] == "validation_errors"


CREDIT_NOTE_FILTERS = [
    (
        {"issuing_date_from": "2025-02-15", "issuing_date_to": "2025-03-10"},
        lambda n: "2025-02-15" <= n["issuing_date"] <= "2025-03-10",
    ),
    ({"currency": "EUR"}, lambda n: n["currency"] == "EUR"),
    ([("billing_entity_codes[]", "acme_us")], lambda n: n["billing_entity_code"] == "acme_us"),
]


@pytest.mark.parametrize(("params", "expected"), CREDIT_NOTE_FILTERS, ids=["date-window", "currency", "entity"])
def test_credit_note_filters(lago_sandbox: LagoSandbox, params, expected) -> None:
    got = _all(lago_sandbox, "credit_notes", params)
    want = [n["lago_id"] for n in lago_sandbox.dataset.credit_notes if expected(n)]
    assert want and sorted(n["lago_id"] for n in got) == sorted(want)


def test_credit_note_and_payment_filters_by_customer_and_invoice(lago_sandbox: LagoSandbox) -> None:
    note = lago_sandbox.dataset.credit_notes[0]
    customer = note["customer"]["external_id"]
    got = _all(lago_sandbox, "credit_notes", {"external_customer_id": customer})
    assert {n["lago_id"] for n in got} == {
        n["lago_id"] for n in lago_sandbox.dataset.credit_notes if n["customer"]["external_id"] == customer
    }
    payment = lago_sandbox.dataset.payments[0]
    by_invoice = _all(lago_sandbox, "payments", {"invoice_id": payment["invoice_ids"][0]})
    assert payment["lago_id"] in {p["lago_id"] for p in by_invoice}
    assert all(payment["invoice_ids"][0] in p["invoice_ids"] for p in by_invoice)
    by_customer = _all(lago_sandbox, "payments", {"external_customer_id": payment["external_customer_id"]})
    assert {p["lago_id"] for p in by_customer} == {
        p["lago_id"]
        for p in lago_sandbox.dataset.payments
        if p["external_customer_id"] == payment["external_customer_id"]
    }


def test_invoice_list_leaves_out_fees_and_show_has_them(lago_sandbox: LagoSandbox) -> None:
    listed = lago_sandbox.get("invoices", {"per_page": 5}).json()["invoices"][0]
    for key in ("fees", "credits", "subscriptions", "billing_periods"):
        assert key not in listed
    assert {"customer", "applied_taxes", "metadata"} <= set(listed)
    assert listed["customer"]["integration_customers"] is not None
    shown = lago_sandbox.get(f"invoices/{listed['lago_id']}").json()["invoice"]
    assert shown["fees"] and "credits" in shown and "subscriptions" in shown
    assert {k: v for k, v in shown.items() if k in listed} == listed
    note = lago_sandbox.get("credit_notes", {"per_page": 1}).json()["credit_notes"][0]
    assert note["items"] and "applied_taxes" in note and note["items"][0]["fee"]["lago_id"]


SHOWS = [
    ("invoices", "invoice", "lago_id"),
    ("credit_notes", "credit_note", "lago_id"),
    ("payments", "payment", "lago_id"),
    ("customers", "customer", "external_id"),
    ("plans", "plan", "code"),
    ("taxes", "tax", "code"),
    ("coupons", "coupon", "code"),
    ("add_ons", "add_on", "code"),
    ("billable_metrics", "billable_metric", "code"),
    ("billing_entities", "billing_entity", "code"),
    ("wallets", "wallet", "lago_id"),
]


@pytest.mark.parametrize(("path", "singular", "key"), SHOWS, ids=[s[0] for s in SHOWS])
def test_show_and_not_found(lago_sandbox: LagoSandbox, path: str, singular: str, key: str) -> None:
    doc = getattr(lago_sandbox.dataset, path)[0]
    assert lago_sandbox.get(f"{path}/{doc[key]}").json() == {singular: doc}
    missing = lago_sandbox.get(f"{path}/does-not-exist")
    assert missing.status_code == 404
    assert missing.json() == {"status": 404, "error": "Not Found", "code": f"{singular}_not_found"}


@pytest.mark.parametrize(
    "path", ["plans", "taxes", "coupons", "add_ons", "billable_metrics", "customers", "wallets"], ids=lambda p: p
)
def test_catalog_lists_are_paginated(lago_sandbox: LagoSandbox, path: str) -> None:
    body = lago_sandbox.get(path, {"per_page": 2}).json()
    expected = getattr(lago_sandbox.dataset, path)
    assert body["meta"]["total_count"] == len(expected) and len(body[path]) == min(2, len(expected))
    assert {d["lago_id"] for d in _all(lago_sandbox, path, per_page=3)} == {d["lago_id"] for d in expected}


def test_billing_entities_are_not_paginated(lago_sandbox: LagoSandbox) -> None:
    body = lago_sandbox.get("billing_entities").json()
    assert set(body) == {"billing_entities"}
    assert {e["code"] for e in body["billing_entities"]} == {"acme_us", "acme_eu", "acme_jp", "acme_kw"}


def test_unknown_routes_and_methods(lago_sandbox: LagoSandbox) -> None:
    assert lago_sandbox.get("nothing_here").json()["code"] == "route_not_found"
    post = requests.post(
        f"{lago_sandbox.url}/invoices", headers={"Authorization": f"Bearer {lago_sandbox.api_key}"}, timeout=5
    )
    assert post.status_code == 405 and post.json()["error"] == "Method Not Allowed"


def test_rate_limit_answers_429_with_headers(lago_sandbox: LagoSandbox) -> None:
    lago_sandbox.configure(rate_limit_per_s=3)
    time.sleep(1 - time.time() % 1 + 0.01)  # start at the beginning of a one-second window
    responses = [lago_sandbox.get("taxes") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["X-RateLimit-Limit"] == "3" and responses[0].headers["X-RateLimit-Remaining"] == "2"
    throttled = responses[3]
    assert throttled.headers["X-RateLimit-Remaining"] == "0" and int(throttled.headers["X-RateLimit-Reset"]) >= 1
    assert throttled.json()["status"] == 429
    assert lago_sandbox.stats()["throttled"] == 1
    time.sleep(int(throttled.headers["X-RateLimit-Reset"]))
    assert lago_sandbox.get("taxes").status_code == 200


def test_self_hosted_lago_sends_no_rate_limit_headers(lago_sandbox: LagoSandbox) -> None:
    lago_sandbox.configure(send_rate_limit_headers=False, rate_limit_per_s=1)
    time.sleep(1 - time.time() % 1 + 0.01)
    first, second = lago_sandbox.get("taxes"), lago_sandbox.get("taxes")
    assert (first.status_code, second.status_code) == (200, 429)
    assert not any(h.lower().startswith("x-ratelimit") for h in second.headers)


def test_injected_faults_then_recovery(lago_sandbox: LagoSandbox) -> None:
    lago_sandbox.configure(fail_next=2, fail_status=503)
    statuses = [lago_sandbox.get("plans").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    stats = lago_sandbox.stats()
    assert stats["requests"]["GET /plans"] == {"503": 2, "200": 1} and stats["faults_injected"] == 2


def test_void_and_replace_documents(lago_sandbox: LagoSandbox) -> None:
    invoice = next(i for i in lago_sandbox.dataset.invoices if i["status"] == "finalized")
    voided = lago_sandbox.admin("POST", f"invoices/{invoice['lago_id']}/void")["invoice"]
    shown = lago_sandbox.get(f"invoices/{invoice['lago_id']}").json()["invoice"]
    assert shown["status"] == "voided" and shown["voided_at"] == voided["voided_at"]
    assert shown["updated_at"] > invoice["updated_at"]
    assert invoice["status"] == "finalized"  # the dataset itself is untouched
    listed = _all(lago_sandbox, "invoices", [("statuses[]", "voided")])
    assert invoice["lago_id"] in {i["lago_id"] for i in listed}

    note = lago_sandbox.dataset.credit_notes[0]
    answer = lago_sandbox.admin("POST", "documents/credit_notes", {**note, "refund_status": "succeeded"})
    assert answer["replaced"] is True and answer["updated_at"] > note["updated_at"]
    assert lago_sandbox.get(f"credit_notes/{note['lago_id']}").json()["credit_note"]["refund_status"] == "succeeded"

    customer = lago_sandbox.dataset.customers[0]
    lago_sandbox.admin("POST", "documents/customers", {**customer, "name": "Renamed Société"})
    assert lago_sandbox.get(f"customers/{customer['external_id']}").json()["customer"]["name"] == "Renamed Société"
    theirs = _all(lago_sandbox, "invoices", {"external_customer_id": customer["external_id"]})
    assert theirs and all(i["customer"]["name"] == "Renamed Société" for i in theirs)

    payment = {**lago_sandbox.dataset.payments[0], "lago_id": "0b0b0b0b-0000-4000-8000-000000000001"}
    assert lago_sandbox.admin("POST", "documents/payments", payment)["replaced"] is False
    assert lago_sandbox.get(f"payments/{payment['lago_id']}").status_code == 200
    lago_sandbox.admin("DELETE", f"documents/payments/{payment['lago_id']}")
    assert lago_sandbox.get(f"payments/{payment['lago_id']}").status_code == 404

    lago_sandbox.admin("POST", "reset", {"stats": False, "config": False})
    assert lago_sandbox.get(f"invoices/{invoice['lago_id']}").json()["invoice"]["status"] == "finalized"


def test_new_invoices_shift_pages_during_a_crawl(lago_sandbox: LagoSandbox) -> None:
    total = len(lago_sandbox.dataset.invoices)
    lago_sandbox.configure(shift_on_list=True)
    first = lago_sandbox.get("invoices", {"per_page": 10}).json()
    second = lago_sandbox.get("invoices", {"per_page": 10, "page": 2}).json()
    assert first["meta"]["total_count"] == total + 1 and second["meta"]["total_count"] == total + 2
    # the last invoice of page 1 shows up again at the top of page 2: pages shifted by one
    assert second["invoices"][0]["lago_id"] == first["invoices"][-1]["lago_id"]
    spawned = first["invoices"][0]
    assert spawned["lago_id"] not in {i["lago_id"] for i in lago_sandbox.dataset.invoices}
    assert lago_sandbox.stats()["spawned_invoices"] == 2
    new = lago_sandbox.admin("POST", "invoices/spawn")["invoice"]
    assert lago_sandbox.get(f"invoices/{new['lago_id']}").json()["invoice"]["fees"]


def test_admin_validates_its_input(lago_sandbox: LagoSandbox) -> None:
    bad = requests.post(f"{lago_sandbox.root}/_sandbox/config", json={"rate_limit": 3}, timeout=5)
    assert bad.status_code == 422
    unknown = requests.post(f"{lago_sandbox.root}/_sandbox/documents/plans", json={"code": "x"}, timeout=5)
    assert unknown.status_code == 404
    missing = requests.post(f"{lago_sandbox.root}/_sandbox/invoices/nope/void", timeout=5)
    assert missing.status_code == 404


def test_stats_count_requests_by_endpoint_and_status(lago_sandbox: LagoSandbox) -> None:
    invoice = lago_sandbox.dataset.invoices[0]
    lago_sandbox.get("invoices")
    lago_sandbox.get(f"invoices/{invoice['lago_id']}")
    lago_sandbox.get("invoices", api_key="wrong")
    stats = lago_sandbox.stats()
    assert stats["requests"] == {"GET /invoices": {"200": 1, "401": 1}, "GET /invoices/{lago_id}": {"200": 1}}
    assert stats["total"] == 3 and stats["by_status"] == {"200": 2, "401": 1}
    assert all("wrong" not in str(call) for call in stats["recent"])


def test_a_large_dataset_pages_quickly(lago_sandbox: LagoSandbox) -> None:
    """Paging re-uses the filtered selection: every page after the first is a slice."""
    state = lago_sandbox.state
    invoices = state.collections["invoices"]
    key, predicate, window = ("probe",), (lambda d: d["currency"] == "USD"), None
    first = invoices.select(key, predicate, window)
    assert invoices.select(key, predicate, window) is first
