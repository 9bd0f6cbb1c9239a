"""NetSuiteRestletHook: the loader's only way to NetSuite — the RESTlet of docs/restlet-contract.md.

Every request is signed afresh (OAuth 1.0a, HMAC-SHA256, realm = account id upper-case), so a
retry never reuses a nonce. Errors are classified as the contract says: throttling is retried with
exponential backoff and full jitter; refused credentials fail at once; a write whose outcome is
unknown (5xx, read timeout, broken connection, unparseable answer) is never resent here — the
loader looks the records up first. Look-ups (GET) are idempotent and retried on transient faults.
Logs carry counts, the endpoint path and statuses; never headers, secrets or request bodies.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from urllib3.exceptions import NewConnectionError

from lago_netsuite.hooks.errors import (
    ConfigurationError,
    CredentialsError,
    LagoNetSuiteError,
    OutcomeUnknownError,
    RequestRejectedError,
    ThrottledError,
    TransientError,
)
from lago_netsuite.money import json_number

log = logging.getLogger(__name__)

RESTLET_PATH = "/app/site/hosting/restlet.nl"
MAX_BATCH = 500
MAX_LOOKUP_IDS = 100
RESULT_STATUSES = frozenset({"created", "existing", "voided", "applied", "failed", "deferred"})
#: The RESTlet contract this loader speaks (docs/restlet-contract.md); an older script is refused.
CONTRACT_VERSION = 2
# Per-record codes the contract calls transient: send the record again in a later call.
TRANSIENT_CODES = frozenset({"RCRD_HAS_BEEN_CHANGED", "SSS_REQUEST_LIMIT_EXCEEDED", "UNEXPECTED_ERROR"})
REQUIRED_EXTRAS = (
    "account_id", "consumer_key", "consumer_secret", "token_id", "token_secret", "script", "deploy",
)


class _DropOAuthDebug(logging.Filter):
    """requests-oauthlib and oauthlib log the Authorization header and base string at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


for _name in ("requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849"):
    logging.getLogger(_name).addFilter(_DropOAuthDebug())


@dataclass(frozen=True)
class RecordResult:
    """The RESTlet's answer for one record (``status`` is one of the contract's five)."""

    external_id: str
    status: str
    id: str | None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def retryable(self) -> bool:
        """True when the record should be sent again later (deferred, or failed with a transient code)."""
        return self.status == "deferred" or (self.status == "failed" and self.error_code in TRANSIENT_CODES)


@dataclass(frozen=True)
class NetSuiteSettings:
    """What the hook reads from its Airflow connection; secrets are kept out of ``repr``."""

    account_id: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    token_id: str = field(repr=False)
    token_secret: str = field(repr=False)
    script: str
    deploy: str
    base_url: str
    timeout: float = 120.0

    @property
    def realm(self) -> str:
        """OAuth realm: the account id upper-case, underscore kept (``1234567_SB1``)."""
        return self.account_id.upper()

    @property
    def restlet_url(self) -> str:
        """The RESTlet URL without its query."""
        return f"{self.base_url}{RESTLET_PATH}"


def restlet_base_url(account_id: str) -> str:
    """Default RESTlet host of an account: lower-case, ``_`` → ``-`` (``1234567_SB1`` → ``1234567-sb1``)."""
    return f"https://{account_id.lower().replace('_', '-')}.restlets.api.netsuite.com"


class NetSuiteRestletHook(BaseHook):
    """Calls the lago-netsuite-sync RESTlet: batch writes (POST) and look-ups by externalId (GET).

    Args:
        netsuite_conn_id: the Airflow connection (extras: account_id, consumer_key, consumer_secret,
            token_id, token_secret, script, deploy, optional base_url and timeout).
        max_attempts: attempts per request when throttled or when nothing reached NetSuite.
        backoff_initial_s: first backoff window; each retry doubles it (full jitter).
        backoff_max_s: cap of the backoff window.
        pool_size: connections kept open to NetSuite (match the loader's parallelism).
    """

    conn_name_attr = "netsuite_conn_id"
    default_conn_name = "netsuite_default"
    conn_type = "netsuite"
    hook_name = "NetSuite RESTlet"

    def __init__(
        self,
        netsuite_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 6,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        pool_size: int = 10,
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.netsuite_conn_id = netsuite_conn_id
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._settings: NetSuiteSettings | None = None
        self._session: requests.Session | None = None
        self._auth: OAuth1 | None = None
        self._contract_ok = False

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: everything lives in the extras."""
        return {
            "hidden_fields": ["host", "schema", "login", "password", "port"],
            "relabeling": {},
            "placeholders": {
                "extra": json.dumps({
                    "account_id": "1234567_SB1", "consumer_key": "…", "consumer_secret": "…",
                    "token_id": "…", "token_secret": "…", "script": "customscript_lago_netsuite_sync",
                    "deploy": "customdeploy_lago_netsuite_sync",
                }),
            },
        }

    @property
    def settings(self) -> NetSuiteSettings:
        """The connection's settings, read once; ConfigurationError names what is missing."""
        with self._lock:
            if self._settings is None:
                self._settings = self._read_settings()
            return self._settings

    def get_conn(self) -> requests.Session:
        """The pooled HTTP session (created on first use)."""
        settings = self.settings
        with self._lock:
            if self._session is None:
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool_size, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers.update({"Accept": "application/json"})
                self._auth = OAuth1(
                    settings.consumer_key, settings.consumer_secret, settings.token_id, settings.token_secret,
                    signature_method="HMAC-SHA256", realm=settings.realm,
                )
                self._session = session
            return self._session

    def post_records(self, records: list[dict[str, Any]]) -> list[RecordResult]:
        """Send one batch; return one result per record, in request order.

        Raises:
            CredentialsError, ThrottledError (retries exhausted), RequestRejectedError,
            TransientError (never reached NetSuite after retries), OutcomeUnknownError (may or may
            not have been written: look the records up before sending them again).
        """
        if not records:
            return []
        if len(records) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} records per call, got {len(records)}")
        raw_ids = [r.get("externalId") if isinstance(r, dict) else None for r in records]
        ids = [ext for ext in raw_ids if isinstance(ext, str) and ext]
        if len(ids) != len(raw_ids):
            raise ValueError("every record needs a string externalId")
        body = json.dumps({"records": records}, default=_json_default, allow_nan=False).encode("utf-8")
        payload = self._request("POST", {}, body, idempotent=False)
        results = self._parse_results(payload, ids)
        log.info("NetSuite POST %s: %d records -> %s", RESTLET_PATH, len(records),
                 dict(Counter(r.status for r in results)))
        return results

    def contract_version(self) -> int:
        """The contract version the deployed RESTlet speaks (``GET ...&version=1``).

        A script older than contract 2 does not know the question: it answers 400 (a GET without
        ``type``) or something without ``contract``; that is version 1.
        """
        try:
            payload = self._request("GET", {"version": "1"}, None, idempotent=True)
        except RequestRejectedError:
            return 1
        version = payload.get("contract") if isinstance(payload, dict) else None
        return version if isinstance(version, int) and not isinstance(version, bool) else 1

    def ensure_contract(self) -> None:
        """Refuse to send anything to a RESTlet older than the contract this loader speaks (once per hook).

        Raises:
            ConfigurationError: the script answers an older contract version; names both versions.
        """
        if self._contract_ok:
            return
        version = self.contract_version()
        if version < CONTRACT_VERSION:
            raise ConfigurationError(
                f"the deployed RESTlet speaks contract {version} but this loader needs contract {CONTRACT_VERSION} "
                "(credit memo applications and customer refunds); deploy the SuiteScript of this release "
                "(netsuite/, see netsuite/README.md) before syncing", conn_id=self.netsuite_conn_id,
                endpoint=self._endpoint("GET"))
        self._contract_ok = True

    def lookup(self, record_type: str, external_ids: list[str]) -> dict[str, str | None]:
        """Map each externalId to its NetSuite internal id, or None when NetSuite has no such record."""
        wanted = list(dict.fromkeys(external_ids))
        if any(not isinstance(ext, str) or not ext or "," in ext for ext in wanted):
            raise ValueError("externalIds must be non-empty strings without commas")
        found: dict[str, str | None] = {}
        for start in range(0, len(wanted), MAX_LOOKUP_IDS):
            chunk = wanted[start:start + MAX_LOOKUP_IDS]
            params = {"type": record_type, "externalIds": ",".join(chunk)}
            payload = self._request("GET", params, None, idempotent=True)
            results = payload.get("results") if isinstance(payload, dict) else None
            answered = {r.get("externalId"): r for r in results or [] if isinstance(r, dict)}
            if not isinstance(results, list) or set(answered) != set(chunk):
                raise TransientError(
                    f"look-up answer does not cover the {len(chunk)} ids asked for",
                    conn_id=self.netsuite_conn_id, endpoint=self._endpoint("GET"), status=200,
                )
            for ext in chunk:
                result = answered[ext]
                found[ext] = result.get("id") if result.get("status") == "existing" else None
        log.info("NetSuite GET %s: %d %s ids looked up, %d found", RESTLET_PATH, len(wanted), record_type,
                 sum(1 for v in found.values() if v))
        return found

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test: one signed look-up; (False, reason) when it fails."""
        try:
            self.lookup("customer", ["lago-customer-connection-test"])
        except LagoNetSuiteError as exc:
            return False, str(exc)
        return True, f"NetSuite RESTlet answered at {self.settings.restlet_url}"

    # -- internals -------------------------------------------------------------------------------

    def _read_settings(self) -> NetSuiteSettings:
        conn_id = self.netsuite_conn_id
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException as exc:
            raise ConfigurationError("the Airflow connection is not defined", conn_id=conn_id) from exc
        extras = conn.extra_dejson
        missing = [name for name in REQUIRED_EXTRAS if not extras.get(name)]
        if missing:
            raise ConfigurationError(f"missing connection extra(s): {', '.join(missing)}", conn_id=conn_id)
        try:
            timeout = float(extras.get("timeout", 120))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError("extra 'timeout' must be a number of seconds", conn_id=conn_id) from exc
        account_id = str(extras["account_id"])
        base_url = str(extras.get("base_url") or restlet_base_url(account_id)).rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ConfigurationError(
                f"extra 'base_url' must be an http(s) URL without query, got {base_url!r}", conn_id=conn_id)
        return NetSuiteSettings(
            account_id=account_id, consumer_key=str(extras["consumer_key"]),
            consumer_secret=str(extras["consumer_secret"]), token_id=str(extras["token_id"]),
            token_secret=str(extras["token_secret"]), script=str(extras["script"]),
            deploy=str(extras["deploy"]), base_url=base_url, timeout=timeout,
        )

    def _endpoint(self, method: str) -> str:
        s = self.settings
        return f"{method} {s.restlet_url}?script={s.script}&deploy={s.deploy}"

    def _request(self, method: str, params: dict[str, str], body: bytes | None, *, idempotent: bool) -> Any:
        """One logical request: retried (re-signed each time) while throttled or not sent at all."""
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_random_exponential(multiplier=self.backoff_initial_s, max=self.backoff_max_s),
            retry=retry_if_exception_type((ThrottledError, TransientError)),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._attempt, method, params, body, idempotent)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        method = state.args[0] if state.args else "?"
        log.warning("NetSuite %s %s attempt %d failed (%s: HTTP %s %s); retrying in %.2f s",
                    method, RESTLET_PATH, state.attempt_number, type(exc).__name__, getattr(exc, "status", None),
                    getattr(exc, "code", None) or "", wait)

    def _attempt(self, method: str, params: dict[str, str], body: bytes | None, idempotent: bool) -> Any:
        session, s = self.get_conn(), self.settings
        endpoint = self._endpoint(method)
        unknown = TransientError if idempotent else OutcomeUnknownError
        context: dict[str, Any] = {"conn_id": self.netsuite_conn_id, "endpoint": endpoint}
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connect_s = min(10.0, s.timeout)
        try:
            response = session.request(
                method, s.restlet_url, params={"script": s.script, "deploy": s.deploy, **params}, data=body,
                headers=headers, auth=self._auth, timeout=(connect_s, s.timeout),
            )
        except requests.ConnectTimeout as exc:
            raise TransientError(f"could not connect within {connect_s} s", **context) from exc
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                raise TransientError(f"could not connect: {type(exc).__name__}", **context) from exc
            raise unknown(f"connection broken after sending: {type(exc).__name__}", **context) from exc
        except requests.Timeout as exc:
            raise unknown(f"no answer within {s.timeout} s", **context) from exc
        except requests.RequestException as exc:  # e.g. ChunkedEncodingError: the answer was cut off
            raise unknown(f"the answer was cut off: {type(exc).__name__}", **context) from exc
        return self._classify(response, unknown, context)

    def _classify(self, response: requests.Response, unknown: type[LagoNetSuiteError],
                  context: dict[str, Any]) -> Any:
        status = response.status_code
        code, message = _error_of(response)
        context = {**context, "status": status, "code": code}
        if status == 200:
            try:
                return json.loads(response.content)
            except ValueError as exc:
                raise unknown(f"unparseable answer: {response.text[:200]!r}", **context) from exc
        detail = message or response.text[:200]
        if status in (401, 403) or code == "INVALID_LOGIN_ATTEMPT":
            raise CredentialsError(
                f"NetSuite refused the token-based credentials ({detail}); check account_id, consumer_key, "
                "consumer_secret, token_id and token_secret — not retried", **context)
        if status == 429 or code == "SSS_REQUEST_LIMIT_EXCEEDED":
            raise ThrottledError(f"throttled ({detail})", **context)
        if 400 <= status < 500:
            raise RequestRejectedError(f"request refused ({detail})", **context)
        if unknown is OutcomeUnknownError:
            raise OutcomeUnknownError(f"outcome unknown ({detail}); look the records up before resending",
                                      **context)
        raise TransientError(f"NetSuite failed ({detail})", **context)

    def _parse_results(self, payload: Any, ids: list[str]) -> list[RecordResult]:
        context: dict[str, Any] = {"conn_id": self.netsuite_conn_id, "endpoint": self._endpoint("POST"), "status": 200}
        results = payload.get("results") if isinstance(payload, dict) else None
        if not isinstance(results, list) or len(results) != len(ids):
            got = len(results) if isinstance(results, list) else "no"
            raise OutcomeUnknownError(f"expected {len(ids)} results, got {got}", **context)
        parsed = []
        for position, (ext, result) in enumerate(zip(ids, results, strict=True)):
            if not isinstance(result, dict) or result.get("externalId") != ext \
                    or result.get("status") not in RESULT_STATUSES:
                raise OutcomeUnknownError(f"result {position} does not answer record {ext}", **context)
            status, record_id = result["status"], result.get("id")
            has_id = isinstance(record_id, str) and bool(record_id)
            if status in ("created", "existing", "voided", "applied") and not has_id:
                raise OutcomeUnknownError(f"result {position} ({status}) has no internal id", **context)
            raw_error = result.get("error")
            error = raw_error if isinstance(raw_error, dict) else {}
            parsed.append(RecordResult(ext, status, record_id if isinstance(record_id, str) else None,
                                       error.get("code"), error.get("message")))
        return parsed


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection was never established, so the request cannot have been sent."""
    if isinstance(exc, requests.exceptions.SSLError):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _error_of(response: requests.Response) -> tuple[str | None, str | None]:
    """NetSuite's ``{"error": {"code", "message"}}``, when the body has that shape."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    code, message = error.get("code"), error.get("message")
    return (code if isinstance(code, str) else None), (message if isinstance(message, str) else None)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return json_number(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
