"""The RESTlet endpoint of the NetSuite sandbox: authentication, account limits, faults, dispatch.

``POST`` and ``GET`` on ``/app/site/hosting/restlet.nl?script=..&deploy=..`` behave as the contract
says. Request-level answers, in the order they are checked:

1. 401 ``INVALID_LOGIN_ATTEMPT`` — missing/bad OAuth 1.0a signature, wrong realm, SHA-1, replayed
   nonce, timestamp off by more than ``clock_skew_s``;
2. 400 ``SSS_INVALID_SCRIPTLET_ID`` — ``script``/``deploy`` are not the configured deployment
   (NetSuite's own code for a script id it does not know);
3. 400 ``SSS_REQUEST_LIMIT_EXCEEDED`` — more than ``concurrency_limit`` authenticated calls in flight;
4. an injected call fault, if any (see ``faults.py``);
5. 400 ``INVALID_REQUEST`` — a malformed body or query (see docs/architecture.md).

Latency is simulated with ``asyncio.sleep`` so one server sustains many concurrent calls.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from lago_netsuite_dev.sandbox.netsuite.admin import admin_router
from lago_netsuite_dev.sandbox.netsuite.auth import AuthFailure, OAuthVerifier
from lago_netsuite_dev.sandbox.netsuite.balances import CONTRACT_VERSION
from lago_netsuite_dev.sandbox.netsuite.batch import CallContext, run_batch
from lago_netsuite_dev.sandbox.netsuite.config import RECORD_TYPES, NetSuiteSandboxConfig, apply_update
from lago_netsuite_dev.sandbox.netsuite.faults import FaultInjector
from lago_netsuite_dev.sandbox.netsuite.payments_listing import list_payments, payments_router
from lago_netsuite_dev.sandbox.netsuite.stats import SandboxStats
from lago_netsuite_dev.sandbox.netsuite.store import RecordStore

log = logging.getLogger(__name__)

RESTLET_PATH = "/app/site/hosting/restlet.nl"
MAX_BODY_BYTES = 10 * 1024 * 1024  # NetSuite's 10 MB per input string
MAX_LOOKUP_IDS = 100


class SandboxState:
    """Everything a running sandbox holds; reachable as ``app.state.sandbox`` for in-process tests."""

    def __init__(self, config: NetSuiteSandboxConfig) -> None:
        config.validate()
        self.initial_config = config
        self.store = RecordStore()
        self.stats = SandboxStats()
        self.verifier = OAuthVerifier(config)
        self._call_ids = itertools.count(1)
        self._apply(config)

    def _apply(self, config: NetSuiteSandboxConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, self.stats.faults_injected)
        self.verifier.update_config(config)

    def update(self, update: dict[str, Any]) -> None:
        """Apply a ``/_sandbox/config`` update; a ``faults`` entry restarts the fault scripts."""
        new = apply_update(self.config, update)
        if "faults" in update:
            self._apply(new)
        else:
            self.config = new
            self.faults.config = new.faults
            self.verifier.update_config(new)

    def reset(self) -> None:
        """Forget records, statistics, nonces and fault progress; restore the initial configuration."""
        in_flight = self.stats.in_flight
        self.store.reset()
        self.stats = SandboxStats(in_flight=in_flight)
        self.verifier = OAuthVerifier(self.initial_config)
        self._apply(self.initial_config)

    def next_call_id(self) -> int:
        """A fresh id for one RESTlet call (owner of its reservations)."""
        return next(self._call_ids)


class AbortedResponse(Response):
    """Starts a 200 response and stops half-way, so uvicorn drops the connection.

    The client sees a status line and headers, then a broken connection: it cannot know whether
    the call did anything. Used for ``lost_response`` (after the write) and ``connection_reset``
    (before it).
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"results": [', "more_body": True})


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """NetSuite's request-level error shape: ``{"error": {"code", "message"}}``."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(config: NetSuiteSandboxConfig) -> FastAPI:
    """Build the sandbox: the RESTlet endpoint plus the ``/_sandbox`` admin endpoints."""
    state = SandboxState(config)
    app = FastAPI(title="NetSuite RESTlet sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state
    app.include_router(admin_router(state))
    app.include_router(payments_router(state))

    @app.api_route(RESTLET_PATH, methods=["GET", "POST"])
    async def restlet(request: Request) -> Response:
        method = request.method
        response = await _guarded_call(request, state)
        aborted = isinstance(response, AbortedResponse)
        state.stats.count_call(method, "aborted" if aborted else response.status_code)
        return response

    return app


async def _guarded_call(request: Request, state: SandboxState) -> Response:
    """Authentication, deployment and concurrency checks around one call."""
    method = request.method
    try:
        state.verifier.verify(method, str(request.url), request.headers.get("authorization"))
    except AuthFailure as failure:
        state.stats.auth_failures[failure.reason] += 1
        log.info("RESTlet %s refused: invalid login attempt (%s)", method, failure.reason)
        return error_response(401, "INVALID_LOGIN_ATTEMPT", "Invalid login attempt.")
    config = state.config
    query = request.query_params
    if query.get("script") != config.script or query.get("deploy") != config.deploy:
        return error_response(400, "SSS_INVALID_SCRIPTLET_ID",
                              "That Suitelet is invalid, disabled, or no longer exists.")
    if state.stats.in_flight >= config.concurrency_limit:
        state.stats.throttled += 1
        return error_response(400, "SSS_REQUEST_LIMIT_EXCEEDED",
                              "Concurrent request limit exceeded. Request blocked.")
    state.stats.enter()
    try:
        return await _call(request, state)
    finally:
        state.stats.leave()


async def _call(request: Request, state: SandboxState) -> Response:
    """One admitted call: injected call faults, latency, then the write or the look-up."""
    config = state.config
    method = request.method
    fault = state.faults.next_call_fault(method)
    if fault is not None:
        log.info("RESTlet %s: injecting fault %s", method, fault)
    if fault in ("throttle_400", "throttle_429"):
        state.stats.throttled += 1
        return error_response(400 if fault == "throttle_400" else 429, "SSS_REQUEST_LIMIT_EXCEEDED",
                              "Concurrent request limit exceeded. Request blocked.")
    if fault == "http_5xx":
        return error_response(config.faults.http_5xx_status, "UNEXPECTED_ERROR",
                              "An unexpected error has occurred.")
    if fault == "connection_reset":
        return AbortedResponse()
    if config.latency_per_call_ms:
        await asyncio.sleep(config.latency_per_call_ms / 1000)
    hold_s = config.faults.timeout_hold_s if fault == "timeout" else 0.0
    if method == "GET":
        response = await _lookup(request, state, hold_s)
    else:
        response = await _write(request, state, hold_s)
    if config.after_commit is not None:  # test-only hook: see NetSuiteSandboxConfig.after_commit
        results = json.loads(bytes(response.body)).get("results") if response.status_code == 200 else None
        config.after_commit(method, results)
    if fault == "lost_response" and response.status_code == 200:
        return AbortedResponse()
    return response


async def _write(request: Request, state: SandboxState, hold_s: float) -> Response:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return error_response(400, "INVALID_REQUEST", "The request body is larger than 10 MB.")
    try:
        payload = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        return error_response(400, "INVALID_REQUEST", "The request body is not valid JSON.")
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        return error_response(400, "INVALID_REQUEST", "The request body needs a records array.")
    records = payload["records"]
    if len(records) > state.config.batch_cap:
        return error_response(400, "INVALID_REQUEST", f"At most {state.config.batch_cap} records per call.")
    state.stats.records_received += len(records)
    ctx = CallContext(state.next_call_id(), state.config, state.store, state.faults, state.stats, hold_s)
    results = await run_batch(records, ctx)
    log.info("RESTlet POST: %d records -> %s", len(records), _status_counts(results))
    return JSONResponse({"results": results})


async def _lookup(request: Request, state: SandboxState, hold_s: float) -> Response:
    query = request.query_params
    if "version" in query:  # contract 2: the version handshake
        return JSONResponse({"contract": CONTRACT_VERSION})
    if query.get("action") == "payments":  # contract 2: the listing for the way back to Lago
        try:
            page = list_payments(state.store, query.get("since"), query.get("cursor") or None)
        except ValueError as exc:
            return error_response(400, "INVALID_REQUEST", str(exc))
        if hold_s:
            await asyncio.sleep(hold_s)
        return JSONResponse(page)
    record_type, ids_param = query.get("type"), query.get("externalIds")
    if not record_type or not ids_param:
        return error_response(400, "INVALID_REQUEST", "type and externalIds are required.")
    if record_type not in RECORD_TYPES:
        return error_response(400, "INVALID_REQUEST", f"Invalid record type {record_type}.")
    ids = [part.strip() for part in ids_param.split(",") if part.strip()]
    if not ids or len(ids) > MAX_LOOKUP_IDS:
        return error_response(400, "INVALID_REQUEST", f"Between 1 and {MAX_LOOKUP_IDS} externalIds per call.")
    if hold_s:
        await asyncio.sleep(hold_s)
    results = []
    for ext in ids:
        found = state.store.find(record_type, ext)
        results.append({"externalId": ext, "status": "existing" if found else "missing",
                        "id": found.id if found else None})
    return JSONResponse({"results": results})


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _status_counts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts
