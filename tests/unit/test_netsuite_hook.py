"""NetSuiteRestletHook against the sandbox (and a transport fake): signing, retries, error classes."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from requests.adapters import HTTPAdapter

from lago_netsuite.hooks.errors import (
    ConfigurationError,
    CredentialsError,
    OutcomeUnknownError,
    RequestRejectedError,
    ThrottledError,
    TransientError,
)
from lago_netsuite.hooks.netsuite import NetSuiteRestletHook, RecordResult, restlet_base_url
from tests.plugins.netsuite_sandbox import CREDENTIALS, invoice_record

EXT = "lago-invoice-1"


def make_hook(**kwargs: Any) -> NetSuiteRestletHook:
    return NetSuiteRestletHook(**{"max_attempts": 4, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, **kwargs})


@pytest.fixture
def sandbox(netsuite_sandbox, netsuite_connection):
    netsuite_sandbox.seed_customer()
    return netsuite_sandbox


class FakeTransport(HTTPAdapter):
    """Answers from a script and keeps every prepared request, so a test sees exactly what was sent."""

    def __init__(self, answers: list[tuple[int, Any]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        return response


def fake_hook(connect_netsuite, answers: list[tuple[int, Any]]) -> tuple[NetSuiteRestletHook, FakeTransport]:
    connect_netsuite(None)  # the real NetSuite host, derived from the account id; never reached
    hook = make_hook()
    transport = FakeTransport(answers)
    hook.get_conn().mount("https://", transport)
    return hook, transport


def created(ext: str = EXT, record_id: str = "9812") -> dict[str, Any]:
    return {"results": [{"externalId": ext, "status": "created", "id": record_id, "error": None}]}


# -- connection settings ----------------------------------------------------------------------------


def test_base_url_is_derived_from_the_account_id(connect_netsuite):
    connect_netsuite(None)
    assert make_hook().settings.restlet_url == "https://1234567-sb1.restlets.api.netsuite.com/app/site/hosting/restlet.nl"
    assert restlet_base_url("TSTDRV_1234") == "https://tstdrv-1234.restlets.api.netsuite.com"
    connect_netsuite(None, base_url="http://127.0.0.1:9/")
    assert make_hook().settings.restlet_url == "http://127.0.0.1:9/app/site/hosting/restlet.nl"


def test_missing_credentials_name_the_connection_and_the_fields(connect_netsuite):
    connect_netsuite(None, consumer_secret=None, token_id=None)
    with pytest.raises(ConfigurationError, match="netsuite_default.*consumer_secret, token_id"):
        make_hook().post_records([invoice_record()])
    with pytest.raises(ConfigurationError, match="'netsuite_elsewhere'.*not defined"):
        _ = NetSuiteRestletHook("netsuite_elsewhere").settings


def test_an_unusable_base_url_is_a_configuration_error(connect_netsuite):
    connect_netsuite(None, base_url="127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="base_url"):
        make_hook().lookup("invoice", [EXT])


def test_secrets_stay_out_of_the_settings_repr(connect_netsuite):
    connect_netsuite(None)
    shown = repr(make_hook().settings)
    assert "1234567_SB1" in shown and not any(secret in shown for secret in CREDENTIALS.values())


# -- signing ----------------------------------------------------------------------------------------


def test_every_attempt_is_signed_afresh_with_realm_and_query_in_the_base_string(connect_netsuite):
    throttled = {"error": {"code": "SSS_REQUEST_LIMIT_EXCEEDED", "message": "Concurrent request limit exceeded."}}
    hook, transport = fake_hook(connect_netsuite, [(400, throttled), (429, throttled), (200, created())])
    assert hook.post_records([invoice_record()]) == [RecordResult(EXT, "created", "9812")]
    assert len(transport.sent) == 3
    nonces, signatures = set(), set()
    for request in transport.sent:
        url = urlsplit(request.url)
        assert (request.method, url.netloc, url.path) == (
            "POST", "1234567-sb1.restlets.api.netsuite.com", "/app/site/hosting/restlet.nl")
        assert url.query == "script=customscript_lago_netsuite_sync&deploy=customdeploy_lago_netsuite_sync"
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        assert headers["Content-Type"] == "application/json"
        header = headers["Authorization"]
        params = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)}
        assert params["realm"] == "1234567_SB1"
        assert params["oauth_signature_method"] == "HMAC-SHA256"
        assert (params["oauth_consumer_key"], params["oauth_token"]) == (
            CREDENTIALS["consumer_key"], CREDENTIALS["token_id"])
        assert abs(int(params["oauth_timestamp"]) - time.time()) < 60
        collected = oauth_signature.collect_parameters(uri_query=url.query, headers={"Authorization": header})
        base = oauth_signature.signature_base_string(
            "POST", oauth_signature.base_string_uri(request.url), oauth_signature.normalize_parameters(collected))
        assert "script%3Dcustomscript_lago_netsuite_sync" in base and "deploy%3Dcustomdeploy" in base
        assert "realm" not in base
        secrets = type("Secrets", (), {"client_secret": CREDENTIALS["consumer_secret"],
                                       "resource_owner_secret": CREDENTIALS["token_secret"]})
        assert oauth_signature.sign_hmac_sha256_with_client(base, secrets) == params["oauth_signature"]
        nonces.add(params["oauth_nonce"])
        signatures.add(params["oauth_signature"])
    assert len(nonces) == len(signatures) == 3


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"results": []}, id="too-few-results"),
        pytest.param({"results": [{"externalId": "lago-invoice-2", "status": "created", "id": "1"}]},
                     id="other-record"),
        pytest.param({"results": [{"externalId": EXT, "status": "done", "id": "1"}]}, id="unknown-status"),
        pytest.param({"results": [{"externalId": EXT, "status": "created", "id": None}]}, id="created-no-id"),
        pytest.param(b"<html>oops</html>", id="not-json"),
    ],
)
def test_a_malformed_answer_to_a_write_is_outcome_unknown(connect_netsuite, answer):
    hook, transport = fake_hook(connect_netsuite, [(200, answer)])
    with pytest.raises(OutcomeUnknownError):
        hook.post_records([invoice_record()])
    assert len(transport.sent) == 1


# -- against the sandbox ----------------------------------------------------------------------------


def test_post_records_and_lookup(sandbox):
    hook = make_hook()
    records = [invoice_record("lago-invoice-1", amounts=(Decimal("0.10"), Decimal("7.25"))),
               invoice_record("lago-invoice-2", entity="999")]
    first, second = hook.post_records(records)
    assert (first.status, first.error_code, first.retryable) == ("created", None, False)
    assert (second.status, second.error_code, second.retryable) == ("failed", "INVALID_KEY_OR_REF", False)
    assert second.error_message == "Invalid entity reference key 999."
    assert sandbox.stored("invoice")[0].body["lines"][0]["lineItems"][0]["amount"] == Decimal("0.1")
    assert hook.post_records(records[:1])[0] == RecordResult("lago-invoice-1", "existing", first.id)
    assert hook.lookup("invoice", ["lago-invoice-1", "lago-invoice-2", "lago-invoice-1"]) == {
        "lago-invoice-1": first.id, "lago-invoice-2": None}
    assert hook.post_records([]) == []


def test_lookup_goes_in_chunks_of_100(sandbox):
    ids = [f"lago-invoice-{n}" for n in range(250)]
    assert make_hook().lookup("invoice", ids) == dict.fromkeys(ids)
    assert sandbox.stats()["calls"]["by_method_status"] == {"GET 200": 3}


def test_wrong_secret_fails_once_naming_the_connection(sandbox, connect_netsuite):
    connect_netsuite(sandbox, consumer_secret="0" * 64)
    with pytest.raises(CredentialsError) as raised:
        make_hook().post_records([invoice_record()])
    assert "netsuite_default" in str(raised.value) and "INVALID_LOGIN_ATTEMPT" in str(raised.value)
    assert sandbox.stats()["calls"]["total"] == 1


def test_throttled_account_is_retried_and_succeeds(sandbox):
    sandbox.set_faults(calls=[{"kind": "throttle_400", "calls": 2}, {"kind": "throttle_429"}])
    assert make_hook().post_records([invoice_record()])[0].status == "created"
    assert sandbox.stats()["calls"]["by_method_status"] == {"POST 200": 1, "POST 400": 2, "POST 429": 1}


def test_concurrency_limit_is_absorbed_by_backoff(sandbox):
    sandbox.configure(concurrency_limit=1, latency_per_call_ms=60)
    hook = make_hook(max_attempts=30, backoff_initial_s=0.02, backoff_max_s=0.2)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: hook.post_records([invoice_record(f"lago-invoice-{n}")]), range(4)))
    assert [a[0].status for a in answers] == ["created"] * 4
    stats = sandbox.stats()
    assert stats["throttled"] >= 1 and stats["max_concurrency_seen"] == 1


def test_throttling_that_persists_raises_after_the_attempts(sandbox):
    sandbox.set_faults(calls=[{"kind": "throttle_400", "calls": 100}])
    with pytest.raises(ThrottledError, match="SSS_REQUEST_LIMIT_EXCEEDED"):
        make_hook(max_attempts=3).post_records([invoice_record()])
    assert sandbox.stats()["calls"]["total"] == 3


def test_5xx_on_a_write_is_outcome_unknown_without_retry(sandbox):
    sandbox.set_faults(calls=[{"kind": "http_5xx", "calls": 5}])
    with pytest.raises(OutcomeUnknownError, match="HTTP 503"):
        make_hook().post_records([invoice_record()])
    assert sandbox.stats()["calls"]["total"] == 1


def test_lost_response_is_outcome_unknown_and_lookup_finds_the_record(sandbox):
    sandbox.set_faults(calls=[{"kind": "lost_response", "method": "POST"}])
    hook = make_hook()
    with pytest.raises(OutcomeUnknownError):
        hook.post_records([invoice_record()])
    [stored] = sandbox.records("invoice")
    assert stored["externalId"] == EXT
    assert sandbox.stats()["calls"]["total"] == 1
    assert hook.lookup("invoice", [EXT]) == {EXT: stored["id"]}
    assert hook.post_records([invoice_record()])[0] == RecordResult(EXT, "existing", stored["id"])


def test_connection_reset_is_outcome_unknown_and_nothing_was_written(sandbox):
    sandbox.set_faults(calls=[{"kind": "connection_reset", "method": "POST"}])
    with pytest.raises(OutcomeUnknownError):
        make_hook().post_records([invoice_record()])
    assert make_hook().lookup("invoice", [EXT]) == {EXT: None}


def test_read_timeout_is_outcome_unknown_and_a_resend_meets_the_commit(sandbox, connect_netsuite):
    connect_netsuite(sandbox, timeout=0.3)
    sandbox.set_faults(calls=[{"kind": "timeout", "method": "POST"}], timeout_hold_s=1.0)
    hook = make_hook()
    with pytest.raises(OutcomeUnknownError, match="no answer within 0.3 s"):
        hook.post_records([invoice_record()])
    again = hook.post_records([invoice_record()])[0]
    assert (again.status, again.error_code, again.retryable) == ("failed", "RCRD_HAS_BEEN_CHANGED", True)


def test_get_5xx_is_retried(sandbox):
    sandbox.set_faults(calls=[{"kind": "http_5xx", "method": "GET", "calls": 2}])
    assert make_hook().lookup("invoice", [EXT]) == {EXT: None}
    assert sandbox.stats()["calls"]["by_method_status"] == {"GET 200": 1, "GET 503": 2}


def test_get_failing_throughout_raises_transient(sandbox):
    sandbox.set_faults(calls=[{"kind": "lost_response", "method": "GET", "calls": 100}])
    with pytest.raises(TransientError):
        make_hook(max_attempts=3).lookup("invoice", [EXT])
    assert sandbox.stats()["calls"]["total"] == 3


def test_nothing_listening_is_retried_then_transient(connect_netsuite, free_port, caplog):
    connect_netsuite(None, base_url=f"http://127.0.0.1:{free_port}")
    with caplog.at_level(logging.WARNING, logger="lago_netsuite"), pytest.raises(TransientError, match="connect"):
        make_hook(max_attempts=3).post_records([invoice_record()])
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2


def test_other_400_is_rejected_without_retry(sandbox, connect_netsuite):
    connect_netsuite(sandbox, deploy="customdeploy_other")
    with pytest.raises(RequestRejectedError) as raised:
        make_hook().post_records([invoice_record()])
    assert raised.value.code == "SSS_INVALID_SCRIPTLET_ID" and raised.value.status == 400
    assert sandbox.stats()["calls"]["total"] == 1


def test_retryable_results():
    assert RecordResult("x", "deferred", None, "SSS_USAGE_LIMIT_EXCEEDED").retryable
    assert RecordResult("x", "failed", None, "UNEXPECTED_ERROR").retryable
    assert not RecordResult("x", "failed", None, "USER_ERROR").retryable
    assert not RecordResult("x", "created", "1").retryable


def test_test_connection(sandbox, connect_netsuite):
    ok, message = make_hook().test_connection()
    assert ok and sandbox.url in message
    connect_netsuite(sandbox, token_secret="0" * 64)
    ok, message = make_hook().test_connection()
    assert not ok and "INVALID_LOGIN_ATTEMPT" in message


def test_no_secret_in_logs_or_errors(sandbox, connect_netsuite, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    sandbox.set_faults(calls=[{"kind": "throttle_400"}, {"kind": "lost_response", "method": "POST", "skip": 1}])
    hook = make_hook()
    hook.post_records([invoice_record("lago-invoice-a")])
    for run in (lambda: hook.post_records([invoice_record("lago-invoice-b")]),
                lambda: hook.lookup("invoice", ["lago-invoice-a"])):
        try:
            run()
        except OutcomeUnknownError as exc:
            errors.append(exc)
    connect_netsuite(sandbox, consumer_secret="0" * 64)
    with pytest.raises(CredentialsError) as raised:
        make_hook().post_records([invoice_record()])
    errors.append(raised.value)
    assert len(errors) == 2 and caplog.records
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors] + [repr(e) for e in errors]
    for secret in [*CREDENTIALS.values(), "0" * 64]:
        assert not [text for text in texts if secret in text]


def test_a_replayed_request_is_refused_and_the_hook_never_replays(sandbox):
    hook = make_hook()
    sent: list[requests.PreparedRequest] = []
    hook.get_conn().hooks["response"].append(lambda response, **_: sent.append(response.request))
    sandbox.set_faults(calls=[{"kind": "http_5xx", "method": "GET"}])
    assert hook.lookup("invoice", [EXT]) == {EXT: None}  # retried once, re-signed: not a replay
    assert len(sent) == 2 and sent[0].headers["Authorization"] != sent[1].headers["Authorization"]
    replay = hook.get_conn().send(sent[1].copy(), timeout=5)  # the same signed request, verbatim
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "INVALID_LOGIN_ATTEMPT"
    assert sandbox.stats()["auth_failures"] == {"nonce_replayed": 1}
