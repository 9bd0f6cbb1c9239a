"""What docs/deployment.md tells a deployer to use: the Astro project, the Helm values, the settings, secrets.

Pulling the Astro Runtime image and building it cannot run here (no Docker engine, no image
registry); everything else the guide relies on is checked against the project's lock and code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lago_netsuite.settings import SyncSettings
from lago_netsuite_dev.cli import astro_project

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _pins(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of the ``name==version`` lines of a requirements file."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;#]+)", line.strip())
        if match:
            out[match.group(1).lower().replace("_", "-")] = match.group(3)
    return out


LOCK = _pins(ROOT / "requirements.txt")


def _runtime_requirements() -> set[str]:
    """The direct dependencies of requirements.in above its "tests and tooling" part."""
    names: set[str] = set()
    for line in (ROOT / "requirements.in").read_text().splitlines():
        if line.startswith("# tests and tooling"):
            break
        match = re.match(r"^([A-Za-z0-9_.\-]+)", line)
        if match:
            names.add(match.group(1).lower())
    return names


def test_the_dockerfile_uses_the_astro_runtime_line_of_the_pinned_airflow_and_refuses_another() -> None:
    dockerfile = (DEPLOY / "astro" / "Dockerfile").read_text()
    pinned = LOCK["apache-airflow"]
    assert _pins(ROOT / "requirements.in")["apache-airflow"] == pinned
    tag = re.search(r"^FROM astrocrpublic\.azurecr\.io/runtime:(\d+)\.(\d+)-(\d+)$", dockerfile, re.M)
    assert tag, "FROM must name an Astro Runtime 3 image"
    assert f"{tag.group(1)}.{tag.group(2)}" == ".".join(pinned.split(".")[:2])
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(pinned)}$", dockerfile, re.M)
    check = next(line for line in dockerfile.splitlines() if line.startswith("RUN python -c"))
    assert "airflow.__version__" in check and "${AIRFLOW_VERSION}" in check


def test_the_image_requirements_are_the_locks_versions_of_every_runtime_dependency() -> None:
    astro = _pins(DEPLOY / "astro" / "requirements.txt")
    assert astro, "deploy/astro/requirements.txt pins nothing"
    assert {name: LOCK[name] for name in astro} == astro
    # Airflow, its providers and the broker client come with the Runtime image.
    needed = {n for n in _runtime_requirements() if not n.startswith(("apache-airflow", "redis"))}
    assert needed <= {n.lower() for n in astro}, needed - set(astro)
    assert not {"pytest", "hypothesis", "ruff", "mypy"} & set(astro)


def test_the_helm_values_parse_and_name_both_executors_an_external_database_and_a_secrets_backend() -> None:
    common = yaml.safe_load((DEPLOY / "helm" / "values-common.yaml").read_text())
    celery = yaml.safe_load((DEPLOY / "helm" / "values-celery.yaml").read_text())
    kubernetes = yaml.safe_load((DEPLOY / "helm" / "values-kubernetes.yaml").read_text())
    assert celery["executor"] == "CeleryExecutor" and celery["redis"]["enabled"] is True
    assert celery["workers"]["replicas"] >= 2 and int(celery["config"]["celery"]["worker_concurrency"]) >= 1
    assert kubernetes["executor"] == "KubernetesExecutor" and kubernetes["redis"]["enabled"] is False
    assert common["postgresql"]["enabled"] is False and common["data"]["metadataSecretName"]
    secrets = common["config"]["secrets"]
    assert secrets["backend"].endswith("VaultBackend")
    assert json.loads(secrets["backend_kwargs"])["connections_path"] == "connections"
    assert {s["envName"] for s in common["secret"]} == {"AIRFLOW_CONN_LAGO_NETSUITE_STORE"}
    assert "secret" not in json.dumps(common["images"]).lower()


def test_the_production_settings_have_no_connections_and_the_pool_matches_load_parallelism() -> None:
    data = yaml.safe_load((DEPLOY / "airflow_settings.production.yaml").read_text())["airflow"]
    assert data["connections"] == []
    pool = next(p for p in data["pools"] if p["pool_name"] == "netsuite_restlet")
    variable = next(v for v in data["variables"] if v["variable_name"] == "lago_netsuite_settings")
    settings = SyncSettings.from_mapping(json.loads(variable["variable_value"]))
    assert settings.load_parallelism == pool["pool_slot"]


def test_connections_come_from_a_secrets_backend_the_store_in_its_own_schema(tmp_path: Path) -> None:
    """Airflow's own LocalFilesystemBackend stands in for Vault: same lookup path, no server."""
    conns = tmp_path / "connections.json"
    conns.write_text(json.dumps({
        "lago_netsuite_store": {"conn_type": "postgres", "host": "db.internal", "login": "sync", "password": "pw",
                                "schema": "warehouse", "extra": {"pg_schema": "lago_sync"}},
        "netsuite_default": {"conn_type": "netsuite", "extra": {"account_id": "1234567"}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(AIRFLOW_HOME=str(tmp_path), PYTHONPATH=str(ROOT / "plugins"),
               AIRFLOW__SECRETS__BACKEND="airflow.secrets.local_filesystem.LocalFilesystemBackend",
               AIRFLOW__SECRETS__BACKEND_KWARGS=json.dumps({"connections_file_path": str(conns)}))
    code = ("from lago_netsuite.ledger.store import store_url_from_connection; from airflow.sdk import BaseHook; "
            "print(store_url_from_connection()); print(BaseHook.get_connection('netsuite_default').extra_dejson"
            "['account_id'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == "postgresql+psycopg://sync:pw@db.internal/warehouse?options=-csearch_path%3Dlago_sync"
    assert lines[-1] == "1234567"


@pytest.mark.slow
def test_the_astro_project_holds_the_product_only_and_its_dags_parse(tmp_path: Path) -> None:
    dest = tmp_path / "astro"
    names = astro_project.build(dest)
    assert names == sorted([".dockerignore", "Dockerfile", "airflow_settings.yaml", "dags", "include",
                            "packages.txt", "plugins", "requirements.txt"])
    assert (dest / "requirements.txt").read_text() == (DEPLOY / "astro" / "requirements.txt").read_text()
    assert not list(dest.rglob("__pycache__"))
    assert sorted(p.name for p in (dest / "include" / "sql" / "migrations").glob("*.sql")) == sorted(
        p.name for p in (ROOT / "include" / "sql" / "migrations").glob("*.sql"))
    with pytest.raises(SystemExit, match="not empty"):
        astro_project.build(dest)
    # The DAGs parse from the project alone, as the image's dag-processor would (include/ found beside plugins/).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "LAGO_NETSUITE_INCLUDE"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "home"), PYTHONPATH=str(dest / "plugins"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", GX_ANALYTICS_ENABLED="false")
    code = ("import json, sys; from airflow.dag_processing.dagbag import DagBag; from lago_netsuite import paths; "
            "bag = DagBag(dag_folder=sys.argv[1], load_op_links=False); "
            "print(json.dumps({'dags': sorted(bag.dags), 'errors': {str(k): str(v) for k, v in "
            "bag.import_errors.items()}, 'include': str(paths.include_dir())}))")
    out = subprocess.run([sys.executable, "-c", code, str(dest / "dags")], env=env, capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert "lago_netsuite_sync" in result["dags"] and len(result["dags"]) >= len(list((ROOT / "dags").glob("*.py")))
    assert result["include"] == str(dest / "include")
