"""The Airflow tasks the sync DAGs are wired from; each body is a call into :mod:`lago_netsuite.pipeline`.

Imported at DAG parse time: only ``airflow.sdk`` and the cheap ``dag_support`` at module level;
everything heavy is imported inside the task bodies, at run time.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow.sdk import task

from lago_netsuite.dag_support import LAGO_CONN_ID, NETSUITE_CONN_ID, NETSUITE_POOL, fail_fast

log = logging.getLogger(__name__)


def run_context(context: Any) -> Any:
    """The pipeline's view of the running task: run id, DAG id, settings from the Variable."""
    from lago_netsuite.pipeline import RunContext
    from lago_netsuite.settings import SyncSettings

    return RunContext(run_id=context["run_id"], dag_id=context["dag"].dag_id, settings=SyncSettings.from_airflow())


def _kinds(params: dict[str, Any]) -> tuple[str, ...] | None:
    kinds = params.get("kinds")
    return tuple(kinds) if kinds else None


@task
def check_connections() -> dict[str, str]:
    """One authenticated call to Lago and to the RESTlet; a wrong credential fails here, once."""
    from lago_netsuite.checks import check_connections as check

    with fail_fast():
        return check(LAGO_CONN_ID, NETSUITE_CONN_ID)


@task
def extract(**context: Any) -> dict[str, Any]:
    """Lago documents of the run's window into the store (backfill: the form's dates)."""
    from lago_netsuite import pipeline

    params = context.get("params") or {}
    ctx = run_context(context)
    with fail_fast():
        if params.get("start_date"):
            start = dt.date.fromisoformat(str(params["start_date"])[:10])
            end = dt.date.fromisoformat(str(params["end_date"])[:10]) if params.get("end_date") else dt.date.today()
            return pipeline.extract_range(ctx, lago_conn_id=LAGO_CONN_ID, start=start, end=end, kinds=_kinds(params))
        if params.get("document"):
            return pipeline.extract_one(ctx, lago_conn_id=LAGO_CONN_ID, document=str(params["document"]))
        return pipeline.extract(
            ctx, lago_conn_id=LAGO_CONN_ID,
            interval=(context.get("data_interval_start"), context.get("data_interval_end")), kinds=_kinds(params),
        )


@task
def transform(extracted: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Transform, validate (Great Expectations) and record outcomes; plan the load groups."""
    from lago_netsuite import pipeline

    params = context.get("params") or {}
    ctx = run_context(context)
    with fail_fast():
        return pipeline.transform(
            ctx, kinds=_kinds(params), retry_failed=bool(params.get("retry_failed")),
            only_lago_ids=extracted.get("only_lago_ids"), window=extracted.get("window"),
        )


@task(map_index_template="{{ group_label }}", pool=NETSUITE_POOL)
def load(group: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Send one group of records (several RESTlet batches); one slot of the NetSuite pool."""
    from airflow.sdk import get_current_context

    from lago_netsuite import pipeline

    # Names this mapped instance in the Grid view (rendered from the live context after the task).
    get_current_context()["group_label"] = group.get("label", "")  # type: ignore[typeddict-unknown-key]
    with fail_fast():
        return pipeline.load(run_context(context), group, netsuite_conn_id=NETSUITE_CONN_ID)


@task(trigger_rule="all_done")
def report(**context: Any) -> dict[str, Any]:
    """Log and return this run's outcomes; fail the run when a document failed or was held back."""
    from airflow.sdk.exceptions import AirflowFailException

    from lago_netsuite import pipeline
    from lago_netsuite.report import newly_failed, render_text

    ti = context["ti"]
    result = pipeline.report(
        run_context(context),
        extract_counts=ti.xcom_pull(task_ids="extract"),
        transform_counts=(ti.xcom_pull(task_ids="transform") or {}).get("counts"),
    )
    text = render_text(result)
    log.info("sync report\n%s", text)
    bad = newly_failed(result)
    if bad:
        raise AirflowFailException(
            f"{len(bad)} document(s) failed or were quarantined in this run; first: "
            f"{bad[0]['kind']} {bad[0].get('number') or bad[0]['lago_id']}: {bad[0].get('reason')}"
        )
    return result


@task(trigger_rule="one_failed")
def watcher() -> None:
    """Runs only when a task of the run failed, and fails so the run shows red in the history."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException("a task of this run failed; see the failed task's log")


@task
def groups(plan: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    """The load groups of one stage (Airflow maps over a task's whole return value only)."""
    return list(plan.get(stage) or [])


def wire_sync(extracted: Any) -> None:  # XComArgs stand for the values at DAG definition time
    """extract → transform → load customers → invoices → the rest → credit applications and refunds → report."""
    plan = transform(extracted)
    stages = []
    for stage, trigger in (("customers", "all_success"), ("invoices", "none_failed"), ("dependents", "none_failed"),
                           ("applications", "none_failed")):
        selected = groups.override(task_id=f"plan_{stage}")(plan, stage)  # type: ignore[arg-type]
        stages.append(
            load.override(task_id=f"load_{stage}", trigger_rule=trigger).expand(group=selected)
        )
    done = report()
    stages[0] >> stages[1] >> stages[2] >> stages[3] >> done
    [extracted, plan, *stages, done] >> watcher()
