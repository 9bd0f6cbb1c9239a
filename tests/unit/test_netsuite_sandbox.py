"""The NetSuite RESTlet sandbox over real HTTP: auth, find-or-create, limits, usage, faults, checks."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import requests

from lago_netsuite_dev.sandbox.netsuite.auth import NonceCache
from tests.plugins.netsuite_sandbox import (
    CREDENTIALS,
    customer_record,
    invoice_record,
)

INVALID_LOGIN = {"error": {"code": "INVALID_LOGIN_ATTEMPT", "message": "Invalid login attempt."}}


def results(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return response.json()["results"]


def statuses(response: requests.Response) -> list[str]:
    return [r["status"] for r in results(response)]


def error_codes(response: requests.Response) -> list[str | None]:
    return [(r["error"] or {}).get("code") for r in results(response)]


# -- authentication ---------------------------------------------------------------------------------


def test_good_signature_with_64_character_keys_is_accepted(netsuite_sandbox):
    assert all(len(value) == 64 for value in CREDENTIALS.values())
    response = netsuite_sandbox.get({"type": "invoice", "externalIds": "lago-invoice-1"})
    assert results(response) == [{"externalId": "lago-invoice-1", "status": "missing", "id": None}]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"client_secret": "0" * 64}, "signature", id="wrong-consumer-secret"),
        pytest.param({"resource_owner_secret": "0" * 64}, "signature", id="wrong-token-secret"),
        pytest.param({"client_key": "0" * 64}, "consumer_key", id="wrong-consumer-key"),
        pytest.param({"resource_owner_key": "0" * 64}, "token", id="wrong-token-id"),
        pytest.param({"realm": "1234567_sb1"}, "realm", id="lower-case-realm"),
        pytest.param({"realm": None}, "realm", id="no-realm"),
        pytest.param({"signature_method": "HMAC-SHA1"}, "signature_method", id="sha1-refused"),
        pytest.param({"signature_method": "HMAC-SHA512"}, "signature_method", id="sha512-refused"),
        pytest.param({"timestamp": -302}, "timestamp", id="clock-302s-behind"),
        pytest.param({"timestamp": +302}, "timestamp", id="clock-302s-ahead"),
    ],
)
def test_bad_credentials_answer_invalid_login_attempt(netsuite_sandbox, overrides, reason):
    if "timestamp" in overrides:  # an offset from now, resolved when the test runs
        overrides = {"timestamp": str(int(time.time()) + overrides["timestamp"])}
    response = netsuite_sandbox.post({"records": [customer_record()]}, auth=netsuite_sandbox.auth(**overrides))
    assert response.status_code == 401
    assert response.json() == INVALID_LOGIN
    assert netsuite_sandbox.stats()["auth_failures"] == {reason: 1}
    assert netsuite_sandbox.records() == []


def test_clock_within_skew_is_accepted(netsuite_sandbox):
    auth = netsuite_sandbox.auth(timestamp=str(int(time.time()) - 290))
    assert netsuite_sandbox.get({"type": "customer", "externalIds": "x"}, auth=auth).status_code == 200


def test_replayed_nonce_is_refused(netsuite_sandbox):
    auth = netsuite_sandbox.auth(nonce="n" * 32, timestamp=str(int(time.time())))
    first = netsuite_sandbox.get({"type": "customer", "externalIds": "x"}, auth=auth)
    again = netsuite_sandbox.get({"type": "customer", "externalIds": "x"}, auth=auth)
    assert (first.status_code, again.status_code) == (200, 401)
    assert again.json() == INVALID_LOGIN
    assert netsuite_sandbox.stats()["auth_failures"] == {"nonce_replayed": 1}


def test_missing_or_malformed_authorization_is_refused(netsuite_sandbox):
    url, params = netsuite_sandbox.restlet_url, netsuite_sandbox.params(type="customer", externalIds="x")
    assert requests.get(url, params=params, timeout=5).status_code == 401
    bad = requests.get(url, params=params, headers={"Authorization": "OAuth garbage"}, timeout=5)
    assert bad.status_code == 401 and bad.json() == INVALID_LOGIN


def test_query_parameters_are_in_the_signature(netsuite_sandbox):
    """A signature made for other query parameters (here another deploy) does not verify."""
    request = requests.Request(
        "GET", netsuite_sandbox.restlet_url, auth=netsuite_sandbox.auth(),
        params=netsuite_sandbox.params(type="customer", externalIds="x"),
    ).prepare()
    request.url = request.url.replace("externalIds=x", "externalIds=y")
    assert netsuite_sandbox.session.send(request, timeout=5).status_code == 401
    assert netsuite_sandbox.stats()["auth_failures"] == {"signature": 1}


def test_wrong_script_or_deploy_is_refused_after_auth(netsuite_sandbox):
    response = netsuite_sandbox.post({"records": []}, params=netsuite_sandbox.params(deploy="customdeploy_other"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "SSS_INVALID_SCRIPTLET_ID"


def test_nonce_cache_is_bounded_without_opening_a_replay_window():
    cache = NonceCache(window_s=300, max_entries=2)
    now = 1_000_000
    assert cache.accept("ck", "tk", "a", now - 10, now)
    assert cache.accept("ck", "tk", "b", now - 5, now)
    assert cache.accept("ck", "tk", "c", now, now)  # evicts "a" and raises the floor to now - 10
    assert len(cache) == 2
    assert not cache.accept("ck", "tk", "a", now - 10, now)  # at the floor: refused, not replayable
    assert not cache.accept("ck", "tk", "b", now - 5, now)
    assert cache.accept("ck", "tk2", "a", now - 10, now)  # another token has its own floor
    assert cache.accept("ck", "tk", "d", now + 400, now + 400)  # old entries pruned by timestamp
    assert len(cache) <= 2


# -- find-or-create ---------------------------------------------------------------------------------


def test_create_then_existing_and_the_record_is_kept(netsuite_sandbox):
    netsuite_sandbox.seed_customer()
    record = invoice_record(amounts=(7.5, 0.1, 0.2), tax=1.5)
    first = results(netsuite_sandbox.post({"records": [record]}))
    again = results(netsuite_sandbox.post({"records": [record]}))
    assert first == [{"externalId": "lago-invoice-1", "status": "created", "id": first[0]["id"], "error": None}]
    assert again == [{"externalId": "lago-invoice-1", "status": "existing", "id": first[0]["id"], "error": None}]
    [stored] = netsuite_sandbox.stored("invoice")
    assert (stored.lines_total, stored.tax_total, stored.total) == ("7.8", "1.5", "9.3")
    assert stored.body["lines"][0]["lineItems"][1]["amount"] == Decimal("0.1")
    assert stored.voided is False and stored.created_at
    [served] = netsuite_sandbox.records("invoice")
    assert served["body"] == record and served["total"] == "9.3"
    assert netsuite_sandbox.stats()["duplicates_prevented"] == 1


def test_results_follow_request_order(netsuite_sandbox):
    netsuite_sandbox.seed_customer()
    batch = [invoice_record("lago-invoice-a"), {"type": "invoice"}, customer_record(),
             invoice_record("lago-invoice-a"), invoice_record("lago-invoice-b", entity="999")]
    answered = results(netsuite_sandbox.post({"records": batch}))
    assert [r["externalId"] for r in answered] == [
        "lago-invoice-a", None, "lago-customer-c2", "lago-invoice-a", "lago-invoice-b"]
    assert [r["status"] for r in answered] == ["created", "failed", "created", "existing", "failed"]
    assert answered[3]["id"] == answered[0]["id"]


def test_parallel_identical_requests_never_create_two(netsuite_sandbox_factory):
    sandbox = netsuite_sandbox_factory(concurrency_limit=20, latency_per_record_ms=100)
    sandbox.seed_customer()
    body = {"records": [invoice_record()]}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: results(sandbox.post(body, auth=sandbox.auth())), range(8)))
    flat = [a[0] for a in answers]
    assert [r["status"] for r in flat].count("created") == 1
    for result in flat:
        assert result["status"] == "created" or result["error"]["code"] == "RCRD_HAS_BEEN_CHANGED" \
            or result["status"] == "existing"
    assert len(sandbox.records("invoice")) == 1
    assert sandbox.stats()["duplicates_prevented"] == 7


def test_lookup_answers_in_order_and_caps_ids(netsuite_sandbox):
    netsuite_sandbox.seed({"type": "invoice", "id": "9812", "externalId": "lago-invoice-1"})
    response = netsuite_sandbox.get({"type": "invoice", "externalIds": "lago-invoice-2,lago-invoice-1"})
    assert results(response) == [{"externalId": "lago-invoice-2", "status": "missing", "id": None},
                                 {"externalId": "lago-invoice-1", "status": "existing", "id": "9812"}]
    assert netsuite_sandbox.get({"type": "creditmemo", "externalIds": "lago-invoice-1"}).json()["results"][0][
        "status"] == "missing"
    too_many = ",".join(f"lago-invoice-{n}" for n in range(101))
    for query in ({"type": "invoice", "externalIds": too_many}, {"type": "invoice"}, {"externalIds": "x"},
                  {"type": "nope", "externalIds": "x"}):
        response = netsuite_sandbox.get(query)
        assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_REQUEST"


def test_void(netsuite_sandbox):
    netsuite_sandbox.seed_customer()
    created = results(netsuite_sandbox.post({"records": [invoice_record()]}))[0]
    void = {"externalId": "lago-invoice-1", "type": "invoice", "action": "void"}
    assert results(netsuite_sandbox.post({"records": [void, void]})) == [
        {"externalId": "lago-invoice-1", "status": "voided", "id": created["id"], "error": None}] * 2
    assert netsuite_sandbox.records("invoice")[0]["voided"] is True
    missing = results(netsuite_sandbox.post({"records": [{**void, "externalId": "lago-invoice-2"}]}))[0]
    assert (missing["status"], missing["error"]["code"]) == ("failed", "RCRD_DSNT_EXIST")
    customer = results(netsuite_sandbox.post(
        {"records": [{"externalId": "lago-customer-c1", "type": "customer", "action": "void"}]}))[0]
    assert (customer["status"], customer["error"]["code"]) == ("failed", "INVALID_RCRD_TYPE")


# -- account limits and latency ---------------------------------------------------------------------


def test_concurrency_limit_answers_at_once(netsuite_sandbox_factory):
    sandbox = netsuite_sandbox_factory(concurrency_limit=2, latency_per_call_ms=400)

    def call(_: int) -> tuple[int, float, str | None]:
        start = time.monotonic()
        response = sandbox.get({"type": "customer", "externalIds": "x"}, auth=sandbox.auth())
        code = response.json().get("error", {}).get("code") if response.status_code != 200 else None
        return response.status_code, time.monotonic() - start, code

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(call, range(4)))
    refused = [a for a in answers if a[0] == 400]
    assert len(refused) == 2 and all(a[2] == "SSS_REQUEST_LIMIT_EXCEEDED" and a[1] < 0.3 for a in refused)
    stats = sandbox.stats()
    assert (stats["throttled"], stats["max_concurrency_seen"], stats["in_flight"]) == (2, 2, 0)


def test_latency_per_call_plus_per_record_without_blocking(netsuite_sandbox_factory):
    sandbox = netsuite_sandbox_factory(latency_per_call_ms=100, latency_per_record_ms=50, concurrency_limit=5)
    sandbox.seed_customer()
    body = {"records": [invoice_record(f"lago-invoice-{n}") for n in range(4)]}
    start = time.monotonic()
    assert statuses(sandbox.post(body)) == ["created"] * 4
    single = time.monotonic() - start
    assert single >= 0.3  # 100 ms + 4 x 50 ms
    start = time.monotonic()
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda n: sandbox.post({"records": [invoice_record(f"lago-invoice-p{n}")] * 4},
                                             auth=sandbox.auth()), range(5)))
    assert time.monotonic() - start < 5 * 0.3  # five calls overlapped instead of queueing


def test_usage_below_reserve_defers_the_tail(netsuite_sandbox_factory):
    # 5000-unit calls are too big for a unit test; 200 units with a 100 reserve and 40 per invoice
    # process three invoices (200 -> 160 -> 120 -> 80) and defer the rest.
    sandbox = netsuite_sandbox_factory(usage_limit=200, usage_reserve=100)
    sandbox.seed_customer()
    response = sandbox.post({"records": [invoice_record(f"lago-invoice-{n}") for n in range(5)]})
    assert statuses(response) == ["created"] * 3 + ["deferred"] * 2
    assert error_codes(response)[3:] == ["SSS_USAGE_LIMIT_EXCEEDED"] * 2
    assert [r["id"] for r in results(response)[3:]] == [None, None]
    # An existing record costs the look-up only (10): 200 -> 190 -> ... all five fit, then creates.
    response = sandbox.post({"records": [invoice_record(f"lago-invoice-{n}") for n in range(3)]
                             + [customer_record(f"lago-customer-n{n}") for n in range(4)]})
    assert statuses(response) == ["existing"] * 3 + ["created"] * 3 + ["deferred"]


@pytest.mark.parametrize(
    ("record", "units"),
    [
        pytest.param({"type": "invoice"}, 0, id="refused-before-look-up"),
        pytest.param({**invoice_record("lago-invoice-x"), "lines": "nope"}, 0, id="malformed-body"),
        pytest.param({"externalId": "lago-customer-c1", "type": "customer", "action": "void"}, 0,
                     id="void-of-customer"),
        pytest.param(invoice_record("lago-invoice-0"), 10, id="existing"),
        pytest.param({"externalId": "lago-invoice-9", "type": "invoice", "action": "void"}, 10, id="void-of-nothing"),
        pytest.param({"externalId": "lago-invoice-v", "type": "invoice", "action": "void"}, 10,
                     id="void-already-voided"),
        pytest.param({"externalId": "lago-invoice-0", "type": "invoice", "action": "void"}, 20, id="void"),
        pytest.param(invoice_record("lago-invoice-x", trandate="2025-01-31"), 20, id="value-refused-before-save"),
        pytest.param(invoice_record("lago-invoice-x", entity="999"), 40, id="refused-at-save"),
        pytest.param(invoice_record("lago-invoice-x"), 40, id="created-transaction"),
        pytest.param(customer_record(), 25, id="created-customer"),
    ],
)
def test_units_charged_per_record(netsuite_sandbox_factory, record, units):
    """A free probe after ``record`` is deferred exactly when fewer than 100 units are left, so with
    ``100 + units`` it is attempted and with one unit less it is deferred."""

    def probe_status(usage_limit: int) -> str:
        sandbox = netsuite_sandbox_factory(usage_limit=usage_limit, usage_reserve=100)
        sandbox.seed_customer()
        sandbox.seed({"type": "invoice", "id": "2000", "externalId": "lago-invoice-0"},
                     {"type": "invoice", "id": "2001", "externalId": "lago-invoice-v", "voided": True})
        answered = statuses(sandbox.post({"records": [record, {"type": "invoice"}]}))
        sandbox.stop()
        return answered[1]

    assert probe_status(100 + units) == "failed"
    if units:
        assert probe_status(100 + units - 1) == "deferred"
