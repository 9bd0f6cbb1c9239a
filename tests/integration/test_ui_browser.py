"""In a browser: a sync run made by the real scheduler (as ``./dev demo`` makes it) shows its report
task's log in the Airflow UI, and the run carries its outcome as its note.

A throwaway Airflow (its own home, metadata database and free ports) runs the services ``./dev ui``
starts; headless Chromium (skipped with the reason where it is not installed) opens the UI page of
the run's report task and reads the log (``tests/plugins/browser.py``: chromedriver's WebDriver API).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.plugins.browser import Browser, missing

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_report_of_a_scheduled_sync_run_is_readable_in_the_ui(sync_world_factory, tmp_path) -> None:
    reason = missing()
    if reason:
        pytest.skip(f"headless Chromium unavailable: {reason}")
    from lago_netsuite_dev.cli import airflow_home
    from lago_netsuite_dev.cli.airflow_services import AirflowServices
    from lago_netsuite_dev.cli.demo import run_through_scheduler, wait_for_dags

    world = sync_world_factory(invoices=12, customers=4)  # sandboxes, connections and settings in os.environ
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
           "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
           "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT / 'devtools'}{os.pathsep}{ROOT}"}
    airflow = str(Path(sys.executable).with_name("airflow"))
    out = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    out = subprocess.run([airflow, "pools", "set", "netsuite_restlet", "5", "NetSuite RESTlet calls"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    services = AirflowServices(run_dir=run_dir, env=env, health_url=f"http://localhost:{port}/api/v2/monitor/health")
    services.start()
    try:
        services.wait_healthy(timeout=300)
        wait_for_dags(("lago_netsuite_sync",), timeout=300, db_url=db_url)
        log = run_dir / "cli.log"
        subprocess.run([airflow, "dags", "unpause", "lago_netsuite_sync"], env=env, capture_output=True, timeout=120)
        run_id, state, _ = run_through_scheduler("lago_netsuite_sync", log, timeout=600, env=env, db_url=db_url)
        assert state == "success", (run_dir / "airflow-scheduler.log").read_text()[-3000:]
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            note = conn.execute(sa.text("SELECT n.content FROM dag_run r JOIN dag_run_note n ON n.dag_run_id = r.id "
                                        "WHERE r.run_id = :r"), {"r": run_id}).scalar_one()
        engine.dispose()
        assert note.startswith("OK:") and "synced" in note

        url = f"http://localhost:{port}/dags/lago_netsuite_sync/runs/{quote(run_id, safe='')}/tasks/report"
        with Browser.start(tmp_path) as browser:
            browser.get(url)
            text = browser.wait_text("body", "sync report", timeout=120)
        synced = world.report()["totals"]["synced"]
        assert synced > 0 and f"synced: {synced}" in text
        assert "Log file not found" not in text
    finally:
        services.stop()
