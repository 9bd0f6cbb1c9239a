"""The sync ledger UI in a real Airflow API server, driven by headless Chromium.

A sync runs (``dag.test()``, both sandboxes) with a mapping that lacks an item, so some invoices are
quarantined and the run is red. Then ``airflow api-server`` starts on a free port with the simple
auth manager and this project's plugins, and Chromium (chromedriver's WebDriver API, no Python
package) logs in as the accountant, opens "Sync ledger" from Airflow's navigation, filters to the
quarantined documents, opens one, reads why, presses Retry and sees the run it started — which the
REST API confirms. The screenshots land in ``docs/images/`` (the README shows them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.plugins import browser

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
PASSWORD = "ledger-ui-test-pw"


def _no_fallback_mapping(tmp_path: Path) -> Path:
    import yaml

    from tests.plugins.sync_world import DEMO_MAPPING

    mapping = yaml.safe_load(DEMO_MAPPING.read_text())
    del mapping["items"]["billable_metrics"]["api_calls"]
    mapping["items"].pop("fallback", None)
    for scope in (mapping.get("billing_entities") or {}).values():
        (scope.get("items") or {}).pop("fallback", None)
    path = tmp_path / "no_fallback.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return path


@pytest.fixture
def api_server(tmp_path: Path, free_port: int) -> Iterator[Callable[[], str]]:
    """Start ``airflow api-server`` (simple auth manager, this project's plugins) on demand; stop it after."""
    from lago_netsuite_dev.cli.airflow_services import stop_groups

    procs: list[subprocess.Popen] = []

    def start() -> str:
        passwords = tmp_path / "passwords.json"
        passwords.write_text(json.dumps({"accountant": PASSWORD, "auditor": PASSWORD}))
        env = {**os.environ,
               "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
               "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
               "AIRFLOW__CORE__AUTH_MANAGER":
                   "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "accountant:admin,auditor:viewer",
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
               "AIRFLOW__API__PORT": str(free_port), "AIRFLOW__API__WORKERS": "1",
               "AIRFLOW__API__BASE_URL": f"http://localhost:{free_port}",
               "AIRFLOW__API_AUTH__JWT_SECRET": "ledger-ui-browser-test-secret-0123456789abcdef0123456789",
               "NO_COLOR": "1"}
        log = open(tmp_path / "api-server.log", "ab")  # noqa: SIM115 - owned by the child
        procs.append(subprocess.Popen(  # noqa: S603 - our own airflow binary
            [str(Path(sys.executable).with_name("airflow")), "api-server", "--port", str(free_port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        url = f"http://localhost:{free_port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if procs[0].poll() is not None:
                raise RuntimeError(f"api-server exited: {(tmp_path / 'api-server.log').read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=3).status_code == 200:
                    return url
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"api-server did not answer: {(tmp_path / 'api-server.log').read_text()[-3000:]}")

    yield start
    stop_groups([p.pid for p in procs], grace=15)


def _token(url: str, user: str) -> str:
    resp = requests.post(f"{url}/auth/token", json={"username": user, "password": PASSWORD}, timeout=30)
    assert resp.status_code in (200, 201), resp.text
    return str(resp.json()["access_token"])


@pytest.mark.skipif(browser.missing() is not None, reason=f"headless browser test: {browser.missing()}")
def test_accountant_finds_a_quarantined_document_and_retries_it(
        sync_world_factory: Any, tmp_path: Path, api_server: Callable[[], str], dagbag: Any) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    world = sync_world_factory(mapping=_no_fallback_mapping(tmp_path))
    assert world.run() == "failed"  # the sync run is red
    quarantined = {e: r for e, r in world.ledger().items() if r.state == "quarantined"}
    assert quarantined
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(dagbag, "dags-folder", None)  # what the dag-processor does: the retry DAG is known

    url = api_server()
    token = _token(url, "accountant")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    plugins = api.get(f"{url}/api/v2/plugins", timeout=30).json()["plugins"]
    assert any(p["name"] == "lago_netsuite_ui" for p in plugins), plugins
    before = api.get(f"{url}/api/v2/dags/lago_netsuite_retry_document/dagRuns", timeout=30).json()["total_entries"]

    with browser.Browser.start(tmp_path) as b:
        b.get(f"{url}/api/v2/monitor/health")  # on the domain, to set the session cookie
        b.add_cookie("_token", token)
        b.get(f"{url}/")
        # 1. Airflow's navigation → "Sync ledger"
        b.click(b.find_xpath("//a[contains(@href, 'plugin/sync-ledger')] | //*[normalize-space(text())='Sync ledger']",
                             timeout=60))
        frame = b.find("iframe[title='Sync ledger']", timeout=60)
        b.frame(frame)
        b.find("#documents tbody tr")
        b.frame(None)
        b.screenshot(IMAGES / "ledger-ui-documents.png")
        b.frame(frame)
        # 2. filter to the quarantined documents (the count link at the top)
        count = b.text(b.find("a[data-state='quarantined']"))
        assert count == f"quarantined: {len(quarantined)}"
        b.click(b.find("a[data-state='quarantined']"))
        b.wait_text("#counts a.on", "quarantined")
        numbers = [b.text(b.find("#documents tbody tr:first-child a.doc-link"))]
        b.frame(None)
        b.screenshot(IMAGES / "ledger-ui-quarantined.png")
        b.frame(b.find("iframe[title='Sync ledger']"))
        # 3. open one: why it failed
        b.click(b.find("#documents tbody tr:first-child a.doc-link"))
        error = b.text(b.find("#doc-error"))
        assert "api_calls" in error, error
        assert b.text(b.find("#doc-state")) == "quarantined"
        assert numbers[0] in b.text(b.find("h1"))
        # 4. retry it: the run it started is shown, with its link
        b.click(b.find("#retry"))
        started = b.wait_text("#action-result", "Started run")
        link = b.find("#started-run")
        href = b.attribute(link, "href") or ""
        b.frame(None)
        b.screenshot(IMAGES / "ledger-ui-retried.png")
        b.frame(b.find("iframe[title='Sync ledger']"))
        # 5. the month-end view
        b.click(b.find_xpath("//nav/a[text()='Reconciliation']"))
        b.find("#reconciliation")
        b.frame(None)
        b.screenshot(IMAGES / "ledger-ui-reconciliation.png")
        # 6. the red sync run's own "Documents" tab (the plugin view attached to a DAG run)
        sync_run = next(iter(quarantined.values())).last_run_id
        b.get(f"{url}/dags/lago_netsuite_sync/runs/{sync_run}/plugin/sync-ledger-run")
        b.frame(b.find("iframe[title='Documents']", timeout=60))
        run_table = b.wait_text("#run-documents", "quarantined")
        assert sum(1 for r in quarantined.values() if r.number and r.number in run_table) == len(quarantined)
        b.frame(None)
        b.screenshot(IMAGES / "ledger-ui-run.png")

    runs = api.get(f"{url}/api/v2/dags/lago_netsuite_retry_document/dagRuns", timeout=30).json()
    assert runs["total_entries"] == before + 1
    new = runs["dag_runs"][-1]
    assert new["dag_run_id"] in started and new["dag_run_id"].replace(":", "%3A").replace("+", "%2B") in href
    assert new["conf"]["retry_failed"] is True
    assert f"lago-invoice-{new['conf']['document']}" in quarantined


@pytest.mark.skipif(browser.missing() is not None, reason=f"headless browser test: {browser.missing()}")
def test_the_real_server_refuses_without_login_and_a_viewer_cannot_retry(
        sync_world: Any, tmp_path: Path, api_server: Callable[[], str], dagbag: Any) -> None:
    assert sync_world.run() == "success"
    url = api_server()
    assert requests.get(f"{url}/lago-netsuite/api/documents", timeout=30).status_code == 401
    viewer = {"Authorization": f"Bearer {_token(url, 'auditor')}"}
    rows = requests.get(f"{url}/lago-netsuite/api/documents", headers=viewer, timeout=30).json()["rows"]
    assert rows
    refused = requests.post(f"{url}/lago-netsuite/api/documents/{rows[0]['external_id']}/retry", json={},
                            headers=viewer, timeout=30)
    assert refused.status_code == 403
