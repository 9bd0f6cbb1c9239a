"""NetSuite payments for the way back to Lago: the ``action=payments`` listing and the accountant.

The listing (contract 2, "Listing NetSuite payments"): every customer payment and credit memo that
applies to at least one invoice carrying a Lago id (``custbody_lago_id``), modified at or after
``since``, oldest change first (ties by internal id), at most :data:`PAGE_SIZE` a page. The cursor
is the ``(lastModified, id)`` of the last payment of the page, so a payment changed while a client
pages on moves behind the cursor and is listed again on a later page — never lost.

The accountant (admin endpoints, loopback, no OAuth) records what a person enters in NetSuite's UI:

- ``POST /_sandbox/payments`` ``{"applications": [{"doc": "<invoice id>", "amount": 40.0}, ...],
  "trandate"?: "3/4/2025", "tranid"?: "PYMT-88", "memo"?: "..."}`` → the new customer payment
  (no external id, like one keyed in by hand). Refused (400) when an invoice is unknown or voided,
  the invoices belong to different customers or currencies, or an amount is not positive or exceeds
  what is due on the invoice.
- ``POST /_sandbox/payments/{id}/void`` → the payment voided (its ``lastModified`` moves).
- ``POST /_sandbox/payments/{id}`` ``{"applications": [...]}`` → its applications replaced (an edit).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lago_netsuite.money import exponent
from lago_netsuite_dev.sandbox.netsuite.store import RecordStore, StoredRecord, jsonable

if TYPE_CHECKING:
    from lago_netsuite_dev.sandbox.netsuite.app import SandboxState

PAGE_SIZE = 200
LISTED_TYPES = ("customerpayment", "creditmemo")
ENTERED_PREFIX = "netsuite-entered-"  # the store key of a payment keyed in by hand (its externalId is null)


class PaymentRefused(ValueError):
    """What NetSuite's UI would refuse when the accountant saves the payment."""


def _iso(stamp: str) -> str:
    """The store's ``+00:00`` stamps as ``...Z`` (ISO 8601 UTC, milliseconds)."""
    return datetime.fromisoformat(stamp).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_since(since: str | None) -> datetime:
    if not since:
        return datetime.min.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def encode_cursor(last_modified: str, record_id: str) -> str:
    """The opaque cursor after a payment."""
    return base64.urlsafe_b64encode(json.dumps([last_modified, record_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """``(lastModified, id)`` of a cursor; ValueError when it is not one of ours."""
    try:
        stamp, record_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"Invalid cursor {cursor!r}.") from exc
    if not isinstance(stamp, str) or not isinstance(record_id, str):
        raise ValueError(f"Invalid cursor {cursor!r}.")
    return stamp, record_id


def _apply_rows(record: StoredRecord) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entry in record.body.get("lines") or []:
        if isinstance(entry, dict) and entry.get("sublistId") == "apply":
            rows += [r for r in entry.get("lineItems") or [] if isinstance(r, dict) and r.get("apply", True)]
    return rows


def _lago_invoice(store: RecordStore, doc: Any) -> StoredRecord | None:
    invoice = store.by_id(str(doc), "invoice")
    if invoice is None or not (invoice.body.get("columns") or {}).get("custbody_lago_id"):
        return None
    return invoice


def payment_view(store: RecordStore, record: StoredRecord) -> dict[str, Any] | None:
    """One payment as the listing shows it, or None when it applies to no invoice with a Lago id."""
    applications = []
    for row in _apply_rows(record):
        invoice = _lago_invoice(store, row.get("doc"))
        if invoice is not None:
            applications.append({"doc": invoice.id, "docExternalId": invoice.external_id,
                                 "amount": jsonable(Decimal(str(row.get("amount", 0))))})
    if not applications:
        return None
    columns = record.body.get("columns") or {}
    entered = record.external_id.startswith(ENTERED_PREFIX)
    return {
        "id": record.id, "type": record.type,
        "tranid": columns.get("tranid") or f"{'PYMT' if record.type == 'customerpayment' else 'CM'}-{record.id}",
        "trandate": columns.get("trandate"), "currency": None if columns.get("currency") is None
        else str(columns["currency"]), "lastModified": _iso(record.last_modified), "voided": record.voided,
        "externalId": None if entered else record.external_id, "applications": applications,
    }


def list_payments(store: RecordStore, since: str | None, cursor: str | None,
                  page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of the ``action=payments`` listing (ValueError for a malformed ``since`` or cursor)."""
    after = decode_cursor(cursor) if cursor else None
    floor = _parse_since(since)
    keyed = []
    for record in store.records():
        if record.type not in LISTED_TYPES:
            continue
        stamp = _iso(record.last_modified)
        if _parse_since(stamp) < floor:
            continue
        key = (stamp, len(record.id), record.id)
        if after is not None and key <= (after[0], len(after[1]), after[1]):
            continue
        keyed.append((key, record))
    keyed.sort(key=lambda pair: pair[0])
    page: list[dict[str, Any]] = []
    last_key: tuple[str, int, str] | None = None
    more = False
    for key, record in keyed:
        view = payment_view(store, record)
        if view is None:
            continue
        if len(page) == page_size:
            more = True
            break
        page.append(view)
        last_key = key
    return {"payments": page,
            "next": encode_cursor(last_key[0], last_key[2]) if more and last_key is not None else None}


def invoice_due(store: RecordStore, invoice: StoredRecord, *, ignore: str | None = None) -> Decimal:
    """What is still due on an invoice: its total less every non-voided application to it."""
    applied = Decimal(0)
    for record in store.records():
        if record.type in LISTED_TYPES and not record.voided and record.id != ignore:
            applied += sum((Decimal(str(r.get("amount", 0))) for r in _apply_rows(record)
                            if str(r.get("doc")) == invoice.id), Decimal(0))
    return Decimal(invoice.total or 0) - applied


def _checked_applications(state: SandboxState, raw: Any, *, ignore: str | None = None,
                          ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The applications as stored and the payment's customer and currency; PaymentRefused if NetSuite would."""
    store = state.store
    if not isinstance(raw, list) or not raw:
        raise PaymentRefused("applications must be a non-empty list of {doc, amount}")
    rows, customers, currencies = [], set(), set()
    for item in raw:
        if not isinstance(item, dict):
            raise PaymentRefused("each application is an object {doc, amount}")
        invoice = store.by_id(str(item.get("doc")), "invoice")
        if invoice is None or invoice.voided:
            raise PaymentRefused(f"Invalid doc reference key {item.get('doc')}: no open invoice with that id.")
        amount = Decimal(str(item.get("amount")))
        columns = invoice.body.get("columns") or {}
        currency = columns.get("currency")
        iso = state.config.currencies.get(str(currency))
        if amount <= 0 or (iso and amount != amount.quantize(Decimal(1).scaleb(-exponent(iso)))):
            raise PaymentRefused(f"amount {amount} on invoice {invoice.id} must be positive, in the currency's unit")
        due = invoice_due(store, invoice, ignore=ignore)
        if amount > due:
            raise PaymentRefused(f"amount {amount} exceeds the {due} due on invoice {invoice.id}")
        customers.add(str(columns.get("entity")))
        currencies.add(str(currency))
        rows.append({"doc": invoice.id, "apply": True, "amount": amount})
    if len(customers) > 1 or len(currencies) > 1:
        raise PaymentRefused("a payment applies to invoices of one customer in one currency")
    return rows, {"customer": customers.pop(), "currency": currencies.pop()}


def record_payment(state: SandboxState, body: dict[str, Any]) -> StoredRecord:
    """The accountant saves a customer payment on NetSuite invoices."""
    rows, header = _checked_applications(state, body.get("applications"))
    total = sum((r["amount"] for r in rows), Decimal(0))
    today = datetime.now(UTC).date()
    trandate = body.get("trandate") or f"{today.month}/{today.day}/{today.year}"
    columns = {**header, "payment": total, "trandate": trandate, "memo": body.get("memo") or "entered in NetSuite"}
    if body.get("tranid"):
        columns["tranid"] = str(body["tranid"])
    store = state.store
    marker = f"{ENTERED_PREFIX}{len(store.records('customerpayment')) + 1}-{datetime.now(UTC).timestamp()}"
    record = StoredRecord(type="customerpayment", id="", external_id=marker,
                          body={"columns": columns, "lines": [{"sublistId": "apply", "lineItems": rows}]},
                          total=str(total))
    return store.seed(record)


def _entered(state: SandboxState, record_id: str) -> StoredRecord:
    record = state.store.by_id(record_id, "customerpayment")
    if record is None:
        raise PaymentRefused(f"no customer payment {record_id}")
    return record


def payments_router(state: SandboxState) -> APIRouter:
    """The accountant's endpoints (mounted under ``/_sandbox`` next to the other admin routes)."""
    from fastapi import Depends

    from lago_netsuite_dev.sandbox.netsuite.admin import _loopback_only

    router = APIRouter(prefix="/_sandbox/payments", dependencies=[Depends(_loopback_only)])

    def refused(exc: Exception) -> JSONResponse:
        return JSONResponse({"error": {"code": "USER_ERROR", "message": str(exc)}}, status_code=400)

    @router.post("")
    async def create(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise PaymentRefused("the body must be a JSON object")
            record = record_payment(state, body)
        except (ValueError, ArithmeticError) as exc:
            return refused(exc)
        return JSONResponse({"payment": payment_view(state.store, record), "record": record.to_json()})

    @router.post("/{record_id}/void")
    async def void(record_id: str) -> JSONResponse:
        try:
            record = _entered(state, record_id)
        except PaymentRefused as exc:
            return refused(exc)
        state.store.void(record)
        return JSONResponse({"payment": payment_view(state.store, record)})

    @router.post("/{record_id}")
    async def edit(record_id: str, request: Request) -> JSONResponse:
        try:
            record = _entered(state, record_id)
            body = json.loads(await request.body() or b"{}")
            rows, _ = _checked_applications(state, body.get("applications"), ignore=record.id)
        except (ValueError, ArithmeticError) as exc:
            return refused(exc)
        record.body["lines"] = [{"sublistId": "apply", "lineItems": rows}]
        record.body["columns"]["payment"] = sum((r["amount"] for r in rows), Decimal(0))
        state.store.touch(record)
        return JSONResponse({"payment": payment_view(state.store, record)})

    return router
