"""LagoHook against the Lago sandbox: paging, details, rate limits, retries and every error branch."""

from __future__ import annotations

import logging
import time

import pytest

from lago_netsuite.hooks.errors import (
    ConfigurationError,
    CredentialsError,
    NotFoundError,
    RequestRejectedError,
    ThrottledError,
    TransientError,
)
from lago_netsuite.hooks.lago import LagoHook, RequestPacer, encode_params
from tests.plugins.lago_sandbox import LagoConnection, LagoSandbox


class RecordingHook(LagoHook):
    """A LagoHook that remembers how long it decided to wait before each retry."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.waits: list[tuple[str, float]] = []

    def _wait(self, state) -> float:
        seconds = super()._wait(state)
        throttled = isinstance(state.outcome.exception(), ThrottledError)
        self.waits.append(("throttled" if throttled else "transient", seconds))
        return seconds


def test_paginate_yields_every_invoice_in_list_order(
    lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    hook = LagoHook()
    got = [i["lago_id"] for i in hook.paginate("/invoices", per_page=25)]
    expected = sorted(lago_sandbox.dataset.invoices, key=lambda i: (i["issuing_date"], i["created_at"]), reverse=True)
    assert len(got) == len(expected) and set(got) == {i["lago_id"] for i in expected}
    calls = lago_sandbox.stats()["requests"]["GET /invoices"]
    assert calls == {"200": -(-len(expected) // 25)}


def test_list_params_go_out_as_repeated_keys(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    hook = LagoHook()
    voided_or_draft = list(hook.paginate("/invoices", {"statuses": ["voided", "draft"], "issuing_date_to": None}))
    assert voided_or_draft and {i["status"] for i in voided_or_draft} == {"voided", "draft"}
    query = lago_sandbox.stats()["recent"][-1]["query"]
    assert "statuses%5B%5D=voided&statuses%5B%5D=draft" in query and "issuing_date_to" not in query


def test_paginate_pages_can_stop_early(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    pages = LagoHook().paginate_pages("/payments", per_page=10)
    first = next(pages)
    pages.close()
    assert len(first) == 10 and first[0]["lago_id"]
    assert lago_sandbox.stats()["requests"]["GET /payments"] == {"200": 1}


def test_get_invoice_has_fees_and_credits(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    expected = next(i for i in lago_sandbox.dataset.invoices if i["credits"])
    assert LagoHook().get_invoice(expected["lago_id"]) == expected


def test_billing_entities_are_read_without_pages(lago_connection: LagoConnection) -> None:
    codes = {e["code"] for e in LagoHook().paginate("/billing_entities")}
    assert codes == {"acme_us", "acme_eu", "acme_jp", "acme_kw"}


def test_wrong_key_fails_once_with_a_clear_message(
    lago_connection: LagoConnection, lago_sandbox: LagoSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    lago_connection.set(password="not-the-key-at-all")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsError) as raised:
        list(LagoHook().paginate("/invoices"))
    message = str(raised.value)
    assert message == (
        "connection 'lago_default', GET /invoices, HTTP 401: Lago refused the API key; check the "
        "password of connection 'lago_default'"
    )
    assert raised.value.status == 401 and raised.value.conn_id == "lago_default"
    assert lago_sandbox.stats()["total"] == 1  # one request reached Lago: no retries
    assert "not-the-key-at-all" not in caplog.text and "Bearer" not in caplog.text


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"host": None}, "has no host"),
        ({"password": None}, "has no password"),
        ({"requests_per_second": "fast"}, "malformed extra"),
        ({"timeout": 0}, "must not be negative"),
    ],
    ids=["no-host", "no-key", "bad-rate", "zero-timeout"],
)
def test_incomplete_connection_is_a_configuration_error(
    lago_connection: LagoConnection, fields: dict, match: str
) -> None:
    lago_connection.set(**fields)
    with pytest.raises(ConfigurationError, match=match) as raised:
        LagoHook().get("/taxes")
    assert "lago_default" in str(raised.value)


def test_undefined_connection_is_a_configuration_error(lago_connection: LagoConnection) -> None:
    with pytest.raises(ConfigurationError, match="'lago_elsewhere'"):
        LagoHook(lago_conn_id="lago_elsewhere").get("/taxes")


def test_throttled_account_is_retried_after_the_reset(
    lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    lago_sandbox.configure(rate_limit_per_s=4)
    lago_connection.set(requests_per_second=100, max_retries=4)
    hook = RecordingHook()
    taxes = [hook.get("/taxes") for _ in range(9)]
    assert all(body["taxes"] for body in taxes)
    stats = lago_sandbox.stats()
    assert stats["throttled"] >= 1 and stats["requests"]["GET /taxes"]["200"] == 9
    throttle_waits = [s for kind, s in hook.waits if kind == "throttled"]
    assert throttle_waits and all(1.0 <= s <= 1.1 for s in throttle_waits)  # X-RateLimit-Reset: 1, + jitter


def test_throttled_without_headers_backs_off_exponentially(
    lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    lago_sandbox.configure(rate_limit_per_s=2, send_rate_limit_headers=False)
    lago_connection.set(requests_per_second=100, max_retries=8, retry_backoff_s=0.1)
    hook = RecordingHook()
    assert all(hook.get("/plans")["plans"] for _ in range(4))
    waits = [s for _, s in hook.waits]
    assert waits and waits[0] < 0.25  # 0.1 s first step + jitter, not a fixed second


def test_persistently_throttled_raises_throttled_error(
    lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    lago_sandbox.configure(rate_limit_per_s=0)
    lago_connection.set(max_retries=1)
    with pytest.raises(ThrottledError, match="HTTP 429"):
        LagoHook().get("/plans")
    assert lago_sandbox.stats()["throttled"] == 2


def test_injected_5xx_is_retried_and_succeeds(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    lago_sandbox.configure(fail_next=2, fail_status=502)
    invoice = lago_sandbox.dataset.invoices[5]
    assert LagoHook().get_invoice(invoice["lago_id"])["lago_id"] == invoice["lago_id"]
    assert lago_sandbox.stats()["requests"]["GET /invoices/{lago_id}"] == {"502": 2, "200": 1}


def test_persistent_5xx_raises_transient_error(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    lago_sandbox.configure(fail_next=100, fail_status=500)
    with pytest.raises(TransientError, match="HTTP 500") as raised:
        LagoHook().get("/customers")
    assert raised.value.conn_id == "lago_default"
    assert lago_sandbox.stats()["requests"]["GET /customers"] == {"500": 4}  # 1 + max_retries 3


def test_unreachable_lago_raises_transient_error(lago_connection: LagoConnection, free_port: int) -> None:
    lago_connection.set(host=f"http://127.0.0.1:{free_port}/api/v1", max_retries=1)
    with pytest.raises(TransientError, match="could not reach Lago"):
        LagoHook().get("/taxes")


def test_not_found_and_rejected_requests(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    hook = LagoHook()
    with pytest.raises(NotFoundError) as missing:
        hook.get_invoice("00000000-0000-4000-8000-000000000000")
    assert missing.value.code == "invoice_not_found" and missing.value.status == 404
    with pytest.raises(RequestRejectedError, match="invalid_date") as rejected:
        hook.get("/invoices", {"issuing_date_from": "yesterday"})
    assert rejected.value.code == "validation_errors" and rejected.value.status == 422
    assert lago_sandbox.stats()["total"] == 2  # neither is retried


def test_fetch_many_stays_under_the_rate_limit(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    lago_sandbox.configure(rate_limit_per_s=20)
    lago_connection.set(requests_per_second=18)
    ids = [i["lago_id"] for i in lago_sandbox.dataset.invoices[:40]]
    started = time.monotonic()
    got = list(LagoHook().fetch_many(ids, max_workers=8))
    assert [i["lago_id"] for i in got] == ids and all("fees" in i for i in got)
    assert lago_sandbox.stats()["throttled"] == 0
    assert time.monotonic() - started >= 39 / 18  # paced, not bursted


def test_fetch_many_takes_paths_and_raises_the_first_error(
    lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    hook = LagoHook()
    notes = lago_sandbox.dataset.credit_notes[:3]
    got = list(hook.fetch_many([f"/credit_notes/{n['lago_id']}" for n in notes], max_workers=2))
    assert got == notes
    with pytest.raises(NotFoundError):
        list(hook.fetch_many([notes[0]["lago_invoice_id"], "00000000-0000-4000-8000-00000000dead"]))


def test_fetch_invoices_yields_full_invoices_in_order(
    lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    expected = lago_sandbox.dataset.invoices[10:16]
    assert list(LagoHook().fetch_invoices(i["lago_id"] for i in expected)) == expected


def test_pacer_spaces_requests_across_threads() -> None:
    pacer = RequestPacer(50)
    started = time.monotonic()
    for _ in range(6):
        pacer.wait()
    assert time.monotonic() - started >= 5 / 50
    pacer.pause(0.2)
    before = time.monotonic()
    pacer.wait()
    assert time.monotonic() - before >= 0.19


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"statuses": ["draft", "voided"]}, [("statuses[]", "draft"), ("statuses[]", "voided")]),
        ({"billing_entity_codes[]": ("acme_us",)}, [("billing_entity_codes[]", "acme_us")]),
        ({"self_billed": False, "page": 2, "currency": None}, [("self_billed", "false"), ("page", "2")]),
        ([("statuses[]", "draft"), ("statuses[]", "failed")], [("statuses[]", "draft"), ("statuses[]", "failed")]),
        (None, []),
    ],
    ids=["list-gets-brackets", "brackets-kept", "scalars-and-none", "pairs-pass-through", "none"],
)
def test_encode_params(params, expected) -> None:
    assert encode_params(params) == expected


def test_test_connection(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    ok, message = LagoHook().test_connection()
    assert ok and "4 billing entities" in message
    lago_connection.set(password="wrong-key-for-sure")
    ok, message = LagoHook().test_connection()
    assert not ok and "HTTP 401" in message and "lago_default" in message


def test_the_client_is_created_lazily(lago_connection: LagoConnection, lago_sandbox: LagoSandbox) -> None:
    hook = LagoHook()
    assert hook._session is None and hook._settings is None
    assert lago_sandbox.stats()["total"] == 0
    assert hook.base_url == lago_sandbox.url
    assert "lago-sandbox-test-key" not in repr(hook.settings)
