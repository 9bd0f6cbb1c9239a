"""Every DAG imports cleanly, carries tags and retries, and parses without network, database or secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
# What a DAG file must not pull in at parse time: heavy libraries, and the parts of our package that
# do I/O or need them (they are imported inside task bodies, at run time).
HEAVY_MODULES = (
    "pandas", "great_expectations", "numpy", "requests_oauthlib", "oauthlib", "psycopg", "yaml",
    "lago_netsuite.transform", "lago_netsuite.validate", "lago_netsuite.ledger", "lago_netsuite.load",
    "lago_netsuite.extract", "lago_netsuite.hooks.lago", "lago_netsuite.hooks.netsuite",
    "lago_netsuite.orchestration.steps",
    "lago_netsuite_dev.sandbox",
)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.models import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}, "\n".join(f"{k}: {v}" for k, v in dagbag.import_errors.items())
    assert dagbag.dags, "no DAG found in dags/"


def test_every_dag_file_defines_a_dag(dagbag) -> None:
    files_with_dags = {Path(d.fileloc).name for d in dagbag.dags.values()}
    assert files_with_dags == {p.name for p in DAG_FILES}


def test_dags_have_tags_owners_and_docs(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert {"lago", "netsuite"} <= set(dag.tags), f"{dag_id} lacks the project tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.max_active_runs == 1, f"{dag_id} may run concurrently with itself"


def test_every_task_retries_with_backoff_and_reports_failures(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries={task.retries}"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id} retries without backoff"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id} has no failure callback"


_PARSE_PROBE = r"""
import json, socket, sys, runpy
def refuse(*a, **k):
    raise RuntimeError("network or database access at DAG parse time")
socket.socket.connect = refuse
socket.create_connection = refuse
import sqlalchemy
sqlalchemy.create_engine = refuse
before = set(sys.modules)
runpy.run_path(sys.argv[1], run_name="dag_probe")
heavy = sorted(m for m in sys.modules if m not in before
               and any(m == h or m.startswith(h + ".") for h in {HEAVY}))
print(json.dumps({"heavy": heavy}))
"""


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_parses_without_network_database_secrets_or_heavy_imports(dag_file: Path, tmp_path: Path) -> None:
    probe = _PARSE_PROBE.replace("{HEAVY}", repr(HEAVY_MODULES))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(
        PYTHONPATH=f"{ROOT / 'plugins'}{os.pathsep}{ROOT}",
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/never-created.db",
    )
    # Airflow itself is imported first (it is always loaded in a DAG processor); only what the DAG
    # file adds on top of it is judged.
    script = "import airflow.sdk\n" + probe
    out = subprocess.run(
        [sys.executable, "-c", script, str(dag_file)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], f"{dag_file.name} imports heavy modules at parse time: {result['heavy']}"
    assert not (tmp_path / "never-created.db").exists()


def test_airflow_does_not_import_the_package_as_plugins() -> None:
    """plugins/.airflowignore keeps Airflow's plugin loader from importing every module as a plugin."""
    from airflow._shared.module_loading import find_path_from_directory

    found = [Path(p) for p in find_path_from_directory(str(ROOT / "plugins"), ".airflowignore")]
    assert not [p for p in found if "lago_netsuite" in p.parts and p.suffix == ".py"]


def test_every_dag_has_a_description(dagbag) -> None:
    """The DAG list shows ``description`` under each DAG's name: every DAG (any engineer's) has one."""
    for dag_id, dag in dagbag.dags.items():
        assert dag.description and len(dag.description) >= 20, f"{dag_id} has no description for the DAG list"


def test_the_sync_description_says_it_runs_hourly(dagbag) -> None:
    assert "hourly" in dagbag.dags["lago_netsuite_sync"].description.lower()


def test_the_backfill_form_accepts_every_choice_of_kinds_and_only_those(dagbag) -> None:
    """The form's kinds are a pick list of the four; no choice an accountant can make is rejected."""
    from itertools import combinations

    from airflow.sdk.definitions.param import Param

    spec = dagbag.dags["lago_netsuite_backfill"].params.get_param("kinds").dump()
    kinds = ["customer", "invoice", "creditnote", "payment"]
    assert spec["schema"]["examples"] == kinds  # what makes Airflow's trigger form a multi-select
    for n in range(1, 5):
        for choice in combinations(kinds, n):
            assert Param(**{**spec["schema"], "default": list(choice)}).resolve() == list(choice)
    for typo in (["invoices"], [], ["invoice", "invoice"]):
        with pytest.raises(Exception, match="kinds|valid|unique|short|enum|not one of"):
            Param(**{**spec["schema"], "default": typo}).resolve()


def test_lago_and_netsuite_connection_types_are_registered() -> None:
    """The installed distribution's provider-info entry point gives the connection form both types."""
    from importlib.metadata import entry_points

    if not [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("lago_netsuite.")]:
        pytest.skip("the project is not installed in this environment (./dev setup installs it)")
    from airflow.providers_manager import ProvidersManager

    from lago_netsuite.hooks.lago import LagoHook
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook

    manager = ProvidersManager()
    assert "lago-netsuite-sync" in manager.providers
    behaviours = manager.field_behaviours
    for conn_type, hook in (("lago", LagoHook), ("netsuite", NetSuiteRestletHook)):
        declared = hook.get_ui_field_behaviour()
        assert behaviours[conn_type]["hidden_fields"] == declared["hidden_fields"], conn_type
        assert behaviours[conn_type]["relabeling"] == declared["relabeling"], conn_type
    widgets = manager.connection_form_widgets
    netsuite_fields = {w.field_name for k, w in widgets.items() if k.startswith("extra__netsuite__")}
    assert {"account_id", "consumer_key", "consumer_secret", "token_id", "token_secret"} <= netsuite_fields
    assert widgets["extra__netsuite__token_secret"].is_sensitive


@pytest.mark.parametrize("dag_id", ["lago_netsuite_sync", "lago_netsuite_backfill", "lago_netsuite_reconcile",
                                    "lago_netsuite_retry_document"])
def test_the_load_lanes_run_beside_the_producer_and_hold_the_pool(dagbag, dag_id: str) -> None:
    """Extraction and loading overlap: the lanes wait on the connection check, not on the producer
    (except the single-document retry, whose lanes need its scope first); each lane is one pool slot."""
    dag = dagbag.dags[dag_id]
    producer, lanes, load, report = (dag.get_task(t) for t in ("extract_transform", "lanes", "load", "report"))
    assert producer.upstream_task_ids == {"check_connections"}
    streaming = dag_id != "lago_netsuite_retry_document"
    assert lanes.upstream_task_ids == ({"check_connections"} if streaming else {"check_connections",
                                                                                 "extract_transform"})
    assert load.upstream_task_ids == {"lanes"} and load.pool == "netsuite_restlet" and load.pool_slots == 1
    assert {"extract_transform", "load"} <= report.upstream_task_ids and report.trigger_rule == "all_done"
    assert producer.priority_weight > load.priority_weight
