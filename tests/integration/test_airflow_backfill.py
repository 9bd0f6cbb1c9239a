"""Airflow's own backfill replays a past range: the README's ``airflow backfill create`` command, run
as written against a throwaway Airflow (its own home, metadata database and free ports) whose real
scheduler runs the backfill's hourly runs, syncs the 2024 documents of the range exactly once.

The command is read from the README, so the documented command is the tested one.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _readme_command(start: str) -> list[str]:
    """The ``./dev airflow <start> ...`` command of the README's "Hourly sync" paragraph."""
    text = " ".join((ROOT / "README.md").read_text().split("**Hourly sync.**", 1)[1].split("\n\n", 1)[0].split())
    found = re.search(rf"`\./dev airflow ({start} [^`]+)`", text)
    assert found, f"the README's hourly sync paragraph no longer shows an `./dev airflow {start}` command"
    return shlex.split(found.group(1))


def test_the_readmes_airflow_backfill_create_syncs_a_2024_range_through_the_scheduler(
        sync_world_factory, tmp_path) -> None:
    from lago_netsuite_dev.cli import airflow_home
    from lago_netsuite_dev.cli.airflow_services import AirflowServices
    from lago_netsuite_dev.cli.demo import wait_for_dags

    unpause, args = _readme_command("dags unpause"), _readme_command("backfill create")
    start = dt.datetime.fromisoformat(args[args.index("--from-date") + 1])
    end = dt.datetime.fromisoformat(args[args.index("--to-date") + 1])
    assert start.year == 2024 and end - start <= dt.timedelta(hours=3), "keep the README's example a short range"
    # Documents issued over the two days up to the range's day: all inside the first run's window
    # (its data interval widened by the three-day look-back); none issued after it.
    world = sync_world_factory(invoices=16, customers=4, days=2, end_date=start.date())
    home, run_dir, port = tmp_path / "airflow", tmp_path / "run", _free_port()
    home.mkdir()
    (home / "airflow.cfg").write_text(airflow_home.render(ROOT, home))
    db_url = f"sqlite:///{home / 'airflow.db'}"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
           "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
           "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
           "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
           "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT / 'devtools'}{os.pathsep}{ROOT}"}
    airflow = str(Path(sys.executable).with_name("airflow"))

    def cli(*argv: str) -> str:
        # A CLI write can meet the scheduler's on Airflow's SQLite database ("database is locked");
        # the failed command wrote nothing, so it is run again, as a user would.
        for _ in range(3):
            out = subprocess.run([airflow, *argv], env=env, capture_output=True, text=True, timeout=600)
            if out.returncode == 0 or "database is locked" not in out.stderr:
                break
            time.sleep(2)
        errors = [line for line in out.stderr.splitlines() if "Error" in line][:5]
        assert out.returncode == 0, (argv, errors, out.stderr[-1500:])
        return out.stdout

    cli("db", "migrate")
    cli("pools", "set", "netsuite_restlet", "5", "NetSuite RESTlet calls")
    services = AirflowServices(run_dir=run_dir, env=env, health_url=f"http://localhost:{port}/api/v2/monitor/health")
    services.start()
    engine = sa.create_engine(db_url)
    try:
        services.wait_healthy(timeout=300)
        wait_for_dags(("lago_netsuite_sync",), timeout=300, db_url=db_url)
        cli(*unpause)  # the README's commands, as written: a paused DAG's backfill runs stay queued
        cli(*args)
        deadline = time.monotonic() + 900
        while True:
            with engine.connect() as conn:
                runs = conn.execute(sa.text(
                    "SELECT run_id, state, data_interval_start FROM dag_run "
                    "WHERE dag_id = 'lago_netsuite_sync' AND run_type = 'backfill' ORDER BY data_interval_start"
                )).all()
            if runs and all(r.state in ("success", "failed") for r in runs):
                break
            assert time.monotonic() < deadline, (runs, (run_dir / "airflow-scheduler.log").read_text()[-3000:])
            time.sleep(2)
    finally:
        services.stop()
        engine.dispose()

    # One run per hour of the range (both ends inclusive), each a success.
    assert [r.state for r in runs] == ["success"] * len(runs), runs
    assert 1 <= len(runs) <= 4, runs
    # Every finalized invoice, payment and credit note of those 2024 days is in NetSuite once, with
    # Lago's total; the ledger says synced for each and matches the sandbox record for record.
    records = {r["externalId"]: r for r in world.netsuite_records()}
    assert not [e for e, n in Counter(r["externalId"] for r in world.netsuite_records()).items() if n > 1]
    invoices = [i for i in world.dataset.invoices if i["status"] == "finalized"]
    assert invoices and all(i["issuing_date"].startswith("2024-") for i in world.dataset.invoices)
    ledger = world.ledger()
    for inv in invoices:
        ext = f"lago-invoice-{inv['lago_id']}"
        assert ext in records, f"invoice {inv['number']} of the range was not synced"
        assert Decimal(records[ext]["total"]) == Decimal(world.lago_total("invoice", inv["lago_id"])), inv["number"]
        assert ledger[ext].state == "synced"
    for pay in world.dataset.payments:
        if pay["payment_status"] == "succeeded":
            assert f"lago-payment-{pay['lago_id']}" in records, pay["lago_id"]
    for note in world.dataset.credit_notes:
        assert f"lago-creditnote-{note['lago_id']}" in records, note["number"]
    # The later runs of the range found everything already there: nothing was sent twice.
    assert world.netsuite_stats()["records_received"] == len(records)
    world.assert_exactly_once_and_in_agreement()
