"""Fixtures for whole-DAG tests: both sandboxes wired together, connections, settings, a store, Airflow.

``sync_world`` starts a Lago sandbox with a small seeded dataset (issued over the last three days)
and a NetSuite sandbox that checks every total against Lago's, points the Airflow connections and
the settings Variable at them (environment variables, as a deployment would), and gives the test
a SQLite or PostgreSQL sync store. ``world.run(dag_id, conf)`` runs a DAG with ``dag.test()`` —
real Airflow, in process — and returns the run's state.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from lago_netsuite.ledger import schema, store
from lago_netsuite_dev.sandbox.server import RunningServer, serve_in_thread
from tests.plugins.netsuite_sandbox import ACCOUNT_ID, CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
LAGO_KEY = "lago-test-api-key-4f1c9a"
DEMO_MAPPING = ROOT / "include" / "mappings" / "netsuite_mapping.yaml"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database in the session's throwaway AIRFLOW_HOME (see the root conftest)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    marker = home / ".migrated"
    if not marker.exists():
        out = subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
                             capture_output=True, text=True, env=os.environ.copy(), timeout=300)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        marker.touch()
    return home


_PARAM_DEFAULTS: dict[str, dict[str, Any]] = {}


def _with_param_defaults(dag_id: str, dag: Any, conf: dict[str, Any] | None) -> dict[str, Any] | None:
    """The run's conf with every param the conf leaves out at its declared default, as the UI form sends.

    dag.test() runs the tasks in this process, and Airflow resolves the run's conf into the task's
    Param objects in place (operators share them when copied); a value one run passed (an end_date)
    would otherwise become the default of the next run of the same DAG. Each task runs in a fresh
    process in a deployment, where this cannot happen.
    """
    if conf is None:
        return None
    from airflow.sdk.definitions._internal.types import NOTSET

    if dag_id not in _PARAM_DEFAULTS:  # the dagbag fixture records them before any run
        _PARAM_DEFAULTS[dag_id] = {}
        for key in dag.params:
            value = dag.params.get_param(key).value
            if value is not NOTSET:
                _PARAM_DEFAULTS[dag_id][key] = copy.deepcopy(value)
    return {**_PARAM_DEFAULTS[dag_id], **conf}


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path) -> Any:
    """Every DAG of the project, parsed once."""
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    for dag_id, dag in bag.dags.items():
        _with_param_defaults(dag_id, dag, {})
    return bag


@dataclass
class SyncWorld:
    """Both sandboxes, the store and helpers to run DAGs and look at the results."""

    dagbag: Any
    dataset: Any
    lago_app: Any
    netsuite_app: Any
    lago: RunningServer
    netsuite: RunningServer
    store_url: str
    monkeypatch: pytest.MonkeyPatch
    settings: dict[str, Any] = field(default_factory=dict)

    # -- running ----------------------------------------------------------------------------
    def configure(self, **settings: Any) -> None:
        """Change the ``lago_netsuite_settings`` Variable for the next runs."""
        self.settings.update(settings)
        self.monkeypatch.setenv("AIRFLOW_VAR_LAGO_NETSUITE_SETTINGS", json.dumps(self.settings))

    def run(self, dag_id: str = "lago_netsuite_sync", conf: dict[str, Any] | None = None) -> str:
        """Run a DAG once with ``dag.test()``; return the run's final state."""
        dag = self.dagbag.get_dag(dag_id)
        dag_run = dag.test(run_conf=_with_param_defaults(dag_id, dag, conf))
        return str(getattr(dag_run.state, "value", dag_run.state))

    def report(self) -> dict[str, Any]:
        """The newest run's report, from the store."""
        t = schema.sync_run
        with store.get_engine(self.store_url).connect() as conn:
            row = conn.execute(sa.select(t.c.summary).order_by(t.c.started_at.desc()).limit(1)).scalar_one()
        return json.loads(row or "{}")

    # -- what landed -----------------------------------------------------------------------
    def ledger(self) -> dict[str, Any]:
        with store.get_engine(self.store_url).connect() as conn:
            return {r.external_id: r for r in conn.execute(sa.select(schema.ledger))}

    def netsuite_records(self, record_type: str | None = None, *, include_seeded: bool = False) -> list[dict]:
        suffix = f"?type={record_type}" if record_type else ""
        recs = requests.get(f"{self.netsuite.url}/_sandbox/records{suffix}", timeout=10).json()["records"]
        return [r for r in recs if include_seeded or not r.get("seeded")]

    def netsuite_stats(self) -> dict[str, Any]:
        return requests.get(f"{self.netsuite.url}/_sandbox/stats", timeout=10).json()

    def netsuite_configure(self, **update: Any) -> None:
        requests.post(f"{self.netsuite.url}/_sandbox/config", json=update, timeout=10).raise_for_status()

    def lago_admin(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.lago.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def assert_exactly_once_and_in_agreement(self) -> None:
        """Each externalId at most once in NetSuite; the ledger's synced rows are exactly those records."""
        records = self.netsuite_records()
        counts = Counter(r["externalId"] for r in records)
        assert [e for e, c in counts.items() if c > 1] == []
        ledger = self.ledger()
        in_ledger = {e: r.netsuite_id for e, r in ledger.items() if r.state in ("synced", "voided")}
        assert {r["externalId"]: r["id"] for r in records} == in_ledger
        assert not [e for e, r in ledger.items() if r.state == "sent"], "rows left in 'sent'"

    def lago_total(self, kind: str, lago_id: str) -> str:
        """The NetSuite total a Lago document must have, in major units, as a string.

        For an invoice that is Lago's total plus its credit-note credits (booked as credit memo
        applications: ``credit_notes: apply``, the default) — the largest total the oracle allows.
        """
        from lago_netsuite_dev.sandbox.pair import lago_totals_oracle

        expected = lago_totals_oracle(self.lago_app)(kind, lago_id)
        return str(max(expected) if isinstance(expected, frozenset) else expected)


def _dataset(invoices: int, customers: int, days: int, seed: int, end: date | None = None) -> Any:
    from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, generate

    last = end or date.today()
    return generate(DatasetSpec(seed=seed, customers=customers, invoices=invoices,
                                start_date=last - timedelta(days=days - 1), end_date=last, as_of_end=True))


@pytest.fixture
def sync_world_factory(
    dagbag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., SyncWorld]]:
    """Build a world: ``factory(invoices=40, customers=10, days=3, seed=11, store_url=None, end_date=None,
    **netsuite)`` (documents issued over ``days`` days up to ``end_date``, default today)."""
    from lago_netsuite_dev.sandbox.pair import build_pair

    started: list[SyncWorld] = []

    def factory(*, invoices: int = 40, customers: int = 10, days: int = 3, seed: int = 11,
                store_url: str | None = None, mapping: Path = DEMO_MAPPING, lago_rate_limit: int | None = 50,
                end_date: date | None = None, **netsuite: Any) -> SyncWorld:
        dataset = _dataset(invoices, customers, days, seed, end_date)
        pair = build_pair(dataset, lago_api_key=LAGO_KEY, mapping_path=mapping, lago_rate_limit=lago_rate_limit,
                          netsuite_credentials={"account_id": ACCOUNT_ID, **CREDENTIALS}, **netsuite)
        lago, ns = serve_in_thread(pair.lago_app), serve_in_thread(pair.netsuite_app)
        url = store_url or f"sqlite:///{tmp_path / 'sync_store.db'}"
        monkeypatch.setenv("AIRFLOW_CONN_LAGO_DEFAULT", json.dumps(
            {"conn_type": "lago", "host": f"{lago.url}/api/v1", "password": LAGO_KEY,
             "extra": {"requests_per_second": 200, "retry_backoff_s": 0.05}}))
        monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(
            {"conn_type": "netsuite", "extra": {"account_id": ACCOUNT_ID, **CREDENTIALS, "base_url": ns.url,
                                                "script": "customscript_lago_netsuite_sync",
                                                "deploy": "customdeploy_lago_netsuite_sync", "timeout": 5}}))
        monkeypatch.setenv("AIRFLOW_CONN_LAGO_NETSUITE_STORE",
                           json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}}))
        world = SyncWorld(dagbag, dataset, pair.lago_app, pair.netsuite_app, lago, ns, url, monkeypatch)
        world.configure(mapping_file=str(mapping), data_docs_dir=str(tmp_path / "data_docs"), batch_size=10,
                        in_run_retry_seconds=5, lease_seconds=120)
        started.append(world)
        return world

    yield factory
    for world in started:
        world.lago.stop()
        world.netsuite.stop()
    store.dispose_engines()
    from lago_netsuite.ledger import runtime

    runtime._migrated.clear()


@pytest.fixture
def sync_world(sync_world_factory: Callable[..., SyncWorld]) -> SyncWorld:
    """The default world: 40 invoices of 10 customers over the last three days, SQLite store."""
    return sync_world_factory()
