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
    "lago_netsuite.extract", "lago_netsuite.hooks.lago", "lago_netsuite.hooks.netsuite", "lago_netsuite.pipeline",
    "lago_netsuite.sandbox",
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
