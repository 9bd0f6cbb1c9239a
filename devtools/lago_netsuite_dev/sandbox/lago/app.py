"""The Lago API sandbox: a FastAPI app that answers like Lago's REST API under ``/api/v1``.

Bearer auth (401 ``{"status": 401, "error": "Unauthorized"}``), list and show endpoints with
Lago's pagination, ordering, filters and error bodies, a per-organization fixed-window rate limit
answered with 429 and ``X-RateLimit-*`` headers, and fault injection. Admin endpoints under
``/_sandbox/`` (no auth, loopback only) change documents and behaviour between test steps::

    GET  /_sandbox/stats                      request counts by endpoint and status, 429s, recent calls
    GET  /_sandbox/config  POST /_sandbox/config   rate limit, headers, fail_next, latency, shift_on_list
    POST /_sandbox/reset                      {"documents": true, "stats": true, "config": true}
    POST /_sandbox/documents/{collection}     add or replace a document (new ``updated_at``)
    DELETE /_sandbox/documents/{collection}/{lago_id}
    POST /_sandbox/invoices/{lago_id}/void    void an invoice now
    POST /_sandbox/invoices/spawn             a new invoice at the top of the list
    POST /_sandbox/payments/{lago_id}/fail    a payment failing late: it and its invoices say failed

``POST /api/v1/payments`` records a manual payment (see ``manual_payments.py``); the config knob
``fail_after_commit_next`` makes the next N of them commit and then answer ``fail_status`` (a
response lost after Lago committed).

Responses are encoded with ``json.dumps`` directly (no ``jsonable_encoder`` walk), so a page of
100 invoices costs a few milliseconds.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .filters import (
    Filter,
    credit_note_filter,
    customer_filter,
    invoice_filter,
    no_filter,
    page_params,
    payment_filter,
    wallet_filter,
)
from .generator import LagoDataset
from .invoices import list_view
from .manual_payments import create_manual_payment
from .mutations import touched, void_invoice
from .state import COLLECTIONS, WRITABLE, SandboxConfig, SandboxState
from .store import ApiError, Collection, paginate

_FILTERS: dict[str, Callable[..., Filter]] = {
    "invoices": invoice_filter,
    "credit_notes": credit_note_filter,
    "payments": payment_filter,
    "customers": customer_filter,
    "wallets": wallet_filter,
}
_LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content=content, status_code=status, media_type="application/json", headers=headers)


def create_app(
    dataset: LagoDataset, api_key: str, rate_limit_per_s: int | None = 50, send_rate_limit_headers: bool = True
) -> FastAPI:
    """Build a sandbox serving ``dataset`` to clients presenting ``Bearer <api_key>``.

    Args:
        dataset: the documents to serve (``generator.generate(...)``); never modified.
        api_key: the only key accepted.
        rate_limit_per_s: requests per second before 429 (``None``: unlimited), as Lago's 50/s.
        send_rate_limit_headers: send ``X-RateLimit-*`` headers (self-hosted Lago sends none).
    """
    state = SandboxState(
        dataset,
        api_key,
        SandboxConfig(rate_limit_per_s=rate_limit_per_s, send_rate_limit_headers=send_rate_limit_headers),
    )
    app = FastAPI(title="Lago API sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state

    async def api_call(request: Request, endpoint: str, handler: Callable[[Request], object]) -> Response:
        config, headers = state.config, {}
        try:
            supplied = request.headers.get("authorization", "")
            if not hmac.compare_digest(supplied.encode(), f"Bearer {state.api_key}".encode()):
                raise ApiError(401, "Unauthorized")
            allowed, limit_headers = state.limiter.hit(config.rate_limit_per_s, config.rate_limit_window_s)
            if config.send_rate_limit_headers:
                headers = limit_headers
            if not allowed:
                raise ApiError(429, "Too Many Requests", "too_many_requests")
            if config.latency_ms:
                await asyncio.sleep(config.latency_ms / 1000)
            if config.fail_next > 0 and (config.fail_path is None or config.fail_path in request.url.path):
                config.fail_next -= 1
                state.faults_injected += 1
                raise ApiError(config.fail_status, _phrase(config.fail_status))
            response = _json(200, handler(request), headers)
        except ApiError as exc:
            response = _json(exc.status, exc.body(), headers)
        state.record(endpoint, request.url.path, request.url.query, response.status_code)
        return response

    for name, (singular, show_field) in COLLECTIONS.items():
        _add_collection_routes(app, state, api_call, name, singular, show_field)

    @app.post("/api/v1/payments")
    async def create_payment(request: Request) -> Response:
        raw = await request.body()

        def handler(_: Request) -> object:
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise ApiError(400, "BadRequest: body is not JSON") from exc
            answer = create_manual_payment(state, body)
            if state.config.fail_after_commit_next > 0:  # committed; the answer is lost on the way
                state.config.fail_after_commit_next -= 1
                state.faults_injected += 1
                raise ApiError(state.config.fail_status, _phrase(state.config.fail_status))
            return answer

        return await api_call(request, "POST /payments", handler)

    _add_admin_routes(app, state)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            body = ApiError(405, "Method Not Allowed", "not_allowed").body()
        elif exc.status_code == 404:
            body = ApiError(404, "Not Found", "route_not_found").body()
        else:
            body = {"status": exc.status_code, "error": str(exc.detail)}
        state.record(f"{request.method} {request.url.path}", request.url.path, request.url.query, exc.status_code)
        return _json(exc.status_code, body)

    return app


def _add_collection_routes(
    app: FastAPI, state: SandboxState, api_call: Callable, name: str, singular: str, show_field: str
) -> None:
    """``GET /api/v1/<name>`` (list) and ``GET /api/v1/<name>/{<show_field>}`` (show)."""

    def list_body(request: Request) -> dict:
        collection = state.collections[name]
        if name == "billing_entities":
            return {name: collection.documents()}
        if name == "invoices" and state.config.shift_on_list:
            state.spawn_invoice()
        page, per_page = page_params(request.query_params)
        key, predicate, window = _FILTERS.get(name, no_filter)(request.query_params, state.entity_codes)
        docs, meta = paginate(collection.select(key, predicate, window), page, per_page)
        items = [list_view(d) for d in docs] if name == "invoices" else docs
        return {name: items, "meta": meta}

    def show_body(request: Request) -> dict:
        return {singular: state.collections[name].show(request.path_params["key"])}

    async def list_route(request: Request) -> Response:
        return await api_call(request, f"GET /{name}", list_body)

    async def show_route(request: Request) -> Response:
        return await api_call(request, f"GET /{name}/{{{show_field}}}", show_body)

    app.add_api_route(f"/api/v1/{name}", list_route, methods=["GET"], name=f"list_{name}")
    app.add_api_route(f"/api/v1/{name}/{{key}}", show_route, methods=["GET"], name=f"show_{name}")


def _add_admin_routes(app: FastAPI, state: SandboxState) -> None:
    """The ``/_sandbox/`` endpoints tests use to observe and steer the sandbox."""

    def guard(request: Request) -> None:
        if request.client is None or request.client.host not in _LOOPBACK:
            raise ApiError(403, "Forbidden", "loopback_only")

    async def run(request: Request, action: Callable[[], object], status: int = 200) -> Response:
        try:
            guard(request)
            return _json(status, action())
        except ApiError as exc:
            return _json(exc.status, exc.body())

    async def body_of(request: Request) -> dict:
        raw = await request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "BadRequest: body is not JSON") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "BadRequest: body must be a JSON object")
        return data

    @app.get("/_sandbox/stats")
    async def stats(request: Request) -> Response:
        return await run(request, state.stats)

    @app.get("/_sandbox/config")
    async def get_config(request: Request) -> Response:
        return await run(request, lambda: state.config.__dict__.copy())

    @app.post("/_sandbox/config")
    async def set_config(request: Request) -> Response:
        try:
            changes = await body_of(request)
        except ApiError as exc:
            return _json(exc.status, exc.body())

        def apply() -> dict:
            state.config.update(changes)
            return state.config.__dict__.copy()

        return await run(request, apply)

    @app.post("/_sandbox/reset")
    async def reset(request: Request) -> Response:
        try:
            what = {"documents": True, "stats": True, "config": True, **(await body_of(request))}
        except ApiError as exc:
            return _json(exc.status, exc.body())

        def apply() -> dict:
            if what["documents"]:
                state.reset_documents()
            if what["config"]:
                state.reset_config()
            if what["stats"]:
                state.reset_stats()
            return {"reset": [k for k, v in what.items() if v]}

        return await run(request, apply)

    @app.post("/_sandbox/documents/{collection}")
    async def put_document(request: Request, collection: str) -> Response:
        try:
            document = await body_of(request)
        except ApiError as exc:
            return _json(exc.status, exc.body())
        return await run(request, lambda: _upsert(state, collection, document))

    @app.delete("/_sandbox/documents/{collection}/{lago_id}")
    async def delete_document(request: Request, collection: str, lago_id: str) -> Response:
        def apply() -> dict:
            store = _writable(state, collection)
            doc = store.by_id(lago_id)
            if doc is None:
                raise ApiError(404, "Not Found", store.not_found_code)
            store.remove(doc)
            return {"collection": collection, "lago_id": lago_id, "deleted": True}

        return await run(request, apply)

    @app.post("/_sandbox/invoices/spawn")
    async def spawn(request: Request) -> Response:
        def apply() -> dict:
            doc = state.spawn_invoice()
            if doc is None:
                raise ApiError(404, "Not Found", "invoice_not_found")
            return {"invoice": doc}

        return await run(request, apply, 201)

    @app.post("/_sandbox/invoices/{lago_id}/void")
    async def void(request: Request, lago_id: str) -> Response:
        def apply() -> dict:
            invoices = state.collections["invoices"]
            doc = invoices.by_id(lago_id)
            if doc is None:
                raise ApiError(404, "Not Found", "invoice_not_found")
            voided = void_invoice(doc)
            invoices.upsert(voided)
            return {"invoice": voided}

        return await run(request, apply)

    @app.post("/_sandbox/payments/{lago_id}/fail")
    async def fail_payment(request: Request, lago_id: str) -> Response:
        """A payment that fails after it had succeeded: it and the invoices it paid say ``failed``."""

        def apply() -> dict:
            payment = state.collections["payments"].by_id(lago_id)
            if payment is None:
                raise ApiError(404, "Not Found", "payment_not_found")
            failed = _upsert(state, "payments", {**payment, "payment_status": "failed"})
            invoices = [state.collections["invoices"].by_id(i) for i in payment.get("invoice_ids") or []]
            changed = [_upsert(state, "invoices", {**inv, "payment_status": "failed"}) for inv in invoices if inv]
            return {"payment": failed, "invoices": changed}

        return await run(request, apply)


def _writable(state: SandboxState, collection: str) -> Collection:
    if collection not in WRITABLE:
        raise ApiError(404, "Not Found", "collection_not_found")
    return state.collections[collection]


def _upsert(state: SandboxState, collection: str, document: dict) -> dict:
    """Add or replace ``document``; a replacement gets a new ``updated_at``."""
    store = _writable(state, collection)
    key_field = "lago_id" if "lago_id" in document else store.show_field
    if not document.get(key_field) or not document.get(store.show_field):
        raise ApiError(422, "Unprocessable Entity", "validation_errors", {key_field: ["value_is_mandatory"]})
    previous = store.by_id(document[key_field])
    stored = touched(document, previous)
    try:
        store.upsert(stored)
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(422, "Unprocessable Entity", "validation_errors", {"document": [str(exc)]}) from exc
    if collection == "customers":
        state.replace_customer_everywhere(stored)
    return {
        "collection": collection,
        "lago_id": stored.get("lago_id"),
        "replaced": previous is not None,
        "updated_at": stored.get("updated_at"),
    }
