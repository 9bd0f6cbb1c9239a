"""``./dev cluster``: what it checks before starting, and how it lays out the Celery cluster."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lago_netsuite_dev.cli import cluster


def _closed_port() -> int:
    return cluster.free_port()  # free a moment ago: nothing listens there


def test_start_names_every_missing_server_and_starts_nothing(tmp_path: Path, capsys) -> None:
    pg, rd = _closed_port(), _closed_port()
    code = cluster.main(["start", "--project", str(tmp_path), "--postgres-url",
                         f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{pg}/postgres",
                         "--redis-url", f"redis://127.0.0.1:{rd}/0"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"PostgreSQL is not reachable at 127.0.0.1:{pg}" in err and "--postgres-url" in err
    assert f"Redis (the Celery broker) is not reachable at 127.0.0.1:{rd}" in err and "--redis-url" in err
    assert "s3cret" not in err
    assert not (tmp_path / ".cluster" / "run" / "airflow.pids.json").exists()


@pytest.mark.postgres
def test_only_redis_missing_is_named_alone(postgres_admin_url: str) -> None:
    config = cluster.ClusterConfig(project=Path("."), home=Path("."), postgres_url=postgres_admin_url,
                                   redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    with pytest.raises(cluster.ClusterError) as caught:
        cluster.check_servers(config)
    assert "Redis" in str(caught.value) and "PostgreSQL" not in str(caught.value)


def test_the_cluster_runs_celery_workers_with_their_own_hostnames_queue_and_port(tmp_path: Path) -> None:
    config = cluster.ClusterConfig(project=tmp_path, home=tmp_path / "home", name="ci", workers=3,
                                   postgres_url="postgresql+psycopg://sync:pw@db.internal:5433/postgres",
                                   redis_url="redis://broker:6379/2")
    c = cluster.Cluster(config)
    env = c.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://sync:pw@db.internal:5433/lns_ci_airflow"
    assert config.store_url == "postgresql+psycopg://sync:pw@db.internal:5433/lns_ci_store"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://broker:6379/2"
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "lns_ci"
    port = int(env["AIRFLOW__API__PORT"])
    assert port != 8080 and env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://localhost:{port}/execution/"
    # Airflow's components run the product alone: plugins and project on the path, never devtools/
    path = env["PYTHONPATH"].split(os.pathsep)
    assert path[:2] == [str(tmp_path / "plugins"), str(tmp_path)] and str(tmp_path / "devtools") not in path
    assert str(tmp_path / "devtools") in c.environment(dev_tools=True)["PYTHONPATH"].split(os.pathsep)
    assert cluster.Cluster(config).api_port == port  # kept for stop/status and the next start
    services = c._services()
    workers = [n for n in services.components if n.startswith("worker")]
    assert workers == ["worker1", "worker2", "worker3"]
    hostnames = [services.argv[w][services.argv[w].index("--celery-hostname") + 1] for w in workers]
    assert hostnames == ["worker1@ci", "worker2@ci", "worker3@ci"]
    assert all(services.argv[w][:2] == ["celery", "worker"] and "lns_ci" in services.argv[w] for w in workers)
    assert {"api-server", "scheduler", "dag-processor"} <= set(services.components)
