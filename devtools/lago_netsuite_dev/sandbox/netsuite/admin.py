"""Admin endpoints of the NetSuite sandbox (``/_sandbox/...``): no OAuth, loopback clients only.

- ``GET /_sandbox/records[?type=]`` → ``{"records": [StoredRecord.to_json(), ...]}`` by internal id;
- ``GET /_sandbox/stats`` → :meth:`SandboxStats.to_json`;
- ``GET|POST /_sandbox/config`` → the tunable settings; POST takes a partial update
  (``concurrency_limit``, ``latency_per_call_ms``, ``latency_per_record_ms``, ``usage_limit``,
  ``usage_reserve``, ``clock_skew_s``, ``batch_cap``, ``valid_items``/``valid_currencies``/
  ``valid_subsidiaries`` (list or null), ``currencies`` ({id: ISO}), ``faults`` (FaultConfig JSON),
  ``expected_totals`` ({"kind:lago_id": "12.34"} or null: the invariant oracle));
- ``POST /_sandbox/seed`` with ``{"records": [{"type", "externalId", "id"?, "body"?, "voided"?}]}``
  adds records that already exist in the account (e.g. customers Lago links to);
- ``POST /_sandbox/reset`` forgets records, statistics, nonces and fault progress and restores the
  configuration the app was created with.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from lago_netsuite_dev.sandbox.netsuite.config import RECORD_TYPES
from lago_netsuite_dev.sandbox.netsuite.store import StoredRecord

if TYPE_CHECKING:
    from lago_netsuite_dev.sandbox.netsuite.app import SandboxState

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}
_UNSET = object()


def _loopback_only(request: Request) -> None:
    host = request.client.host if request.client else ""
    if host not in _LOOPBACK and not host.startswith("127."):
        raise HTTPException(status_code=403, detail="the sandbox admin endpoints answer loopback only")


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "INVALID_REQUEST", "message": message}}, status_code=400)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw or b"{}", parse_float=Decimal)


def admin_router(state: SandboxState) -> APIRouter:
    """Routes under ``/_sandbox`` bound to one sandbox state."""
    router = APIRouter(prefix="/_sandbox", dependencies=[Depends(_loopback_only)])

    @router.get("/records")
    async def records(type: str | None = None) -> JSONResponse:  # noqa: A002 - the query parameter's name
        return JSONResponse({"records": [r.to_json() for r in state.store.records(type)]})

    @router.get("/stats")
    async def stats() -> JSONResponse:
        return JSONResponse(state.stats.to_json())

    @router.get("/config")
    async def get_config() -> JSONResponse:
        return JSONResponse(state.config.public_view())

    @router.post("/config")
    async def set_config(request: Request) -> JSONResponse:
        try:
            update = await _json_body(request)
            if not isinstance(update, dict):
                raise ValueError("the body must be a JSON object")
            oracle = update.pop("expected_totals", _UNSET)
            update = _floats(update)
            if oracle is not _UNSET:
                update["expected_totals"] = oracle  # Decimals kept: the oracle's figures are exact
            state.update(update)
        except (ValueError, TypeError) as exc:
            return _invalid(str(exc))
        return JSONResponse(state.config.public_view())

    @router.post("/seed")
    async def seed(request: Request) -> JSONResponse:
        try:
            payload = await _json_body(request)
            items = payload.get("records") if isinstance(payload, dict) else None
            if not isinstance(items, list):
                raise ValueError("the body needs a records array")
            seeded = [state.store.seed(_seed_record(item)) for item in items]
        except (ValueError, TypeError) as exc:
            return _invalid(str(exc))
        return JSONResponse({"records": [r.to_json() for r in seeded]})

    @router.post("/reset")
    async def reset() -> JSONResponse:
        state.reset()
        return JSONResponse({"reset": True})

    return router


def _seed_record(item: Any) -> StoredRecord:
    if not isinstance(item, dict):
        raise ValueError("each seeded record must be an object")
    record_type, ext = item.get("type"), item.get("externalId")
    if record_type not in RECORD_TYPES or not isinstance(ext, str) or not ext:
        raise ValueError(f"a seeded record needs a known type and an externalId: {item!r}")
    record_id = item.get("id")
    body = item.get("body") or {"externalId": ext, "type": record_type}
    record = StoredRecord(type=record_type, id="" if record_id is None else str(record_id), external_id=ext,
                          body=body, voided=bool(item.get("voided", False)))
    if record.voided:
        record.voided_at = record.created_at
    return record


def _floats(value: Any) -> Any:
    """Settings are plain numbers: turn the Decimals of the parsed body back into floats."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value
