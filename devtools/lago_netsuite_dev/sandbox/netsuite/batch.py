"""One POST batch, record by record: usage units, find-or-create, void, faults, checks, latency.

This mirrors what the SuiteScript RESTlet does inside NetSuite, including its governance: every
call starts with ``usage_limit`` units, and before each record the remaining units are compared with
``usage_reserve``; once below, that record and every one after it answer ``deferred``. Costs per
record (identical in the SuiteScript mock):

- a record refused before the look-up (not an object, no externalId, unknown type or action, a
  void of a customer, a malformed body — see ``fields.check_shape``): 0;
- look-up by externalId: 10 — the whole cost of an ``existing`` answer, of a void of nothing and
  of a void of a record already voided;
- void: look-up 10 + ``transaction.void`` 10;
- create: look-up 10 + ``record.create`` (10 transaction / 5 customer); a value refused while the
  record is filled in (``fields.check_values``) stops there; otherwise + ``record.save`` (20 / 10),
  charged also when the save then fails (an injected fault, a reference, the invariant, or another
  call still committing the same externalId).

Units are charged per API call made, also when it then fails — as the SuiteScript mock does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from lago_netsuite_dev.sandbox.netsuite import balances
from lago_netsuite_dev.sandbox.netsuite.config import RECORD_TYPES, TRANSACTION_TYPES, NetSuiteSandboxConfig
from lago_netsuite_dev.sandbox.netsuite.faults import FaultInjector
from lago_netsuite_dev.sandbox.netsuite.fields import check_shape, check_values
from lago_netsuite_dev.sandbox.netsuite.stats import SandboxStats
from lago_netsuite_dev.sandbox.netsuite.store import RecordStore, StoredRecord
from lago_netsuite_dev.sandbox.netsuite.validation import (
    RecordFailure,
    check_invariant,
    check_references,
    check_required,
    compute_totals,
)

LOOKUP_UNITS = 10
VOID_UNITS = 10
CREATE_UNITS = {"transaction": 10, "customer": 5}
SAVE_UNITS = {"transaction": 20, "customer": 10}


@dataclass
class CallContext:
    """What one RESTlet call works with; ``hold_s`` > 0 delays every commit (the ``timeout`` fault)."""

    call_id: int
    config: NetSuiteSandboxConfig
    store: RecordStore
    faults: FaultInjector
    stats: SandboxStats
    hold_s: float = 0.0


async def run_batch(records: list[Any], ctx: CallContext) -> list[dict[str, Any]]:
    """Process ``records`` in order and return one result per record, in request order."""
    cfg = ctx.config
    remaining = cfg.usage_limit
    results: list[dict[str, Any]] = []
    uncommitted: list[StoredRecord] = []
    per_record_s = cfg.latency_per_record_ms / 1000
    loop = asyncio.get_running_loop()
    due = loop.time()
    try:
        for index, raw in enumerate(records):
            if remaining < cfg.usage_reserve:
                results.extend(_deferred(rest) for rest in records[index:])
                break
            result, cost, new = _attempt(raw, ctx)
            remaining -= cost
            if new is not None:
                uncommitted.append(new)
            if per_record_s:
                # Record i is due i × R after the batch started: a loop woken late on a busy machine
                # does not add its lateness to every later record, so a batch costs b × R as configured.
                due += per_record_s
                await asyncio.sleep(max(0.0, due - loop.time()))
            if new is not None and not ctx.hold_s:
                _commit(new, ctx)
                uncommitted.remove(new)
            results.append(result)
        if ctx.hold_s:
            await asyncio.sleep(ctx.hold_s)
            for new in list(uncommitted):
                _commit(new, ctx)
                uncommitted.remove(new)
    finally:
        for new in uncommitted:  # only when the call died half-way: free the externalIds again
            ctx.store.release(new)
    for result in results:
        ctx.stats.results[result["status"]] += 1
    return results


def _commit(record: StoredRecord, ctx: CallContext) -> None:
    ctx.store.commit(record)
    ctx.stats.records_created[record.type] += 1


def _attempt(raw: Any, ctx: CallContext) -> tuple[dict[str, Any], int, StoredRecord | None]:
    """Handle one record synchronously (no await: find-and-reserve is atomic)."""
    if not isinstance(raw, dict):
        return _failed(None, "INVALID_FLD_VALUE", "Each entry of records must be a JSON object."), 0, None
    ext = raw.get("externalId")
    if not isinstance(ext, str) or not ext:
        return _failed(ext, "INVALID_FLD_VALUE", "externalId is required and must be a non-empty string."), 0, None
    rtype = raw.get("type")
    if not isinstance(rtype, str) or rtype not in RECORD_TYPES:
        return _failed(ext, "INVALID_RCRD_TYPE", f"Invalid record type {rtype}."), 0, None
    action = "create" if raw.get("action") is None else raw["action"]
    if action not in ("create", "void", "apply"):
        return _failed(ext, "INVALID_FLD_VALUE", f"Invalid action {action}; use create, void or apply."), 0, None
    if action == "void":
        return _void(ext, rtype, ctx)
    if action == "apply":  # contract 2: apply an existing credit memo to an invoice
        result, units = balances.run_apply(ext, raw, ctx)
        return result, units, None
    try:
        check_shape(raw)
    except RecordFailure as failure:
        return _failed(ext, failure.code, failure.message), 0, None
    existing = ctx.store.find(rtype, ext)
    reserved = ctx.store.reservation(rtype, ext)
    if existing is not None or (reserved is not None and reserved[0] == ctx.call_id):
        ctx.stats.duplicates_prevented += 1
        record_id = existing.id if existing is not None else reserved[1].id  # type: ignore[index]
        return _result(ext, "existing", record_id), LOOKUP_UNITS, None
    family = "customer" if rtype == "customer" else "transaction"
    cost = LOOKUP_UNITS + CREATE_UNITS[family]
    totals = None
    try:
        check_values(rtype, raw, ctx.store, ctx.call_id)
        cost += SAVE_UNITS[family]
        fault = ctx.faults.record_fault(rtype, ext, raw)
        if fault is not None:
            raise RecordFailure(fault.code, fault.message)
        check_references(rtype, raw, ctx.config, ctx.store, ctx.call_id)
        check_required(rtype, raw, ctx.config)
        totals = compute_totals(rtype, raw)
        if totals is not None:
            check_invariant(rtype, ext, raw, totals, ctx.config)
        lines = balances.check_create(rtype, raw, None if totals is None else totals.total, ctx)
    except RecordFailure as failure:
        return _failed(ext, failure.code, failure.message), cost, None
    if reserved is not None:  # another call is still saving this externalId
        ctx.stats.duplicates_prevented += 1
        return _changed(ext), cost, None
    new = StoredRecord(type=rtype, id="", external_id=ext, body=raw, applications=lines)
    if totals is not None:
        new.lines_total = None if totals.lines is None else str(totals.lines)
        new.tax_total = None if totals.tax is None else str(totals.tax)
        new.total = str(totals.total)
    ctx.store.reserve(new, ctx.call_id)
    return _result(ext, "created", new.id), cost, new


def _void(ext: str, rtype: str, ctx: CallContext) -> tuple[dict[str, Any], int, StoredRecord | None]:
    """Void by externalId: look-up 10, plus 10 when the record is not voided yet."""
    if rtype not in TRANSACTION_TYPES:
        message = f"A {rtype} record cannot be voided; only transactions can."
        return _failed(ext, "INVALID_RCRD_TYPE", message), 0, None
    target = ctx.store.find(rtype, ext)
    reserved = ctx.store.reservation(rtype, ext)
    if target is None and reserved is not None:
        if reserved[0] != ctx.call_id:
            return _changed(ext), LOOKUP_UNITS, None
        target = reserved[1]
    if target is None:
        message = f"That record does not exist: no {rtype} has externalId {ext}."
        return _failed(ext, "RCRD_DSNT_EXIST", message), LOOKUP_UNITS, None
    if target.voided:
        return _result(ext, "voided", target.id), LOOKUP_UNITS, None
    ctx.store.void(target)
    return _result(ext, "voided", target.id), LOOKUP_UNITS + VOID_UNITS, None


def _result(ext: str, status: str, record_id: str) -> dict[str, Any]:
    return {"externalId": ext, "status": status, "id": record_id, "error": None}


def _failed(ext: Any, code: str, message: str) -> dict[str, Any]:
    return {"externalId": ext, "status": "failed", "id": None, "error": {"code": code, "message": message}}


def _changed(ext: str) -> dict[str, Any]:
    return _failed(ext, "RCRD_HAS_BEEN_CHANGED",
                   "Record has been changed since you retrieved it; another call is still saving it.")


def _deferred(raw: Any) -> dict[str, Any]:
    ext = raw.get("externalId") if isinstance(raw, dict) else None
    return {
        "externalId": ext, "status": "deferred", "id": None,
        "error": {"code": "SSS_USAGE_LIMIT_EXCEEDED",
                  "message": "Not attempted: the call ran low on usage units; send the record again."},
    }
