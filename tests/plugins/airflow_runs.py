"""What a whole ``dag.test`` run left behind: its task instances and XComs in Airflow's metadata
database, and everything it printed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

_LATEST_RUN = "SELECT run_id FROM dag_run WHERE dag_id = :d ORDER BY id DESC LIMIT 1"


@contextmanager
def _latest_run(dag_id: str) -> Iterator[tuple[sa.Connection, str]]:
    """A connection to the test's metadata database and the newest run id of ``dag_id``."""
    engine = sa.create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as conn:
            yield conn, conn.execute(sa.text(_LATEST_RUN), {"d": dag_id}).scalar_one()
    finally:
        engine.dispose()


def latest_run_tasks(dag_id: str) -> dict[str, tuple[str, int]]:
    """``{task_id: (state, try_number)}`` of the newest run of ``dag_id`` (mapped: ``task[i]``)."""
    with _latest_run(dag_id) as (conn, run_id):
        rows = conn.execute(sa.text("SELECT task_id, map_index, state, try_number FROM task_instance "
                                    "WHERE dag_id = :d AND run_id = :r"), {"d": dag_id, "r": run_id}).all()
    return {f"{t}[{m}]" if m >= 0 else t: (s, n) for t, m, s, n in rows}


def xcom_of_latest_run(dag_id: str) -> list[tuple[str, int, str, str]]:
    """``(task_id, map_index, key, value)`` of every XCom of the newest run of ``dag_id``."""
    with _latest_run(dag_id) as (conn, run_id):
        rows = conn.execute(sa.text("SELECT task_id, map_index, key, value FROM xcom WHERE dag_id = :d "
                                    "AND run_id = :r"), {"d": dag_id, "r": run_id}).all()
    return [(t, m, k, v if isinstance(v, str) else bytes(v).decode("utf-8", "replace")) for t, m, k, v in rows]


def captured_output(request: pytest.FixtureRequest, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything the test printed: ``capfd`` plus pytest's own capture, which holds the lines of
    loggers that kept a reference to the stream they were created with (Airflow's task logs)."""
    out = capfd.readouterr()
    text = out.out + out.err
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None and getattr(capture, "_global_capturing", None) is not None:
        more = capture.read_global_capture()
        text += more.out + more.err
    return text
