"""Checks made when a record is saved: references, then the invariant.

References are what NetSuite itself refuses at save (``INVALID_KEY_OR_REF``, or ``USER_ERROR``
for a missing customer or item). The invariant is the contract's promise that the loader only
sends balanced documents: the sandbox re-checks it on every document so a transform bug shows up
as a ``failed`` record in tests rather than as a wrong ledger in NetSuite. All arithmetic is
Decimal on the numbers exactly as they were sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lago_netsuite.money import InexactAmountError, exponent, to_minor
from lago_netsuite_dev.sandbox.netsuite.config import NetSuiteSandboxConfig
from lago_netsuite_dev.sandbox.netsuite.store import RecordStore

# The Lago document kind in an externalId (``lago-{kind}-{id}``) per NetSuite record type.
KIND_BY_TYPE = {
    "customer": "customer", "invoice": "invoice", "salesorder": "salesorder",
    "creditmemo": "creditnote", "customerpayment": "payment", "customerrefund": "refund",
}
# Documents whose total NetSuite refuses to be negative.
TOTALLED_TYPES = frozenset({"invoice", "salesorder", "creditmemo"})


def customer_field(record_type: str) -> str:
    """The body field holding a transaction's customer: ``customer`` on a payment, else ``entity``."""
    return "customer" if record_type in ("customerpayment", "customerrefund") else "entity"


class RecordFailure(Exception):
    """A record refused with a NetSuite error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Totals:
    """A document's exact totals as sent: item lines, tax, and their sum (the payment for payments)."""

    lines: Decimal | None
    tax: Decimal | None
    total: Decimal


def sublist_rows(record: dict[str, Any], key: str, sublist_id: str) -> list[dict[str, Any]]:
    """Rows of every ``{sublistId, lineItems}`` entry named ``sublist_id`` under ``record[key]``."""
    entries = record.get(key) or []
    if not isinstance(entries, list):
        raise RecordFailure("INVALID_FLD_VALUE", f"{key} must be a list of sublists.")
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("lineItems", []), list):
            raise RecordFailure("INVALID_FLD_VALUE", f"{key} entries must be {{sublistId, lineItems}}.")
        if entry.get("sublistId") == sublist_id:
            for row in entry.get("lineItems", []):
                if not isinstance(row, dict):
                    raise RecordFailure("INVALID_FLD_VALUE", f"{sublist_id} lines must be objects.")
                rows.append(row)
    return rows


def check_references(
    record_type: str, record: dict[str, Any], config: NetSuiteSandboxConfig, store: RecordStore, call_id: int
) -> None:
    """Raise RecordFailure for the first reference NetSuite would not resolve at save.

    Order: the customer of a transaction (``entity``, or ``customer`` on payments), subsidiary,
    currency, then the item of each item line.
    """
    columns = record.get("columns") or {}
    if record_type != "customer":
        name = customer_field(record_type)
        value = columns.get(name, "")
        if value == "":
            raise RecordFailure("USER_ERROR", f"Please enter value(s) for: {name}.")
        if not _is_id(value) or store.by_id(str(value), "customer", call_id) is None:
            raise _invalid(name, value)
    _check_set("subsidiary", columns, config.valid_subsidiaries)
    _check_set("currency", columns, config.valid_currencies)
    for row in sublist_rows(record, "lines", "item"):
        if row.get("item") in (None, ""):
            raise RecordFailure("USER_ERROR", "Please enter value(s) for: item.")
        _check_set("item", row, config.valid_items)


# How NetSuite names the standard fields in "Please enter value(s) for: ..." (custom ones by id).
FIELD_LABELS = {"department": "Department", "class": "Class", "location": "Location"}


def check_required(record_type: str, record: dict[str, Any], config: NetSuiteSandboxConfig) -> None:
    """Raise USER_ERROR for the account's mandatory fields a record leaves empty, as NetSuite does at
    save (unless the record asks ``options.ignoreMandatoryFields``)."""
    required = config.required_fields.get(record_type)
    options = record.get("options") or {}
    if not required or options.get("ignoreMandatoryFields") is True:
        return
    columns = record.get("columns") or {}
    missing = []
    for name in required:
        sublist, _, line_field = name.rpartition(".")
        empty = any(row.get(line_field) in (None, "") for row in sublist_rows(record, "lines", sublist)) \
            if sublist else columns.get(name) in (None, "")
        if empty:
            missing.append(FIELD_LABELS.get(line_field, line_field))
    if missing:
        raise RecordFailure("USER_ERROR", f"Please enter value(s) for: {', '.join(missing)}")


def compute_totals(record_type: str, record: dict[str, Any]) -> Totals | None:
    """Exact totals of a transaction (None for a customer); RecordFailure for a non-number amount."""
    columns = record.get("columns") or {}
    if record_type == "customer":
        return None
    if record_type == "customerpayment":
        return Totals(None, None, _number(columns.get("payment"), "payment"))
    if record_type == "customerrefund":  # a refund is what it applies to its credit memos
        refunded = [_number(r.get("amount"), "amount") for r in sublist_rows(record, "lines", "apply")]
        return Totals(None, None, sum(refunded, Decimal(0)))
    lines = Decimal(0)
    for row in sublist_rows(record, "lines", "item"):
        if "amount" in row:
            lines += _number(row["amount"], "amount")
        else:  # NetSuite derives the amount from rate x quantity when it is not given
            lines += _number(row.get("rate"), "rate") * _number(row.get("quantity", 1), "quantity")
    tax_rows = sublist_rows(record, "taxdetails", "taxdetails")
    if tax_rows:
        tax = sum((_number(row.get("taxamount"), "taxamount") for row in tax_rows), Decimal(0))
    elif columns.get("taxamountoverride") is not None:
        tax = _number(columns["taxamountoverride"], "taxamountoverride")
    else:
        tax = Decimal(0)
    return Totals(lines, tax, lines + tax)


def check_invariant(
    record_type: str, external_id: str, record: dict[str, Any], totals: Totals, config: NetSuiteSandboxConfig
) -> None:
    """Raise RecordFailure unless the document is balanced as the contract requires.

    Checked in order: a total that is not negative (as NetSuite checks it, on invoices, sales
    orders and credit memos), amounts within the currency's decimals (when the currency id is
    known), tax detail rows pointing at existing lines, and the oracle.
    """
    columns = record.get("columns") or {}
    if record_type in TOTALLED_TYPES and totals.total < 0:
        raise RecordFailure("USER_ERROR", "total can not be negative")
    iso = config.currencies.get(str(columns.get("currency")))
    if iso is not None:
        for name, amount in _amounts(record_type, record):
            try:
                to_minor(amount, iso)
            except InexactAmountError as exc:
                raise RecordFailure(
                    "INVALID_FLD_VALUE",
                    f"Invalid {name} {amount}: {iso} amounts have at most {exponent(iso)} decimals.",
                ) from exc
    references = {row.get("taxdetailsreference") for row in sublist_rows(record, "lines", "item")}
    references.discard(None)
    for row in sublist_rows(record, "taxdetails", "taxdetails"):
        ref = row.get("taxdetailsreference")
        if ref is None or ref not in references:
            raise RecordFailure(
                "INVALID_FLD_VALUE", f"Tax detail reference {ref} does not match any item line."
            )
    oracle = config.expected_totals
    lago_id = columns.get("custbody_lago_id")
    if oracle is None or not isinstance(lago_id, str):
        return
    parts = external_id.split("-", 2)
    kind = parts[1] if len(parts) == 3 and parts[0] == "lago" else KIND_BY_TYPE[record_type]
    expected = oracle(kind, lago_id)
    allowed = {Decimal(e) for e in expected} if isinstance(expected, set | frozenset | tuple | list) else \
        {Decimal(expected)} if expected is not None else set()
    if expected is not None and totals.total not in allowed:
        shown = " or ".join(sorted(str(e) for e in allowed)) if len(allowed) > 1 else str(next(iter(allowed)))
        what = {"customerpayment": "payment", "customerrefund": "refund"}.get(record_type, "lines + tax")
        raise RecordFailure(
            "LAGO_TOTAL_MISMATCH",
            f"{what} = {totals.total} but the Lago {kind} {lago_id} total is {shown}.",
        )


def _amounts(record_type: str, record: dict[str, Any]) -> list[tuple[str, Decimal]]:
    columns = record.get("columns") or {}
    found: list[tuple[str, Decimal]] = []
    if record_type == "customerpayment":
        found.append(("payment", _number(columns.get("payment"), "payment")))
    else:
        found += [("amount", _number(r["amount"], "amount"))
                  for r in sublist_rows(record, "lines", "item") if "amount" in r]
        found += [("taxamount", _number(r.get("taxamount"), "taxamount"))
                  for r in sublist_rows(record, "taxdetails", "taxdetails")]
        if columns.get("taxamountoverride") is not None:
            found.append(("taxamountoverride", _number(columns["taxamountoverride"], "taxamountoverride")))
    found += [("amount", _number(r["amount"], "amount"))
              for r in sublist_rows(record, "lines", "apply") if "amount" in r]
    return found


def _number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RecordFailure("INVALID_FLD_VALUE", f"Invalid number {value!r} for field {name}.")
    return Decimal(value)


def _is_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and value != "") or isinstance(value, int)


def _invalid(name: str, value: Any) -> RecordFailure:
    shown = "null" if value is None else value
    return RecordFailure("INVALID_KEY_OR_REF", f"Invalid {name} reference key {shown}.")


def _check_set(name: str, values: dict[str, Any], valid: set[str] | None) -> None:
    """A key present in ``values`` must be in ``valid`` (when the account restricts it)."""
    if name not in values or valid is None:
        return
    value = values[name]
    if not _is_id(value) or str(value) not in valid:
        raise _invalid(name, value)
