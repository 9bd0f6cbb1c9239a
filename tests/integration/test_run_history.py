"""Run history that tells the truth: what earlier runs left behind flags every later run, a refused
record shows on the load lane that sent it, and a failed run keeps its result and its note."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.plugins.airflow_runs import latest_run_tasks, xcom_of_latest_run
from tests.plugins.sync_world import SyncWorld

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _note_of_latest_run(dag_id: str) -> str | None:
    import os

    engine = sa.create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT n.content FROM dag_run r LEFT JOIN dag_run_note n ON n.dag_run_id = r.id "
                "WHERE r.dag_id = :d ORDER BY r.id DESC LIMIT 1"), {"d": dag_id}).scalar_one_or_none()
    finally:
        engine.dispose()


def test_a_document_refused_in_run_1_flags_runs_2_and_3_until_it_is_fixed(sync_world: SyncWorld) -> None:
    invoice = next(i for i in sync_world.dataset.invoices if i["status"] == "finalized")
    ext = f"lago-invoice-{invoice['lago_id']}"
    sync_world.netsuite_configure(faults={"records": [{
        "kind": "record_error", "externalId": ext, "code": "INVALID_FLD_VALUE",
        "message": "Invalid value for field department: 'Sales EMEA' is inactive", "times": 1}]})
    assert sync_world.run() == "failed"
    # the refused record is on its load task: the lane that sent it failed, everything else was sent
    tasks = latest_run_tasks("lago_netsuite_sync")
    failed_loads = [t for t, (state, _) in tasks.items() if t.startswith("load[") and state == "failed"]
    assert len(failed_loads) == 1, tasks
    assert sync_world.ledger()[ext].state == "failed"
    ledger = sync_world.ledger()
    synced_invoices = [e for e, r in ledger.items() if e.startswith("lago-invoice-") and r.state == "synced"]
    assert synced_invoices, "the rest of the batch was sent"
    first = sync_world.report()
    assert first["outcome"]["state"] == "failed" and first["failed"][0]["external_id"] == ext
    # the failed run kept its result: in the store (above) and as the report task's XCom, and its note
    xcoms = {(t, k): v for t, _m, k, v in xcom_of_latest_run("lago_netsuite_sync")}
    assert json.loads(xcoms[("report", "return_value")])["failed"][0]["external_id"] == ext
    note = _note_of_latest_run("lago_netsuite_sync")
    assert note and note.startswith("FAILED") and invoice["number"] in note and "inactive" in note

    # runs 2 and 3 find nothing new, yet the invoice is still not in NetSuite: both are flagged
    for _ in range(2):
        assert sync_world.run() == "failed"
        report = sync_world.report()
        assert report["totals"]["synced"] == 0 and report["failed"] == []
        assert [u["external_id"] for u in report["unresolved"]] == [ext]
        entry = report["unresolved"][0]
        assert entry["state"] == "failed" and entry["code"] == "INVALID_FLD_VALUE" and entry["age_hours"] >= 0
        assert entry["customer"] == invoice["customer"]["external_id"]
        note = _note_of_latest_run("lago_netsuite_sync")
        assert "still unresolved from earlier runs 1" in note and invoice["number"] in note

    # a team that prefers a warning: the run is green, its note says WARNING and names the invoice
    sync_world.configure(unresolved_policy="warn")
    assert sync_world.run() == "success"
    assert _note_of_latest_run("lago_netsuite_sync").startswith("WARNING")

    # fixed (sent again from the retry DAG): the next sync run is green with nothing unresolved
    assert sync_world.run("lago_netsuite_retry_document", {"document": invoice["number"]}) == "success"
    sync_world.configure(unresolved_policy="fail")
    assert sync_world.run() == "success"
    assert sync_world.report()["unresolved"] == []
    assert _note_of_latest_run("lago_netsuite_sync").startswith("OK")
    sync_world.assert_exactly_once_and_in_agreement()
