"""The sync ledger UI: a FastAPI app Airflow's API server mounts (see ``plugins/lago_netsuite_ui.py``).

Airflow gives a plugin's FastAPI app no authentication of its own, so every route here depends on
Airflow's auth manager (``airflow.api_fastapi.core_api.security``): reading needs GET on the sync
DAGs' runs, each action needs POST (trigger) on the DAG it triggers. Pages are rendered on the
server with Jinja2 autoescaping; actions are JSON POSTs from the page's script (a cross-site form
cannot send them), and answer with the run they started.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import jinja2
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.engine import Connection, Engine

from lago_netsuite.ui import links, queries
from lago_netsuite.ui.links import URL_PREFIX

SYNC_DAG = "lago_netsuite_sync"
BACKFILL_DAG = "lago_netsuite_backfill"
RETRY_DAG = "lago_netsuite_retry_document"
BACKFILL_KINDS = ("customer", "invoice", "creditnote", "payment")

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _default_engine() -> Engine:
    from lago_netsuite.ledger import runtime

    return runtime.store_engine()


def _conn(request: Request) -> Iterator[Connection]:
    with request.app.state.engine_factory().connect() as c:
        yield c


Conn = Annotated[Connection, Depends(_conn)]


def _filter_params(state: str | None = None, kind: str | None = None, billing_entity: str | None = None,
                   currency: str | None = None, date_from: str | None = None, date_to: str | None = None,
                   q: str | None = None) -> queries.Filters:
    return filters_from({"state": state, "kind": kind, "billing_entity": billing_entity, "currency": currency,
                         "date_from": date_from, "date_to": date_to, "q": q})


def filters_from(params: dict[str, str | None]) -> queries.Filters:
    try:
        return queries.Filters.parse(**params)
    except queries.BadFilter as exc:
        raise HTTPException(400, str(exc)) from None


FiltersDep = Annotated[queries.Filters, Depends(_filter_params)]
PageSize = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]


def may_trigger(user: Any, dag_id: str) -> bool:
    """Whether Airflow's auth manager lets ``user`` trigger ``dag_id``."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return bool(get_auth_manager().is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user))


def trigger(dag_id: str, conf: dict[str, Any], user: Any) -> str:
    """Create a manual run of ``dag_id`` in Airflow's metadata database; return its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagNotFound
    from airflow.utils.types import DagRunTriggeredByType

    try:
        run = trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.UI, conf=conf,
                          triggering_user_name=user.get_name())
    except DagNotFound:
        raise HTTPException(404, f"DAG {dag_id} is not known to Airflow yet (has the dag-processor run?)") from None
    except ValueError as exc:
        raise HTTPException(409, f"DAG {dag_id} refused the run: {exc}") from None
    if run is None:
        raise HTTPException(500, f"Airflow created no run of {dag_id}")
    return str(run.run_id)


class RetryFailedBody(BaseModel):
    state: str | None = None
    kind: str | None = None
    billing_entity: str | None = None
    currency: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    q: str | None = None


def create_app(engine_factory: Callable[[], Engine] = _default_engine,
               link_factory: Callable[[], links.LinkContext] = links.LinkContext.from_connections) -> FastAPI:
    """The ledger UI app; tests pass the store's engine and the link context in."""
    can_read = [Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=SYNC_DAG))]
    app = FastAPI(title="Lago → NetSuite sync ledger", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine_factory = engine_factory

    def roots(request: Request) -> tuple[str, str]:
        """(this app's root, Airflow's root) as the browser sees them."""
        here = str(request.scope.get("root_path", "")).rstrip("/")
        airflow_root = here[: -len(URL_PREFIX)] if here.endswith(URL_PREFIX) else ""
        return here, airflow_root

    def list_payload(request: Request, c: Connection, f: queries.Filters, cursor: str | None, limit: int) -> dict:
        try:
            page = queries.documents(c, f, cursor=cursor, limit=limit)
        except queries.BadFilter as exc:
            raise HTTPException(400, str(exc)) from None
        _, airflow_root = roots(request)
        ctx = link_factory()
        dags = queries.run_dags(c, {r["last_run_id"] for r in page.rows})
        for r in page.rows:
            r["netsuite_url"] = links.netsuite_record_url(ctx.netsuite_host, r["record_type"], r["netsuite_id"])
            r["run_dag_id"] = dags.get(r["last_run_id"])
            r["run_url"] = links.grid_run_url(airflow_root, r["run_dag_id"], r["last_run_id"])
        return {"filters": f.as_params(), "counts": page.counts, "total": page.total, "rows": page.rows,
                "next_cursor": page.next_cursor}

    def render(name: str, request: Request, **context: Any) -> HTMLResponse:
        here, airflow_root = roots(request)
        html = _templates.get_template(name).render(base=here, airflow_root=airflow_root, **context)
        return HTMLResponse(html, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    # -- documents ---------------------------------------------------------------------------
    @app.get("/", dependencies=can_read, include_in_schema=False)
    def home(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{roots(request)[0]}/documents", status_code=307)

    @app.get("/api/documents", dependencies=can_read)
    def api_documents(request: Request, c: Conn, f: FiltersDep, cursor: str | None = None,
                      limit: PageSize = 50) -> dict:
        return list_payload(request, c, f, cursor, limit)

    @app.get("/documents", dependencies=can_read, response_class=HTMLResponse)
    def page_documents(request: Request, c: Conn, user: GetUserDep, f: FiltersDep, cursor: str | None = None,
                       limit: PageSize = 50) -> HTMLResponse:
        data = list_payload(request, c, f, cursor, limit)
        return render("documents.html", request, data=data, f=f, states=queries.STATES, kinds=queries.KINDS,
                      unresolved=queries.UNRESOLVED, cursor=cursor,
                      can_backfill=may_trigger(user, BACKFILL_DAG), filters_json=json.dumps(f.as_params()))

    # -- one document ------------------------------------------------------------------------
    def detail_payload(request: Request, c: Connection, external_id: str) -> dict:
        doc = queries.document(c, external_id)
        if doc is None:
            raise HTTPException(404, "no such document in the sync ledger")
        _, airflow_root = roots(request)
        ctx = link_factory()
        doc["netsuite_url"] = links.netsuite_record_url(ctx.netsuite_host, doc["record_type"], doc["netsuite_id"])
        doc["lago_url"] = links.lago_document_url(ctx.lago, doc.pop("lago_kind") or doc["kind"], doc["lago_id"],
                                                  doc.pop("customer_lago_id"))
        dags = queries.run_dags(c, {doc["last_run_id"], *(e["run_id"] for e in doc["events"])})
        doc["run_url"] = links.grid_run_url(airflow_root, dags.get(doc["last_run_id"]), doc["last_run_id"])
        for e in doc["events"]:
            e["run_url"] = links.grid_run_url(airflow_root, dags.get(e["run_id"]), e["run_id"])
        doc["retryable"] = doc["kind"] != "customer"
        return doc

    @app.get("/api/documents/{external_id}", dependencies=can_read)
    def api_document(request: Request, c: Conn, external_id: str) -> dict:
        return detail_payload(request, c, external_id)

    @app.get("/documents/{external_id}", dependencies=can_read, response_class=HTMLResponse)
    def page_document(request: Request, c: Conn, user: GetUserDep, external_id: str) -> HTMLResponse:
        doc = detail_payload(request, c, external_id)
        return render("document.html", request, doc=doc, can_retry=may_trigger(user, RETRY_DAG))

    # -- reconciliation ----------------------------------------------------------------------
    def recon_payload(c: Connection, date_from: str | None, date_to: str | None) -> list[dict]:
        filters_from({"date_from": date_from, "date_to": date_to})
        rows = queries.reconciliation(c, date_from, date_to)
        for r in rows:
            first, last = queries.month_range(r["month"])
            r["documents_query"] = {"date_from": first, "date_to": last, "kind": r["kind"],
                                    "state": queries.UNRESOLVED}
            if not r["without_ledger_amount"]:  # rows quarantined before they were built have no currency
                r["documents_query"]["currency"] = r["currency"]
        return rows

    @app.get("/api/reconciliation", dependencies=can_read)
    def api_reconciliation(c: Conn, date_from: str | None = None, date_to: str | None = None) -> dict:
        return {"rows": recon_payload(c, date_from, date_to)}

    @app.get("/reconciliation", dependencies=can_read, response_class=HTMLResponse)
    def page_reconciliation(request: Request, c: Conn, date_from: str | None = None,
                            date_to: str | None = None) -> HTMLResponse:
        return render("reconciliation.html", request, rows=recon_payload(c, date_from, date_to),
                      date_from=date_from or "", date_to=date_to or "")

    # -- a run's documents -------------------------------------------------------------------
    def run_payload(request: Request, c: Connection, run_id: str, dag_id: str | None) -> dict:
        _, airflow_root = roots(request)
        dag = dag_id or queries.run_dags(c, {run_id}).get(run_id)
        rows = queries.run_documents(c, run_id)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["run_state"]] = counts.get(r["run_state"], 0) + 1
        return {"run_id": run_id, "dag_id": dag, "run_url": links.grid_run_url(airflow_root, dag, run_id),
                "counts": counts, "rows": rows}

    @app.get("/api/runs/{run_id}", dependencies=can_read)
    def api_run(request: Request, c: Conn, run_id: str, dag_id: str | None = None) -> dict:
        return run_payload(request, c, run_id, dag_id)

    @app.get("/runs/{run_id}", dependencies=can_read, response_class=HTMLResponse)
    def page_run(request: Request, c: Conn, run_id: str, dag_id: str | None = None) -> HTMLResponse:
        return render("run.html", request, run=run_payload(request, c, run_id, dag_id))

    # -- actions -----------------------------------------------------------------------------
    def started(request: Request, dag_id: str, run_id: str, **extra: Any) -> JSONResponse:
        _, airflow_root = roots(request)
        return JSONResponse({"dag_id": dag_id, "run_id": run_id,
                             "run_url": links.grid_run_url(airflow_root, dag_id, run_id), **extra}, status_code=201)

    @app.post("/api/documents/{external_id}/retry",
              dependencies=[Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=RETRY_DAG))])
    def retry_document(request: Request, c: Conn, user: GetUserDep, external_id: str) -> JSONResponse:
        doc = queries.document(c, external_id)
        if doc is None:
            raise HTTPException(404, "no such document in the sync ledger")
        if doc["kind"] == "customer":
            raise HTTPException(400, "customers are synced with their documents; retry one of their documents")
        run_id = trigger(RETRY_DAG, {"document": doc["lago_id"], "retry_failed": True}, user)
        return started(request, RETRY_DAG, run_id, document=doc["number"] or doc["lago_id"])

    @app.post("/api/retry-failed",
              dependencies=[Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=BACKFILL_DAG))])
    def retry_failed(request: Request, c: Conn, user: GetUserDep, body: RetryFailedBody) -> JSONResponse:
        f = filters_from(body.model_dump())
        scope = queries.failed_scope(c, f)
        if not scope["count"] or not scope["start_date"]:
            raise HTTPException(409, "no failed or quarantined document matches this filter")
        kinds = [k for k in scope["kinds"] if k in BACKFILL_KINDS]
        conf = {"start_date": scope["start_date"], "end_date": scope["end_date"], "kinds": kinds,
                "retry_failed": True}
        run_id = trigger(BACKFILL_DAG, conf, user)
        return started(request, BACKFILL_DAG, run_id, documents=scope["count"], conf=conf)

    return app
