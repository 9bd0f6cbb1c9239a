"""What every DAG of the project shares: default arguments, callbacks, names.

Imported at DAG parse time, so it must stay cheap: standard library and pendulum only.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Literal

import pendulum

log = logging.getLogger("lago_netsuite.alerts")

LAGO_CONN_ID = "lago_default"
NETSUITE_CONN_ID = "netsuite_default"
NETSUITE_POOL = "netsuite_restlet"
#: Far enough back for any Lago history, so ``airflow backfill create`` can replay any range; every
#: DAG has ``catchup=False``, so nothing before the newest interval runs by itself.
START_DATE = pendulum.datetime(2000, 1, 1, tz="UTC")
CATALOG_ASSET_URI = "lago-netsuite://catalog"
CATALOG_ASSET_NAME = "lago_netsuite_catalog"
TAGS_BASE = ["lago", "netsuite"]


def failure_summary(context: Any) -> str:
    """One line a notifier can forward: which DAG, run and task failed, on which try, and why."""
    ti = context.get("ti") or context.get("task_instance")
    if ti is None or context.get("reason"):  # a DAG-level callback: the run as a whole failed
        dag_id = getattr(context.get("dag"), "dag_id", "?")
        run_id = getattr(context.get("dag_run"), "run_id", "?")
        return f"lago-netsuite-sync RUN FAILED dag={dag_id} run={run_id}: {context.get('reason') or 'a task failed'}"
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    run_id = getattr(ti, "run_id", None) or getattr(context.get("dag_run"), "run_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    where = f"{task_id}[{map_index}]" if map_index not in (None, -1) else task_id
    try_number = getattr(ti, "try_number", "?")
    max_tries = getattr(ti, "max_tries", None)
    tries = f"try {try_number}/{max_tries + 1}" if isinstance(max_tries, int) else f"try {try_number}"
    exc = context.get("exception")
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}" if exc else "no exception"
    return f"lago-netsuite-sync FAILED dag={dag_id} run={run_id} task={where} ({tries}): {reason}"


def on_failure(context: Any) -> None:
    """Failure callback: log the one-line summary at ERROR on the ``lago_netsuite.alerts`` logger."""
    log.error("%s", failure_summary(context))


def on_retry(context: Any) -> None:
    """Retry callback: the same summary at WARNING, so flapping shows before it fails."""
    log.warning("%s", failure_summary(context).replace("FAILED", "RETRYING", 1))


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "on_failure_callback": on_failure,
    "on_retry_callback": on_retry,
}


class fail_fast:  # noqa: N801 - used as a context manager: ``with fail_fast(): ...``
    """Turn permanent errors into ``AirflowFailException`` so Airflow does not retry them.

    Wrong credentials, a missing connection field, a request NetSuite refuses as malformed or a
    broken mapping file will fail the same way on every retry; retrying them only hides the one
    clear message in a stack of identical ones. Transient errors pass through untouched and keep
    the task's retries.
    """

    def __enter__(self) -> fail_fast:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> Literal[False]:
        if exc is None:
            return False
        from lago_netsuite.hooks.errors import ConfigurationError, CredentialsError, RequestRejectedError
        from lago_netsuite.transform.mappings import MappingError  # only ever imported by a failing task

        if isinstance(exc, CredentialsError | ConfigurationError | RequestRejectedError | MappingError):
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc
        return False
