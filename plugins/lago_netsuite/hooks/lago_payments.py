"""Writing a manual payment to Lago (``POST /payments``) and finding one by its reference.

A POST is not retried blindly. Only what cannot have been processed is retried here: a 429 (Lago
refuses before doing anything) and a connection that was never established. Anything else whose
outcome is unknown — a 5xx, a read timeout, a connection broken after the request went out, a 200
that is not JSON — raises :class:`OutcomeUnknownError`: the caller looks the payment up by its
reference (:func:`find_payment`) before it ever sends it again. 404 raises :class:`NotFoundError`,
422 :class:`RequestRejectedError` with Lago's ``error_details``, 401/403 :class:`CredentialsError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from urllib3.exceptions import NewConnectionError

from lago_netsuite.hooks.errors import OutcomeUnknownError, ThrottledError, TransientError

log = logging.getLogger(__name__)
ENDPOINT = "POST /payments"


class LagoClient(Protocol):
    """What these functions use of :class:`lago_netsuite.hooks.lago.LagoHook` (which calls them)."""

    lago_conn_id: str
    _pacer: Any

    @property
    def settings(self) -> Any: ...

    def get_conn(self) -> requests.Session: ...

    def _classify(self, response: requests.Response, endpoint: str) -> Exception: ...

    def _wait(self, state: RetryCallState) -> float: ...

    def _before_sleep(self, state: RetryCallState) -> None: ...

    def paginate(self, path: str, params: Any = None, collection: str | None = None,
                 per_page: int = 100) -> Iterator[dict]: ...


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _post_once(hook: LagoClient, body: dict[str, Any]) -> dict[str, Any]:
    session, settings = hook.get_conn(), hook.settings
    where: dict[str, Any] = {"conn_id": hook.lago_conn_id, "endpoint": ENDPOINT}
    hook._pacer.wait()
    try:
        response = session.post(f"{settings.base_url}/payments", json=body, timeout=settings.timeout)
    except requests.RequestException as exc:
        if _never_sent(exc):
            raise TransientError(f"could not reach Lago: {type(exc).__name__}", **where) from exc
        raise OutcomeUnknownError(f"no complete answer ({type(exc).__name__}); look the payment up before "
                                  "resending", **where) from exc
    if response.status_code in (200, 201):
        try:
            answer = response.json()
            payment = answer["payment"]
            if not isinstance(payment, dict) or not payment.get("lago_id"):
                raise ValueError("no payment.lago_id")
            return payment
        except (ValueError, KeyError, TypeError) as exc:
            raise OutcomeUnknownError("Lago answered 200 with an unreadable body; look the payment up",
                                      status=response.status_code, **where) from exc
    if response.status_code >= 500:
        raise OutcomeUnknownError(f"Lago answered {response.status_code}; the payment may have been recorded: "
                                  "look it up before resending", status=response.status_code, **where)
    raise hook._classify(response, ENDPOINT)


def create_payment(hook: LagoClient, *, invoice_id: str, amount_cents: int, reference: str,
                   paid_at: str | None = None) -> dict[str, Any]:
    """Record a manual payment on a Lago invoice; returns Lago's payment (``lago_id``, ...)."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise ValueError(f"amount_cents must be a positive integer, got {amount_cents!r}")
    body: dict[str, Any] = {"payment": {"invoice_id": invoice_id, "amount_cents": amount_cents,
                                        "reference": reference}}
    if paid_at:
        body["payment"]["paid_at"] = paid_at
    retrying = Retrying(
        stop=stop_after_attempt(hook.settings.max_retries + 1), wait=hook._wait,
        retry=retry_if_exception_type((ThrottledError, TransientError)),  # never sent or refused unprocessed
        before_sleep=hook._before_sleep, reraise=True,
    )
    payment: dict[str, Any] = retrying(_post_once, hook, body)
    log.info("%s: payment %s of %d on invoice %s recorded", ENDPOINT, payment.get("lago_id"), amount_cents,
             invoice_id)
    return payment


def find_payment(hook: LagoClient, *, invoice_id: str, reference: str) -> dict[str, Any] | None:
    """The invoice's payment with this reference (``GET /payments?invoice_id=``), or None."""
    for payment in hook.paginate("/payments", {"invoice_id": invoice_id}, collection="payments"):
        if payment.get("reference") == reference:
            return payment
    return None
