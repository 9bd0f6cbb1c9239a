"""Contract 2 in the sandbox: what remains on each invoice and credit memo, and the ``apply`` action.

NetSuite keeps an amount remaining on every invoice (what is still due) and credit memo (what is
still unapplied). Payments and credit memo apply lines take from an invoice; a memo's applications
and the customer refunds applied to it take from the memo. The sandbox tracks the same, exactly in
Decimal, and refuses what NetSuite refuses (restlet-contract.md, "Contract 2"):

- applying more than remains due on an invoice, or than remains on the memo: ``USER_ERROR``;
- applying to a voided invoice, or one that is not the memo customer's: ``INVALID_KEY_OR_REF``;
- refunding more than the memo has left: ``USER_ERROR``;
- an ``apply`` naming a memo that does not exist (yet): ``RCRD_DSNT_EXIST``.

An ``apply`` sets a memo's apply line for an invoice to exactly ``amount`` (a state, not an
increment): the same request twice answers ``existing`` the second time and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lago_netsuite.money import InexactAmountError, exponent, to_minor
from lago_netsuite_dev.sandbox.netsuite.validation import RecordFailure, sublist_rows

if TYPE_CHECKING:
    from lago_netsuite_dev.sandbox.netsuite.batch import CallContext
    from lago_netsuite_dev.sandbox.netsuite.store import StoredRecord

CONTRACT_VERSION = 2
#: Which record type the ``doc`` of each type's apply lines is.
APPLIES_TO = {"customerpayment": "invoice", "creditmemo": "invoice", "customerrefund": "creditmemo"}
#: Record types NetSuite keeps an amount remaining on.
BALANCED_TYPES = frozenset({"invoice", "creditmemo"})
APPLY_UNITS = 10 + 10 + 20  # look-up of the memo, record.load, record.save


def doc_id(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def apply_lines(record_type: str, body: dict[str, Any]) -> dict[str, Decimal]:
    """``{doc id: amount}`` of a create's apply sublist (amounts summed per doc)."""
    if record_type not in APPLIES_TO:
        return {}
    out: dict[str, Decimal] = {}
    for row in sublist_rows(body, "lines", "apply"):
        if row.get("apply") is False:
            continue
        amount = row.get("amount")
        value = Decimal(amount) if isinstance(amount, int | Decimal) and not isinstance(amount, bool) else Decimal(0)
        out[doc_id(row.get("doc"))] = out.get(doc_id(row.get("doc")), Decimal(0)) + value
    return out


def effects(record: StoredRecord) -> list[tuple[str, Decimal]]:
    """``(record id, amount)`` taken from each record's remaining amount by ``record``."""
    if record.type == "creditmemo":
        taken = sum(record.applications.values(), Decimal(0))
        return [*record.applications.items(), (record.id, taken)]
    if record.type in APPLIES_TO:
        return list(record.applications.items())
    return []


def remaining(record: StoredRecord) -> Decimal | None:
    """What remains due on an invoice / unapplied on a memo (0 once voided; None for other types)."""
    if record.type not in BALANCED_TYPES or record.total is None:
        return None
    if record.voided:
        return Decimal(0)
    return Decimal(record.total) - record.credited


def check_create(record_type: str, raw: dict[str, Any], total: Decimal | None, ctx: CallContext) -> dict[str, Decimal]:
    """The apply lines of a new payment, memo or refund, refused when they take more than remains."""
    lines = apply_lines(record_type, raw)
    if not lines:
        return lines
    target_type = APPLIES_TO[record_type]
    if record_type == "creditmemo" and total is not None and sum(lines.values(), Decimal(0)) > total:
        raise RecordFailure("USER_ERROR", f"The applied amounts exceed the credit memo's total {total}.")
    for doc, amount in lines.items():
        target = ctx.store.by_id(doc, target_type, ctx.call_id)
        left = remaining(target) if target is not None else None
        if left is not None and amount > left:
            what = "due on invoice" if target_type == "invoice" else "remains on credit memo"
            raise RecordFailure("USER_ERROR", f"The amount {amount} exceeds what {what} {doc}: {left}.")
    return lines


def run_apply(ext: str, raw: dict[str, Any], ctx: CallContext) -> tuple[dict[str, Any], int]:
    """``action: "apply"`` on an existing credit memo: ``(result, units)``."""
    memo_ext = raw.get("memoExternalId")
    if raw.get("type") != "creditmemo":
        return _failed(ext, "INVALID_RCRD_TYPE", "Only a creditmemo can be applied."), 0
    if not isinstance(memo_ext, str) or not memo_ext:
        return _failed(ext, "INVALID_FLD_VALUE", "memoExternalId is required to apply a credit memo."), 0
    try:
        rows = sublist_rows(raw, "lines", "apply")
    except RecordFailure as failure:
        return _failed(ext, failure.code, failure.message), 0
    if not rows:
        return _failed(ext, "INVALID_FLD_VALUE", "An apply needs one apply line {doc, apply, amount}."), 0
    reserved = ctx.store.reservation("creditmemo", memo_ext)
    memo = ctx.store.find("creditmemo", memo_ext)
    if memo is None and reserved is not None and reserved[0] != ctx.call_id:
        return _failed(ext, "RCRD_HAS_BEEN_CHANGED", "The credit memo is still being saved by another call."), 10
    if memo is None and reserved is not None:
        memo = reserved[1]
    if memo is None:
        return _failed(ext, "RCRD_DSNT_EXIST", f"That record does not exist: no creditmemo has externalId "
                                               f"{memo_ext}."), 10
    wanted: dict[str, Decimal] = {}
    for row in rows:
        amount = row.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal) or amount < 0:
            return _failed(ext, "INVALID_FLD_VALUE", f"Invalid number {amount!r} for field amount."), 20
        wanted[doc_id(row.get("doc"))] = Decimal(amount)
    iso = ctx.config.currencies.get(str((memo.body.get("columns") or {}).get("currency")))
    customer = str((memo.body.get("columns") or {}).get("entity"))
    delta_total = Decimal(0)
    for doc, amount in wanted.items():
        if iso is not None:
            try:
                to_minor(amount, iso)
            except InexactAmountError:
                return _failed(ext, "INVALID_FLD_VALUE", f"Invalid amount {amount}: {iso} amounts have at most "
                                                         f"{exponent(iso)} decimals."), 20
        invoice = ctx.store.by_id(doc, "invoice", ctx.call_id)
        entity = (invoice.body.get("columns") or {}).get("entity") if invoice is not None else None
        if invoice is None or invoice.voided or (entity is not None and str(entity) != customer):
            return _failed(ext, "INVALID_KEY_OR_REF", f"Invalid doc reference key {doc}."), 20
        delta = amount - memo.applications.get(doc, Decimal(0))
        left = remaining(invoice)
        if left is not None and delta > left:
            return _failed(ext, "USER_ERROR", f"The amount {amount} exceeds what is due on invoice {doc}: "
                                              f"{left + memo.applications.get(doc, Decimal(0))}."), 20
        delta_total += delta
    memo_left = remaining(memo)
    if memo_left is not None and delta_total > memo_left:
        return _failed(ext, "USER_ERROR", f"The amount exceeds what remains on credit memo {memo.id}: {memo_left}."), 20
    if all(memo.applications.get(doc, Decimal(0)) == amount for doc, amount in wanted.items()):
        return {"externalId": ext, "status": "existing", "id": memo.id, "error": None}, 20
    fault = ctx.faults.record_fault("creditmemo", ext, raw)
    if fault is not None:
        return _failed(ext, fault.code, fault.message), APPLY_UNITS
    ctx.store.set_applications(memo, wanted)
    return {"externalId": ext, "status": "applied", "id": memo.id, "error": None}, APPLY_UNITS


def _failed(ext: str, code: str, message: str) -> dict[str, Any]:
    return {"externalId": ext, "status": "failed", "id": None, "error": {"code": code, "message": message}}
