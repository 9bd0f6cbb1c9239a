"""LagoHook: read Lago's REST API (lists page by page, details concurrently) within its rate limit.

Connection ``lago_default`` (conn type ``lago``): ``host`` = API base URL including ``/api/v1``,
``password`` = API key; extras ``requests_per_second`` (client pacing, default 45, shared by all
threads of the hook), ``timeout`` (seconds, default 30), ``max_retries`` (default 5) and
``retry_backoff_s`` (first backoff step, default 0.5). For example::

    AIRFLOW_CONN_LAGO_DEFAULT='{"conn_type": "lago", "host": "https://api.getlago.com/api/v1",
                                "password": "<api key>", "extra": {"requests_per_second": 45}}'

Errors are classified (``hooks/errors.py``): 401/403 raise :class:`CredentialsError` after one
request; 429 is retried after exactly ``X-RateLimit-Reset`` seconds plus a little jitter
(exponential backoff when the header is absent); 5xx and connection errors are retried with
exponential backoff and jitter; 404 raises :class:`NotFoundError`, other 4xx
:class:`RequestRejectedError` with Lago's code and details. Logs carry paths and counts, never the
API key or the ``Authorization`` header.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from lago_netsuite.hooks.errors import (
    ConfigurationError,
    CredentialsError,
    LagoNetSuiteError,
    NotFoundError,
    RequestRejectedError,
    ThrottledError,
    TransientError,
)

log = logging.getLogger(__name__)

Params = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


@dataclass(frozen=True)
class LagoSettings:
    """What the hook reads from its connection (the API key stays out of ``repr``)."""

    base_url: str
    api_key: str = field(repr=False)
    requests_per_second: float = 45.0
    timeout: float = 30.0
    max_retries: int = 5
    retry_backoff_s: float = 0.5


class LagoThrottledError(ThrottledError):
    """A 429 from Lago; ``retry_after`` is its ``X-RateLimit-Reset`` in seconds (``None`` if absent)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **where: Any) -> None:
        super().__init__(message, **where)
        self.retry_after = retry_after


class RequestPacer:
    """Thread-safe client-side rate limit: spaces requests ``1 / rate`` seconds apart.

    Every thread of a hook takes its turn here, so concurrent detail fetches stay under the rate
    together; a 429 pauses everybody until the server's window resets.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        """Block until this thread may send its next request."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """Hold every thread for ``seconds`` (the server said its window resets then)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def encode_params(params: Params) -> list[tuple[str, str]]:
    """Query parameters as Lago reads them: list values become repeated ``key[]`` entries."""
    items = params.items() if isinstance(params, Mapping) else (params or [])
    out: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, (list, tuple, set, frozenset)):
            name = key if key.endswith("[]") else f"{key}[]"
            out.extend((name, _text(v)) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value))
        elif value is not None:
            out.append((key, _text(value)))
    return out


class LagoHook(BaseHook):
    """Interact with Lago's REST API through the Airflow connection ``lago_conn_id``."""

    conn_name_attr = "lago_conn_id"
    default_conn_name = "lago_default"
    conn_type = "lago"
    hook_name = "Lago"

    def __init__(self, lago_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lago_conn_id = lago_conn_id
        self._settings: LagoSettings | None = None
        self._session: requests.Session | None = None
        self._pacer = RequestPacer(0)  # replaced by the connection's pacing on first use
        self._lock = threading.Lock()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: only the base URL, the API key and the extras matter."""
        return {
            "hidden_fields": ["schema", "port", "login"],
            "relabeling": {"host": "API base URL (incl. /api/v1)", "password": "API key"},
            "placeholders": {
                "host": "https://api.getlago.com/api/v1",
                "extra": '{"requests_per_second": 45, "timeout": 30, "max_retries": 5}',
            },
        }

    @property
    def settings(self) -> LagoSettings:
        """The connection's settings, read once; raises :class:`ConfigurationError` naming the conn id."""
        if self._settings is None:
            with self._lock:
                if self._settings is None:
                    self._settings = self._read_settings()
        return self._settings

    def _read_settings(self) -> LagoSettings:
        conn_id = self.lago_conn_id
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException as exc:
            raise ConfigurationError(f"Airflow connection {conn_id!r} is not defined", conn_id=conn_id) from exc
        missing = "host (the Lago API base URL)" if not conn.host else "password (the Lago API key)"
        if not conn.host or not conn.password:
            raise ConfigurationError(f"connection {conn_id!r} has no {missing}", conn_id=conn_id)
        extra = conn.extra_dejson or {}
        try:
            rate = float(extra.get("requests_per_second", 45))
            timeout = float(extra.get("timeout", 30))
            retries = int(extra.get("max_retries", 5))
            backoff = float(extra.get("retry_backoff_s", 0.5))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"connection {conn_id!r} has a malformed extra: {exc}", conn_id=conn_id) from exc
        if rate < 0 or timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigurationError(
                f"connection {conn_id!r}: requests_per_second, timeout, max_retries and "
                "retry_backoff_s must not be negative (timeout > 0)",
                conn_id=conn_id,
            )
        return LagoSettings(self._base_url(conn), conn.password, rate, timeout, retries, backoff)

    @staticmethod
    def _base_url(conn: Any) -> str:
        host = conn.host.strip()
        if "://" not in host:
            scheme = conn.schema if conn.schema in ("http", "https") else "https"
            host = f"{scheme}://{host}"
        parts = urlsplit(host)
        netloc = parts.netloc
        if conn.port and ":" not in netloc.rsplit("@", 1)[-1]:
            netloc = f"{netloc}:{conn.port}"
        path = parts.path.rstrip("/") or "/api/v1"
        return urlunsplit((parts.scheme, netloc, path, "", ""))

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``https://api.getlago.com/api/v1``."""
        return self.settings.base_url

    def get_conn(self) -> requests.Session:
        """The HTTP session (created on first use), carrying the Bearer key on every request."""
        if self._session is None:
            settings = self.settings
            with self._lock:
                if self._session is None:
                    session = requests.Session()
                    session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=32))
                    session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=32))
                    session.headers.update(
                        {
                            "Authorization": f"Bearer {settings.api_key}",
                            "Accept": "application/json",
                            "User-Agent": "lago-netsuite-sync",
                        }
                    )
                    self._pacer = RequestPacer(settings.requests_per_second)
                    self._session = session
        return self._session

    def _request_once(self, path: str, query: list[tuple[str, str]]) -> dict:
        session, settings = self.get_conn(), self.settings
        endpoint = f"GET {path}"
        self._pacer.wait()
        started = time.monotonic()
        try:
            response = session.get(f"{settings.base_url}{path}", params=query, timeout=settings.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(
                f"could not reach Lago at {settings.base_url}: {type(exc).__name__}",
                conn_id=self.lago_conn_id,
                endpoint=endpoint,
            ) from exc
        log.debug(
            "%s page=%s -> HTTP %s in %.0f ms",
            endpoint,
            dict(query).get("page"),
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError as exc:
                raise TransientError(
                    "Lago answered 200 with a body that is not JSON",
                    conn_id=self.lago_conn_id,
                    endpoint=endpoint,
                    status=200,
                ) from exc
        raise self._classify(response, endpoint)

    def _classify(self, response: requests.Response, endpoint: str) -> LagoNetSuiteError:
        status, conn_id = response.status_code, self.lago_conn_id
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        error, code = body.get("error") or response.reason, body.get("code")
        where: dict[str, Any] = {"conn_id": conn_id, "endpoint": endpoint, "status": status, "code": code}
        if status in (401, 403):
            return CredentialsError(f"Lago refused the API key; check the password of connection {conn_id!r}", **where)
        if status == 429:
            reset = response.headers.get("X-RateLimit-Reset") or response.headers.get("Retry-After")
            return LagoThrottledError(f"Lago rate limit hit ({error})", retry_after=_seconds(reset), **where)
        if status >= 500:
            return TransientError(f"Lago answered {error}", **where)
        if status == 404:
            return NotFoundError(f"Lago has no such object or path ({error})", **where)
        details = body.get("error_details")
        return RequestRejectedError(
            f"Lago rejected the request: {error}" + (f"; details: {details}" if details else ""), **where
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, LagoThrottledError) and exc.retry_after is not None:
            self._pacer.pause(exc.retry_after)
            return exc.retry_after + random.uniform(0.0, 0.1)
        backoff = self.settings.retry_backoff_s
        return min(30.0, backoff * 2 ** (state.attempt_number - 1)) + random.uniform(0.0, backoff)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s; retrying in %.2f s (attempt %d of %d)",
            exc,
            state.next_action.sleep if state.next_action else 0.0,
            state.attempt_number,
            self.settings.max_retries + 1,
        )

    def get(self, path: str, params: Params = None) -> dict:
        """GET ``path`` (relative to the base URL, e.g. ``/invoices``) with retries; returns the JSON body."""
        query = encode_params(params)
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type((ThrottledError, TransientError)),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(self._request_once, path, query)

    def paginate_pages(
        self, path: str, params: Params = None, collection: str | None = None, per_page: int = 100
    ) -> Iterator[list[dict]]:
        """Yield a list endpoint's records one page at a time (``meta.next_page`` until null).

        ``collection`` is the response key holding the records (default: the path's last segment).
        Lists are newest first and shift while new documents arrive: page over bounded date
        windows and de-duplicate by ``lago_id`` (domain.md §1). Stop early by breaking out.
        """
        name = collection or path.rstrip("/").rsplit("/", 1)[-1]
        base = [(k, v) for k, v in encode_params(params) if k not in ("page", "per_page")]
        page: int | None = 1
        pages, count = 0, 0
        while page:
            body = self.get(path, [*base, ("page", str(page)), ("per_page", str(per_page))])
            records = body.get(name)
            if not isinstance(records, list):
                raise RequestRejectedError(
                    f"the answer has no {name!r} list; pass collection=",
                    conn_id=self.lago_conn_id,
                    endpoint=f"GET {path}",
                )
            pages, count = pages + 1, count + len(records)
            yield records
            page = (body.get("meta") or {}).get("next_page") if records else None
        log.info("fetched %d %s from %s over %d page(s)", count, name, path, pages)

    def paginate(
        self, path: str, params: Params = None, collection: str | None = None, per_page: int = 100
    ) -> Iterator[dict]:
        """Yield every record of a list endpoint (see :meth:`paginate_pages`); list params repeat as ``key[]``."""
        for records in self.paginate_pages(path, params, collection, per_page):
            yield from records

    def get_invoice(self, lago_id: str) -> dict:
        """One invoice with its fees, credits and subscriptions (``GET /invoices/{lago_id}``)."""
        return self.get(f"/invoices/{lago_id}")["invoice"]

    def fetch_many(self, items: Iterable[str], max_workers: int = 8, ahead: int | None = None) -> Iterator[dict]:
        """Fetch many details concurrently, within the hook's rate limit; yields in input order.

        ``items`` are paths (``/credit_notes/<id>``) or invoice ids, read lazily (a generator may
        page a list meanwhile). Each answer is unwrapped (``{"invoice": {...}}`` yields the invoice).
        At most ``ahead`` (default ``2 × max_workers``) requests are in flight or buffered, so any
        number of items streams in bounded memory; a larger ``ahead`` keeps the requests going while
        the caller stores what it got. The first error is raised in order, and the requests not yet
        started are cancelled.
        """
        self.get_conn()
        pending: deque[Future] = deque()
        fetched = 0
        window = max(ahead or 0, 2 * max_workers)
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lago-fetch") as pool:
            try:
                for item in items:
                    path = item if item.startswith("/") else f"/invoices/{item}"
                    pending.append(pool.submit(self.get, path))
                    if len(pending) >= window:
                        fetched += 1
                        yield _unwrap(pending.popleft().result())
                while pending:
                    fetched += 1
                    yield _unwrap(pending.popleft().result())
            finally:
                for future in pending:
                    future.cancel()
        log.info("fetched %d details with %d workers", fetched, max_workers)

    def fetch_invoices(self, lago_ids: Iterable[str], max_workers: int = 8, ahead: int | None = None) -> Iterator[dict]:
        """Full invoices (fees, credits) for ``lago_ids``, fetched concurrently, in input order."""
        return self.fetch_many((f"/invoices/{lago_id}" for lago_id in lago_ids), max_workers=max_workers,
                               ahead=ahead)

    def create_payment(self, *, invoice_id: str, amount_cents: int, reference: str,
                       paid_at: str | None = None) -> dict:
        """Record a manual payment (``POST /payments``); an unknown outcome raises OutcomeUnknownError.

        See :mod:`lago_netsuite.hooks.lago_payments`: never resent blindly — look it up first.
        """
        from lago_netsuite.hooks.lago_payments import create_payment

        return create_payment(self, invoice_id=invoice_id, amount_cents=amount_cents, reference=reference,
                              paid_at=paid_at)

    def find_payment(self, *, invoice_id: str, reference: str) -> dict | None:
        """The invoice's payment carrying ``reference``, or None (the look-up before any resend)."""
        from lago_netsuite.hooks.lago_payments import find_payment

        return find_payment(self, invoice_id=invoice_id, reference=reference)

    def test_connection(self) -> tuple[bool, str]:
        """Check the URL and key with one request (``GET /billing_entities``), as the Airflow UI does."""
        try:
            body = self._request_once("/billing_entities", [])
        except LagoNetSuiteError as exc:
            return False, str(exc)
        return True, f"Connected to Lago at {self.base_url}: {len(body.get('billing_entities', []))} billing entities"


def _seconds(value: str | None) -> float | None:
    """A rate-limit header as seconds (``None`` when absent or not a number)."""
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _unwrap(body: dict) -> dict:
    if isinstance(body, dict) and len(body) == 1:
        (value,) = body.values()
        if isinstance(value, dict):
            return value
    return body
