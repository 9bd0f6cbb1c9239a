"""Checks made before a record is saved: its shape (before the look-up) and its field values.

They follow the order in which the SuiteScript RESTlet meets them, so both sides answer the same
code for the same record and charge the same units (see ``batch.py``):

1. shape, before any API call: ``columns``/``options`` objects, ``isDynamic`` boolean, ``lines``
   and ``taxdetails`` lists of ``{sublistId, lineItems: [objects]}``, every apply line with a
   ``doc`` — ``INVALID_FLD_VALUE``;
2. after ``record.create``: a record with apply lines is created with its customer, which must
   exist (``INVALID_KEY_OR_REF`` on ``entity`` / ``customer``); then every value is set — an
   object (an unresolved ``{"$ref": ...}``) or a date that is not ``M/D/YYYY`` is refused with
   ``INVALID_FLD_VALUE``; each apply ``doc`` must be an open invoice of that customer
   (``INVALID_KEY_OR_REF`` "Invalid doc reference key X."); a customer's e-mail, phone or name
   NetSuite does not accept (one address per e-mail field, a phone of seven digits or more, names
   within their lengths: ``lago_netsuite.netsuite_fields``) is ``INVALID_FLD_VALUE``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from lago_netsuite import netsuite_fields
from lago_netsuite_dev.sandbox.netsuite.store import RecordStore
from lago_netsuite_dev.sandbox.netsuite.validation import RecordFailure, customer_field

DATE_FIELDS = frozenset({"trandate", "duedate", "custcol_service_period_date_from", "custcol_service_period_date_to"})
_DATE_TEXT = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
# Set after the lines (legacy tax total) or after the apply list (payment amount), as the script does.
_LATE_FIELDS = ("taxamountoverride", "payment")


def check_shape(record: dict[str, Any]) -> None:
    """Raise RecordFailure (INVALID_FLD_VALUE) when a create's body is not shaped as the contract says."""
    if "columns" in record and not isinstance(record["columns"], dict):
        raise RecordFailure("INVALID_FLD_VALUE", "columns must be a JSON object.")
    if "options" in record and not isinstance(record["options"], dict):
        raise RecordFailure("INVALID_FLD_VALUE", "options must be a JSON object.")
    if "isDynamic" in record and not isinstance(record["isDynamic"], bool):
        raise RecordFailure("INVALID_FLD_VALUE", "isDynamic must be true or false.")
    for key in ("lines", "taxdetails"):
        if key not in record:
            continue
        groups = record[key]
        valid = isinstance(groups, list) and all(
            isinstance(group, dict) and isinstance(group.get("sublistId"), str) and group["sublistId"] != ""
            and isinstance(group.get("lineItems"), list) and all(isinstance(row, dict) for row in group["lineItems"])
            for group in groups
        )
        if not valid:
            raise RecordFailure("INVALID_FLD_VALUE", f"{key} must be a list of {{sublistId, lineItems: [objects]}}.")
    for index, row in enumerate(_rows(record, "lines", "apply")):
        doc = row.get("doc")
        if isinstance(doc, bool) or not isinstance(doc, str | int | float):
            raise RecordFailure("INVALID_FLD_VALUE", f"apply line {index} has no doc (the internal id of the invoice).")


def check_values(record_type: str, record: dict[str, Any], store: RecordStore, call_id: int) -> None:
    """Raise RecordFailure for the first value ``record.create`` + ``setValue`` would refuse."""
    columns = record.get("columns") or {}
    apply_rows = _rows(record, "lines", "apply")
    customer = columns.get(customer_field(record_type))
    if apply_rows and customer not in (None, "") and _customer(customer, store, call_id) is None:
        name = customer_field(record_type)
        raise RecordFailure("INVALID_KEY_OR_REF", f"Invalid {name} reference key {customer}.")
    for field_id, value in columns.items():
        if field_id not in _LATE_FIELDS:
            check_value(field_id, value)
            if record_type == "customer":
                _check_customer_field(field_id, value)
    for group in record.get("lines") or []:
        if group["sublistId"] != "apply":
            for row in group["lineItems"]:
                for field_id, value in row.items():
                    check_value(field_id, value)
    for group in record.get("taxdetails") or []:
        for row in group["lineItems"]:
            for field_id, value in row.items():
                check_value(field_id, value)
    if "taxamountoverride" in columns:
        check_value("taxamountoverride", columns["taxamountoverride"])
    for row in apply_rows:
        doc = _id_text(row["doc"])
        open_doc = _is_open_memo if record_type == "customerrefund" else _is_open_invoice
        if not open_doc(doc, customer, store, call_id):
            raise RecordFailure("INVALID_KEY_OR_REF", f"Invalid doc reference key {doc}.")
        for field_id, value in row.items():
            if field_id != "doc":
                check_value(field_id, value)
    if "payment" in columns:
        check_value("payment", columns["payment"])


def check_value(field_id: str, value: Any) -> None:
    """Refuse what ``setValue`` refuses: objects, and dates that are not real ``M/D/YYYY`` dates."""
    if isinstance(value, dict) or (field_id in DATE_FIELDS and not _is_date(value)) or (
        "date" in field_id and isinstance(value, str) and _DATE_TEXT.match(value) and not _is_date(value)
    ):
        shown = "[object Object]" if isinstance(value, dict) else value
        raise RecordFailure(
            "INVALID_FLD_VALUE", f"You have entered an Invalid Field Value {shown} for the following field: {field_id}"
        )


def _check_customer_field(field_id: str, value: Any) -> None:
    """Refuse a customer value NetSuite's field does not accept (an address list, a short phone...)."""
    problem = netsuite_fields.customer_field_problem(field_id, value)
    if problem:
        raise RecordFailure(
            "INVALID_FLD_VALUE",
            f"You have entered an Invalid Field Value {value} for the following field: {field_id} ({problem})",
        )


def _is_date(value: Any) -> bool:
    match = _DATE_TEXT.match(value) if isinstance(value, str) else None
    if match is None:
        return False
    month, day, year = (int(part) for part in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _rows(record: dict[str, Any], key: str, sublist_id: str) -> list[dict[str, Any]]:
    groups = record.get(key)
    if not isinstance(groups, list):
        return []
    return [row for group in groups if isinstance(group, dict) and group.get("sublistId") == sublist_id
            for row in group.get("lineItems") or [] if isinstance(row, dict)]


def _id_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _customer(value: Any, store: RecordStore, call_id: int) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return store.by_id(str(value), "customer", call_id)


def _is_open_memo(doc: str, customer: Any, store: RecordStore, call_id: int) -> bool:
    """True when ``doc`` is a credit memo of the customer, not voided (what a customer refund applies to)."""
    if customer in (None, "") or _customer(customer, store, call_id) is None:
        return False
    memo = store.by_id(doc, "creditmemo", call_id)
    if memo is None or memo.voided:
        return False
    return str((memo.body.get("columns") or {}).get("entity")) == str(customer)


def _is_open_invoice(doc: str, customer: Any, store: RecordStore, call_id: int) -> bool:
    """True when NetSuite lists ``doc`` in the apply sublist: one of the customer's invoices, not voided.

    Looked up by id, not by listing the customer's invoices: a scan of every invoice for every
    payment made the sandbox itself the bottleneck of a large sync.
    """
    if customer in (None, "") or _customer(customer, store, call_id) is None:
        return False
    invoice = store.by_id(doc, "invoice", call_id)
    if invoice is None or invoice.voided:
        return False
    entity = (invoice.body.get("columns") or {}).get("entity") if isinstance(invoice.body, dict) else None
    return entity is None or str(entity) == str(customer)
