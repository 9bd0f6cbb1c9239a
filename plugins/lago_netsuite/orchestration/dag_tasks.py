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


PRODUCER_TASK_ID = "extract_transform"
_AIRFLOW_STATE_TTL_S = 5.0


def _extraction(ctx: Any, params: dict[str, Any], context: Any) -> Any:
    """The run's extraction, as ``on_slice -> counts``: a backfill's dates, one document, or the interval."""
    from lago_netsuite.orchestration import steps as pipeline

    if params.get("start_date"):
        start = dt.date.fromisoformat(str(params["start_date"])[:10])
        end = dt.date.fromisoformat(str(params["end_date"])[:10]) if params.get("end_date") else dt.date.today()
        return lambda on_slice: pipeline.extract_range(ctx, lago_conn_id=LAGO_CONN_ID, start=start, end=end,
                                                       kinds=_kinds(params), on_slice=on_slice)
    if params.get("document"):
        return lambda _on_slice: pipeline.extract_one(ctx, lago_conn_id=LAGO_CONN_ID, document=str(params["document"]))
    interval = (context.get("data_interval_start"), context.get("data_interval_end"))
    return lambda on_slice: pipeline.extract(ctx, lago_conn_id=LAGO_CONN_ID, interval=interval,
                                             kinds=_kinds(params), on_slice=on_slice)


@task(task_id=PRODUCER_TASK_ID, priority_weight=100)
def extract_transform(**context: Any) -> dict[str, Any]:
    """Lago documents of the run's window into the store, oldest slice first, each slice transformed and
    validated (Great Expectations) as soon as it lands, so the load lanes start sending at once."""
    from lago_netsuite.orchestration import steps as pipeline

    params = context.get("params") or {}
    ctx = run_context(context)
    with fail_fast():
        return pipeline.produce(ctx, _extraction(ctx, params, context), kinds=_kinds(params),
                                retry_failed=bool(params.get("retry_failed")),
                                streaming=not params.get("document"))


@task
def lanes() -> list[int]:
    """The run's load lanes: one per slot of the ``netsuite_restlet`` pool (``load_parallelism``)."""
    from lago_netsuite.settings import SyncSettings

    return list(range(max(1, SyncSettings.from_airflow().load_parallelism)))


class ProducerWatch:
    """The producer's state for a lane: the store's word, else Airflow's state of the producer task.

    ``None`` means it is not running now (not started yet, or waiting for a retry after a failed try
    or a dead worker): an idle lane then gives its slot back at once and comes again. Only a
    producer task Airflow failed for good reads as ``failed``, which stops the lanes.
    """

    def __init__(self, ctx: Any, dag_id: str, run_id: str) -> None:
        self.ctx, self.dag_id, self.run_id = ctx, dag_id, run_id
        self._airflow: tuple[float, str | None] = (0.0, None)

    def airflow_state(self) -> str | None:
        import time

        at, state = self._airflow
        if time.monotonic() - at < _AIRFLOW_STATE_TTL_S:
            return state
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

            states = RuntimeTaskInstance.get_task_states(dag_id=self.dag_id, task_ids=[PRODUCER_TASK_ID],
                                                         run_ids=[self.run_id])
            state = (states.get(self.run_id) or {}).get(PRODUCER_TASK_ID)
        except Exception as exc:  # noqa: BLE001 - outside a task runner: the store's word alone
            log.debug("producer state from Airflow unavailable: %s", exc)
            state = "running"
        self._airflow = (time.monotonic(), str(state) if state else None)
        return self._airflow[1]

    def __call__(self) -> str | None:
        from lago_netsuite.load.stream import PRODUCE_FAILED, PRODUCED, PRODUCING
        from lago_netsuite.orchestration import steps as pipeline

        stored = pipeline.producer_state(self.ctx)
        if stored == PRODUCED:
            return stored
        airflow = self.airflow_state()
        if airflow in ("failed", "upstream_failed", "skipped", "removed"):
            return PRODUCE_FAILED  # for good: no lane waits for a slice that will never come
        # A try that failed is retried by Airflow: the lanes wait for it (giving their slots back).
        return PRODUCING if stored == PRODUCING and airflow == "running" else None


@task(map_index_template="{{ lane_label }}", pool=NETSUITE_POOL, priority_weight=1)
def load(lane: int, **context: Any) -> dict[str, Any]:
    """One load lane, one slot of the NetSuite pool: sends records as their dependencies reach NetSuite.

    Idle while the producer has nothing new, it gives its slot back and comes again a few seconds
    later (Airflow's reschedule); it ends when the producer is done and nothing is left to send.
    """
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

    from lago_netsuite.orchestration import steps as pipeline
    from lago_netsuite.report import refused_lines

    params = context.get("params") or {}
    ctx = run_context(context)
    watch = ProducerWatch(ctx, context["dag"].dag_id, context["run_id"])
    with fail_fast():
        stats = pipeline.lane(ctx, lane, netsuite_conn_id=NETSUITE_CONN_ID, kinds=_kinds(params), producer=watch)
    # Names this mapped instance in the Grid view (rendered from the live context after the task).
    get_current_context()["lane_label"] = (  # type: ignore[typeddict-unknown-key]
        f"lane {lane + 1}: {stats.get('created', 0)} created, {stats.get('existing', 0)} found, "
        f"{len(stats.get('failed_ids') or [])} refused, {stats.get('waiting', 0)} waiting")
    if stats.get("refused_now"):
        lines = refused_lines(ctx.engine, stats["refused_now"])
        log.error("NetSuite refused %d record(s) sent by this lane (the others were sent):\n%s",
                  len(stats["refused_now"]), "\n".join(lines))
    if not stats.pop("finished"):
        seconds = float(ctx.settings.extra.get("lane_reschedule_seconds", 3))
        log.info("nothing to send until the producer's next slice: the slot is given back for %.0f s", seconds)
        raise AirflowRescheduleException(reschedule_date=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))
    if stats.get("failed_ids"):
        # Everything else was sent; now make the refused records visible on this task in the Grid.
        raise AirflowFailException(
            f"NetSuite refused {len(stats['failed_ids'])} of the records this lane sent (the rest were sent); "
            "each is listed in this task's log with NetSuite's message, and in the run's report"
        )
    stats.pop("refused_now", None)
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
        extract_counts=(ti.xcom_pull(task_ids=PRODUCER_TASK_ID) or {}).get("extract"),
        transform_counts=(ti.xcom_pull(task_ids=PRODUCER_TASK_ID) or {}).get("transform"),
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


def wire_sync(check: Any, produced: Any, *, streaming: bool = True) -> None:  # XComArgs: values at DAG definition
    """check_connections → extract_transform (the producer) beside the load lanes → report.

    The lanes run while the producer extracts and transforms, each sending what is ready; with
    ``streaming`` off (the single-document retry) they start once the producer is done, so they
    know the run's scope before sending anything.
    """
    lane_numbers = lanes()
    loaded = load.expand(lane=lane_numbers)
    check >> [produced, lane_numbers]
    if not streaming:
        produced >> lane_numbers
    done = report()
    [produced, loaded] >> done
    [produced, loaded, done] >> watcher()
