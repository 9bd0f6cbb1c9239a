"""Each sync run's outcome, written onto the DAG run as its note (shown in the Grid and run list).

A task cannot set its own run's note in Airflow 3 (the Task SDK has no call for it, and tasks have
no database access), so the report task pushes the note text as an XCom (``run_note``) and this
Airflow listener — loaded by the scheduler (and ``dag.test``) through the project's
``airflow.plugins`` entry point — copies it onto the run when the run finishes, failed or not. A
run that ended before its report gets a note saying so. Only the project's DAGs are touched.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

NOTE_XCOM_KEY = "run_note"
REPORT_TASK_ID = "report"
#: The DAGs wired by ``dag_tasks.wire_sync``, whose report task pushes the note.
NOTED_DAGS = frozenset({"lago_netsuite_sync", "lago_netsuite_backfill", "lago_netsuite_retry_document"})
NO_REPORT = "No report: the run ended before its report task wrote one (see the failed task's log)."


def note_for(dag_run: Any, session: Any) -> str | None:
    """The note the report task left for ``dag_run`` (None for a DAG without a report task)."""
    import sqlalchemy as sa
    from airflow.models.xcom import XComModel

    if getattr(dag_run, "dag_id", None) not in NOTED_DAGS:
        return None
    row = session.scalars(
        sa.select(XComModel).where(XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id,
                                   XComModel.task_id == REPORT_TASK_ID, XComModel.key == NOTE_XCOM_KEY)
    ).first()
    if row is None:
        return NO_REPORT
    value = XComModel.deserialize_value(row)
    return str(value) if value else NO_REPORT


def attach_note(dag_run: Any) -> None:
    """Set the run's note from its report.

    In the scheduler the run is attached to the session it is being updated in, and the note is
    written with it; a detached run (``dag.test``) gets its note in a session of its own.
    """
    from sqlalchemy.orm import object_session

    try:
        session = object_session(dag_run)
        if session is not None:
            note = note_for(dag_run, session)
            if note is not None:
                dag_run.note = note[:2000]
            return
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as own:
            note = note_for(dag_run, own)
            run = own.get(DagRun, dag_run.id) if note is not None else None
            if run is not None and note is not None:
                run.note = note[:2000]
    except Exception:  # noqa: BLE001 - a note must never break the scheduler's loop
        log.exception("could not write the note of %s", getattr(dag_run, "run_id", "?"))


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    """The run ended green: its note says what it did (or warns about what is still unresolved)."""
    attach_note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    """The run ended red: its note says why, naming the documents not in NetSuite."""
    attach_note(dag_run)
