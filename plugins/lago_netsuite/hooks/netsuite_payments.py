"""The RESTlet's payments listing (contract 2, ``GET ...&action=payments&since=&cursor=``).

A GET: idempotent, so the hook retries throttling and transient faults as for look-ups. Each page
is checked for the contract's shape; an answer that is not one raises :class:`TransientError`
(the next run reads the same pages again from the same watermark).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lago_netsuite.hooks.errors import TransientError

if TYPE_CHECKING:
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook

log = logging.getLogger(__name__)

MAX_PAGES = 10_000  # a cursor that never ends is a broken RESTlet, not a long history


@dataclass(frozen=True)
class Application:
    """One NetSuite payment's application to one invoice that carries a Lago id."""

    doc: str
    doc_external_id: str
    amount: Decimal


@dataclass(frozen=True)
class NetSuitePayment:
    """One entry of the listing (amounts exact: parsed from the JSON text as Decimal)."""

    id: str
    type: str
    tranid: str | None
    trandate: str | None
    currency: str | None
    last_modified: str
    voided: bool
    external_id: str | None
    applications: tuple[Application, ...]

    @property
    def from_lago(self) -> bool:
        """True for a payment or credit memo this project created from Lago: never sent back."""
        return bool(self.external_id) and str(self.external_id).startswith("lago-")


def _payment(raw: Any, hook: NetSuiteRestletHook) -> NetSuitePayment:
    try:
        apps = tuple(Application(str(a["doc"]), str(a["docExternalId"]), Decimal(str(a["amount"])))
                     for a in raw["applications"])
        return NetSuitePayment(
            id=str(raw["id"]), type=str(raw["type"]), tranid=raw.get("tranid"), trandate=raw.get("trandate"),
            currency=None if raw.get("currency") is None else str(raw["currency"]),
            last_modified=str(raw["lastModified"]), voided=bool(raw.get("voided")),
            external_id=raw.get("externalId"), applications=apps,
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise TransientError(f"a payments listing entry is malformed: {type(exc).__name__} {exc}",
                             conn_id=hook.netsuite_conn_id, endpoint=hook._endpoint("GET"), status=200) from exc


def iter_payment_pages(hook: NetSuiteRestletHook, since: str) -> Iterator[list[NetSuitePayment]]:
    """Yield the listing page by page from ``since`` (ISO 8601 UTC), following ``next``."""
    cursor = ""
    for _ in range(MAX_PAGES):
        payload = hook._request("GET", {"action": "payments", "since": since, "cursor": cursor}, None,
                                idempotent=True)
        payments = payload.get("payments") if isinstance(payload, dict) else None
        nxt = payload.get("next") if isinstance(payload, dict) else None
        if not isinstance(payments, list) or not (nxt is None or isinstance(nxt, str)):
            raise TransientError("the payments listing answer has no payments list",
                                 conn_id=hook.netsuite_conn_id, endpoint=hook._endpoint("GET"), status=200)
        yield [_payment(p, hook) for p in payments]
        if not nxt:
            return
        cursor = nxt
    raise TransientError(f"the payments listing did not end after {MAX_PAGES} pages",
                         conn_id=hook.netsuite_conn_id, endpoint=hook._endpoint("GET"))


def list_payments(hook: NetSuiteRestletHook, since: str) -> list[NetSuitePayment]:
    """Every payment of the listing from ``since``; a payment listed twice (changed while paging) once, last wins."""
    found: dict[tuple[str, str], NetSuitePayment] = {}
    pages = 0
    for page in iter_payment_pages(hook, since):
        pages += 1
        for p in page:
            found.pop((p.type, p.id), None)
            found[(p.type, p.id)] = p
    log.info("NetSuite payments listing since %s: %d payments over %d page(s)", since, len(found), pages)
    return list(found.values())
