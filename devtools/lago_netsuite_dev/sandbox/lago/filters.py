"""Query parameters of the Lago sandbox's list endpoints: pagination and per-collection filters.

Names and semantics follow lago-api's controllers: ``statuses[]`` (or ``status``) with all
visible statuses by default, ``payment_statuses[]`` (or ``payment_status``), inclusive ISO
``issuing_date_from/to``, ``billing_entity_codes[]`` answering 404 ``billing_entity_not_found``
when a code is unknown, ``external_customer_id`` (alias ``customer_external_id``) and so on.
Invalid values answer 422 ``validation_errors`` with ``error_details``, as Lago's filter contracts do.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date

from starlette.datastructures import QueryParams

from .store import ApiError

Filter = tuple[Hashable, Callable[[dict], bool] | None, tuple[tuple, tuple] | None]

INVOICE_STATUSES = ("draft", "finalized", "voided", "failed", "pending")
PAYMENT_STATUSES = ("pending", "succeeded", "failed")
INVOICE_TYPES = ("subscription", "add_on", "credit", "one_off", "advance_charges", "progressive_billing")


def _invalid(field: str, code: str) -> ApiError:
    return ApiError(422, "Unprocessable Entity", "validation_errors", {field: [code]})


def page_params(query: QueryParams) -> tuple[int, int]:
    """``page`` (default 1) and ``per_page`` (default 100, no maximum, as in lago-api)."""
    values = []
    for name, default in (("page", 1), ("per_page", 100)):
        raw = query.get(name)
        if raw in (None, ""):
            values.append(default)
            continue
        try:
            value = int(raw)
        except ValueError as exc:
            raise ApiError(400, f"BadRequest: {name} must be an integer") from exc
        values.append(value if value > 0 else default)
    return values[0], values[1]


def _date(query: QueryParams, name: str) -> date | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise _invalid(name, "invalid_date") from exc


def _many(query: QueryParams, name: str, single: str | None, allowed: tuple[str, ...] | None) -> frozenset[str]:
    values = [v for v in query.getlist(f"{name}[]") + query.getlist(name) if v != ""]
    if single and query.get(single):
        values.append(query[single])
    if allowed is not None:
        for value in values:
            if value not in allowed:
                raise _invalid(name, "invalid_value")
    return frozenset(values)


def _entities(query: QueryParams, known: frozenset[str]) -> frozenset[str]:
    codes = _many(query, "billing_entity_codes", None, None)
    if codes - known:
        raise ApiError(404, "Not Found", "billing_entity_not_found")
    return codes


def _customer(query: QueryParams) -> str | None:
    return query.get("external_customer_id") or query.get("customer_external_id") or None


def _int(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise _invalid(name, "invalid_value") from exc


def _search(query: QueryParams, fields: tuple[str, ...]) -> Callable[[dict], bool] | None:
    """``search_term``: case-insensitive match on the document's number/id and its customer, as lago-api."""
    term = (query.get("search_term") or "").strip().lower()
    if not term:
        return None

    def hit(doc: dict) -> bool:
        customer = doc.get("customer") or {}
        values = [doc.get(f) for f in fields] + [customer.get(f) for f in ("name", "external_id", "email")]
        return any(term in str(v).lower() for v in values if v)

    return hit


def invoice_filter(query: QueryParams, entities: frozenset[str]) -> Filter:
    """Filters of ``GET /invoices``; the date window is cut on the sort order."""
    start, end = _date(query, "issuing_date_from"), _date(query, "issuing_date_to")
    statuses = _many(query, "statuses", "status", INVOICE_STATUSES) or frozenset(INVOICE_STATUSES)
    payment = _many(query, "payment_statuses", "payment_status", PAYMENT_STATUSES)
    customer, currency = _customer(query), query.get("currency") or None
    kind = query.get("invoice_type") or None
    if kind is not None and kind not in INVOICE_TYPES:
        raise _invalid("invoice_type", "invalid_value")
    codes = _entities(query, entities)
    low, high = _int(query, "amount_from"), _int(query, "amount_to")
    self_billed = query.get("self_billed")
    billed = None if self_billed in (None, "") else self_billed.lower() == "true"
    search = _search(query, ("number", "lago_id"))

    def keep(doc: dict) -> bool:
        return (
            (search is None or search(doc))
            and doc["status"] in statuses
            and (not payment or doc["payment_status"] in payment)
            and (customer is None or doc["customer"]["external_id"] == customer)
            and (currency is None or doc["currency"] == currency)
            and (kind is None or doc["invoice_type"] == kind)
            and (not codes or doc["billing_entity_code"] in codes)
            and (low is None or doc["total_amount_cents"] >= low)
            and (high is None or doc["total_amount_cents"] <= high)
            and (billed is None or doc.get("self_billed") is billed)
        )

    window = None
    if start or end:
        window = (
            (-end.toordinal(),) if end else (float("-inf"),),
            (-start.toordinal() + 1,) if start else (float("inf"),),
        )
    key = (
        "invoices",
        start,
        end,
        statuses,
        payment,
        customer,
        currency,
        kind,
        codes,
        low,
        high,
        billed,
        query.get("search_term"),
    )
    return key, keep, window


def credit_note_filter(query: QueryParams, entities: frozenset[str]) -> Filter:
    """Filters of ``GET /credit_notes`` (finalized credit notes only, as lago-api lists them)."""
    start, end = _date(query, "issuing_date_from"), _date(query, "issuing_date_to")
    first, last = (start.isoformat() if start else None), (end.isoformat() if end else None)
    customer, currency = _customer(query), query.get("currency") or None
    codes = _entities(query, entities)
    simple = {name: query.get(name) or None for name in ("invoice_number", "reason", "credit_status", "refund_status")}
    search = _search(query, ("number", "lago_id", "invoice_number"))

    def keep(doc: dict) -> bool:
        return (
            (search is None or search(doc))
            and (first is None or doc["issuing_date"] >= first)
            and (last is None or doc["issuing_date"] <= last)
            and (customer is None or doc["customer"]["external_id"] == customer)
            and (currency is None or doc["currency"] == currency)
            and (not codes or doc["billing_entity_code"] in codes)
            and all(v is None or doc.get(k) == v for k, v in simple.items())
        )

    key = ("credit_notes", first, last, customer, currency, codes, tuple(simple.items()), query.get("search_term"))
    return key, keep, None


def payment_filter(query: QueryParams, entities: frozenset[str]) -> Filter:
    """Filters of ``GET /payments``: ``external_customer_id`` and ``invoice_id`` only."""
    customer, invoice = _customer(query), query.get("invoice_id") or None
    if customer is None and invoice is None:
        return ("payments",), None, None

    def keep(doc: dict) -> bool:
        return (customer is None or doc["external_customer_id"] == customer) and (
            invoice is None or invoice in doc["invoice_ids"]
        )

    return ("payments", customer, invoice), keep, None


def customer_filter(query: QueryParams, entities: frozenset[str]) -> Filter:
    """Filters of ``GET /customers``: billing entities, currencies, customer type."""
    codes = _entities(query, entities)
    currencies = _many(query, "currencies", None, None)
    kind = query.get("customer_type") or None
    if not codes and not currencies and kind is None:
        return ("customers",), None, None

    def keep(doc: dict) -> bool:
        return (
            (not codes or doc["billing_entity_code"] in codes)
            and (not currencies or doc["currency"] in currencies)
            and (kind is None or doc["customer_type"] == kind)
        )

    return ("customers", codes, currencies, kind), keep, None


def wallet_filter(query: QueryParams, entities: frozenset[str]) -> Filter:
    """Filters of ``GET /wallets``: customer, currency, billing entities."""
    customer, currency = _customer(query), query.get("currency") or None
    codes = _entities(query, entities)

    def keep(doc: dict) -> bool:
        return (
            (customer is None or doc["external_customer_id"] == customer)
            and (currency is None or doc["currency"] == currency)
            and (not codes or doc.get("billing_entity_code") in codes)
        )

    return ("wallets", customer, currency, codes), keep, None


def no_filter(query: QueryParams, entities: frozenset[str]) -> Filter:
    """Catalog lists take no filter."""
    return ("all",), None, None
