"""The Airflow tasks the sync DAGs are wired from; each body is a call into :mod:`lago_netsuite.orchestration.steps`.

Imported at DAG parse time: only ``airflow.sdk`` and the cheap ``dag_support`` at module level;
everything heavy is imported inside the task bodies, at run time.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow.sdk import task

from lago_netsuite.orchestration.dag_support import LAGO_CONN_ID, NETSUITE_CONN_ID, NETSUITE_POOL, fail_fast

log = logging.getLogger(__name__)


def run_context(context: Any) -> Any:
    """The pipeline's view of the running task: run id, DAG id, settings from the Variable."""
    from lago_netsuite.context import RunContext
    from lago_netsuite.settings import SyncSettings

    return RunContext(run_id=context["run_id"], dag_id=context["dag"].dag_id, settings=SyncSettings.from_airflow())


def _kinds(params: dict[str, Any]) -> tuple[str, ...] | None:
    kinds = params.get("kinds")
    return tuple(kinds) if kinds else None


@task
def check_connections() -> dict[str, str]:
    """One authenticated call to Lago and to the RESTlet; a wrong credential fails here, once."""
    from lago_netsuite.hooks.connection_check import check_connections as check

    with fail_fast():
        return check(LAGO_CONN_ID, NETSUITE_CONN_ID)


@task
def extract(**context: Any) -> dict[str, Any]:
    """Lago documents of the run's window into the store (backfill: the form's dates)."""
    from lago_netsuite.orchestration import steps as pipeline

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
    from lago_netsuite.orchestration import steps as pipeline

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

    from lago_netsuite.orchestration import steps as pipeline

    # Names this mapped instance in the Grid view (rendered from the live context after the task).
    get_current_context()["group_label"] = group.get("label", "")  # type: ignore[typeddict-unknown-key]
    ctx = run_context(context)
    with fail_fast():
        stats = pipeline.load(ctx, group, netsuite_conn_id=NETSUITE_CONN_ID)
    if stats.get("failed_ids"):
        # The whole group was sent; now make the refused records visible on this task in the Grid.
        from airflow.sdk.exceptions import AirflowFailException

        from lago_netsuite.report import refused_lines

        lines = refused_lines(ctx.engine, stats["failed_ids"])
        log.error("NetSuite refused %d record(s) of this group (the others were sent):\n%s",
                  len(stats["failed_ids"]), "\n".join(lines))
        raise AirflowFailException(
            f"NetSuite refused {len(stats['failed_ids'])} of this group's records (the rest were sent); "
            "each is listed above with NetSuite's message, and in the run's report"
        )
    return stats


@task(trigger_rule="all_done")
def report(**context: Any) -> dict[str, Any]:
    """Log and return the run's outcome; fail the run while a document is not in NetSuite.

    The report (this run's outcomes and everything earlier runs left unresolved) is logged first,
    then stored — in the sync store's ``sync_run`` table and as this task's XCom, also when the task
    fails — and its one-paragraph verdict becomes the run's note (``lago_netsuite.orchestration.run_notes``).
    """
    from airflow.sdk.exceptions import AirflowFailException

    from lago_netsuite.orchestration import steps as pipeline
    from lago_netsuite.orchestration.run_notes import NOTE_XCOM_KEY
    from lago_netsuite.report import render_text

    ti = context["ti"]
    result = pipeline.report(
        run_context(context),
        extract_counts=ti.xcom_pull(task_ids="extract"),
        transform_counts=(ti.xcom_pull(task_ids="transform") or {}).get("counts"),
    )
    log.info("sync report\n%s", render_text(result))
    verdict = result["outcome"]
    ti.xcom_push(key=NOTE_XCOM_KEY, value=verdict["note"])
    if verdict["state"] == "warning":
        log.warning("%s", verdict["note"])
    if verdict["state"] == "failed":
        ti.xcom_push(key="return_value", value=result)  # the result of a failed run is kept
        raise AirflowFailException(
            f"{verdict['failed_now']} document(s) failed or were held back in this run and "
            f"{verdict['unresolved']} are still unresolved from earlier runs; the report above lists each "
            "with what to fix"
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
    # A load task fails when NetSuite refused one of its records (after sending the whole group), so
    # the next stage runs once the previous one is done, failed or not; a stage whose plan never
    # came (transform failed) is upstream_failed all the same (Airflow cannot expand it).
    for stage, trigger in (("customers", "all_success"), ("invoices", "all_done"), ("dependents", "all_done"),
                           ("applications", "all_done")):
        selected = groups.override(task_id=f"plan_{stage}")(plan, stage)  # type: ignore[arg-type]
        stages.append(
            load.override(task_id=f"load_{stage}", trigger_rule=trigger).expand(group=selected)
        )
    done = report()
    stages[0] >> stages[1] >> stages[2] >> stages[3] >> done
    [extracted, plan, *stages, done] >> watcher()
