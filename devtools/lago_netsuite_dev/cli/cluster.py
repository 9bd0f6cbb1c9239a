"""A local Airflow cluster on the CeleryExecutor: ``./dev cluster start|stop|status``.

What a production deployment runs, on one machine: Airflow's api-server, scheduler and
dag-processor, and N Celery workers (default 2), each its own process group with its own Celery
hostname (``worker1@lago-netsuite``, ...), all on PostgreSQL (Airflow's metadata database and the
sync store, two databases on one server) with Redis as the Celery broker. By default the servers
already on the machine (PostgreSQL at 127.0.0.1:5432 as user ``postgres``, Redis at
127.0.0.1:6379); any others by URL. It never shares anything with ``./dev ui``: its own
AIRFLOW_HOME (``.cluster/``), its own api-server port (a free one, chosen at the first start and
kept in ``.cluster/cluster.json``), its own Celery queue and its own databases.

    python -m lago_netsuite_dev.cli.cluster start [--workers 2] [--postgres-url URL] [--redis-url URL]
    python -m lago_netsuite_dev.cli.cluster status | stop

``start`` checks that PostgreSQL and Redis answer first, and stops with a message naming what is
missing when one does not. It then creates the two databases when missing, writes airflow.cfg,
runs ``airflow db migrate``, applies ``airflow_settings.yaml`` with the store pointed at
PostgreSQL (``cli/airflow_settings.py``, which migrates the sync store), starts every component
(``cli/airflow_services.py``) and waits until the api-server reports a healthy scheduler and
dag-processor and every worker answers a Celery ping.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lago_netsuite_dev.cli.airflow_services import COMPONENTS, AirflowServices, _alive_group

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
STATE_FILE = "cluster.json"


class ClusterError(RuntimeError):
    """The cluster cannot start; the message names what is missing and how to fix it."""


@dataclass
class ClusterConfig:
    """Where the cluster lives and what it runs on."""

    project: Path
    home: Path
    postgres_url: str = DEFAULT_POSTGRES_URL  # a server URL: the databases below are created on it
    redis_url: str = DEFAULT_REDIS_URL
    workers: int = 2
    worker_concurrency: int = 4
    settings_file: Path | None = None  # default: the project's airflow_settings.yaml
    name: str = "lago-netsuite"  # Celery hostnames worker<i>@<name>; the queue and databases derive from it
    heartbeat_timeout_s: int = 60  # a task whose worker died is failed (then retried) after this long
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.name.lower())

    @property
    def queue(self) -> str:
        return f"lns_{self.slug}"

    @property
    def metadata_database(self) -> str:
        return f"lns_{self.slug}_airflow"

    @property
    def store_database(self) -> str:
        return f"lns_{self.slug}_store"

    def database_url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.postgres_url).set(database=database).render_as_string(hide_password=False)

    @property
    def metadata_url(self) -> str:
        """Airflow's own database (Airflow's PostgreSQL driver is psycopg2)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url(self.metadata_database)).set(drivername="postgresql+psycopg2")
        return url.render_as_string(hide_password=False)

    @property
    def store_url(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url(self.store_database)).set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)


# -- what must be there ----------------------------------------------------------------------------
def _where(url: str) -> str:
    """host:port of a URL, never its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    default = 6379 if parts.scheme.startswith("redis") else 5432
    return f"{parts.hostname or 'localhost'}:{parts.port or default}"


def postgres_problem(url: str) -> str | None:
    """None when PostgreSQL answers at ``url``; else what is wrong, in one line."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        first = (str(exc).splitlines() or [""])[0]
        return (f"PostgreSQL is not reachable at {_where(url)} ({type(exc).__name__}: {first}); "
                "start it or pass --postgres-url (LAGO_NETSUITE_CLUSTER_PG_URL)")
    return None


def redis_problem(url: str) -> str | None:
    """None when Redis answers PING at ``url``; else what is wrong, in one line."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return (f"Redis (the Celery broker) is not reachable at {_where(url)} ({type(exc).__name__}: {exc}); "
                "start it or pass --redis-url (LAGO_NETSUITE_CLUSTER_REDIS_URL)")
    return None


def check_servers(config: ClusterConfig) -> None:
    """Raise ClusterError naming every server that does not answer."""
    problems = [p for p in (postgres_problem(config.postgres_url), redis_problem(config.redis_url)) if p]
    if problems:
        raise ClusterError("cannot start the Celery cluster:\n  " + "\n  ".join(problems))


def ensure_database(server_url: str, database: str) -> None:
    """Create ``database`` on the server unless it exists."""
    import sqlalchemy as sa

    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))  # noqa: S608 - our own identifier
    finally:
        engine.dispose()


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the settings file -----------------------------------------------------------------------------
def write_settings(source: Path, dest: Path, *, store_url: str | None = None, lago_url: str | None = None,
                   netsuite_url: str | None = None, pool: int | None = None,
                   variable: dict[str, Any] | None = None) -> Path:
    """A copy of an ``airflow_settings.yaml`` with the store, sandbox URLs, pool size or settings changed."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    section = data["airflow"]
    for conn in section["connections"]:
        if conn["conn_id"] == "lago_default" and lago_url:
            conn["conn_host"] = f"{lago_url}/api/v1"
        elif conn["conn_id"] == "netsuite_default" and netsuite_url:
            conn["conn_extra"]["base_url"] = netsuite_url
        elif conn["conn_id"] == "lago_netsuite_store" and store_url:
            conn["conn_extra"] = {**(conn.get("conn_extra") or {}), "sqlalchemy_url": store_url}
    for item in section["pools"]:
        if item["pool_name"] == "netsuite_restlet" and pool is not None:
            item["pool_slot"] = pool
    for item in section["variables"]:
        if item["variable_name"] == "lago_netsuite_settings" and variable:
            item["variable_value"] = json.dumps({**json.loads(item["variable_value"]), **variable})
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest


# -- the cluster -----------------------------------------------------------------------------------
class Cluster:
    """Start, inspect and stop one Celery cluster."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.state_path = config.home / STATE_FILE
        self.services: AirflowServices | None = None

    # state kept between start and stop/status
    def _state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text()) if self.state_path.exists() else {}

    @property
    def api_port(self) -> int:
        state = self._state()
        if "api_port" not in state:
            state["api_port"] = free_port()
            self.config.home.mkdir(parents=True, exist_ok=True)
            self.state_path.write_text(json.dumps(state))
        return int(state["api_port"])

    @property
    def api_url(self) -> str:
        return f"http://localhost:{self.api_port}"

    def worker_hostname(self, index: int) -> str:
        return f"worker{index}@{self.config.name}"

    def environment(self, *, dev_tools: bool = False) -> dict[str, str]:
        """The environment every component (and, with ``dev_tools``, every setup step) runs with.

        Airflow's components get what a deployment has: the plugins folder and the project, never
        ``devtools/`` (the sandboxes and this command), so the cluster proves the product runs alone.
        """
        cfg = self.config
        devtools = str(cfg.project / "devtools")
        inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                     if p and os.path.abspath(p) != os.path.abspath(devtools)]
        parts = [str(cfg.project / "plugins"), *([devtools] if dev_tools else []), str(cfg.project), *inherited]
        path = os.pathsep.join(parts)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__"))}
        env.update({
            "AIRFLOW_HOME": str(cfg.home), "PYTHONPATH": path, "GX_ANALYTICS_ENABLED": "false", "NO_COLOR": "1",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": cfg.metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": cfg.redis_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(cfg.worker_concurrency),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": cfg.queue,
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            # Every worker has what the scheduler has: parallelism is the cluster's, not one machine's.
            "AIRFLOW__CORE__PARALLELISM": str(max(6, cfg.workers * cfg.worker_concurrency)),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(6, cfg.workers * cfg.worker_concurrency)),
            # A worker that dies takes its tasks' heartbeats with it: fail them (then retry) soon.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(cfg.heartbeat_timeout_s),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        })
        env.update(cfg.extra_env)
        return env

    def _services(self) -> AirflowServices:
        cfg = self.config
        argv: dict[str, list[str]] = {name: [name] for name in COMPONENTS}
        for i in range(1, cfg.workers + 1):
            argv[f"worker{i}"] = [
                "celery", "worker", "--celery-hostname", self.worker_hostname(i), "--queues", cfg.queue,
                "--concurrency", str(cfg.worker_concurrency), "--pid", str(cfg.run_dir / f"worker{i}.pid"),
                # Workers share this machine's log folder, so the api-server reads task logs from it;
                # serving them over HTTP would need one port per worker.
                "--skip-serve-logs",
            ]
        return AirflowServices(run_dir=cfg.run_dir, env=self.environment(), components=tuple(argv), argv=argv,
                               health_url=f"{self.api_url}/api/v2/monitor/health")

    def _step(self, argv: list[str], log_name: str, timeout: float = 900) -> None:
        log = self.config.run_dir / log_name
        with open(log, "wb") as out:
            code = subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT, env=self.environment(dev_tools=True),  # noqa: S603
                                   timeout=timeout)
        if code:
            tail = log.read_text(errors="replace")[-2000:]
            raise ClusterError(f"{' '.join(argv[1:4])} failed with exit code {code}; see {log}\n{tail}")

    def prepare(self) -> None:
        """Databases, airflow.cfg, Airflow's migrations, connections/pool/Variable, the store's migrations."""
        from lago_netsuite_dev.cli.airflow_home import render

        cfg = self.config
        check_servers(cfg)
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        for database in (cfg.metadata_database, cfg.store_database):
            ensure_database(cfg.postgres_url, database)
        cfg_path = cfg.home / "airflow.cfg"
        existing = None
        if cfg_path.exists():
            import configparser

            existing = configparser.ConfigParser(interpolation=None)
            existing.read(cfg_path)
        cfg_path.write_text(render(cfg.project, cfg.home, existing))
        cfg_path.chmod(0o600)
        airflow = str(Path(sys.executable).with_name("airflow"))
        self._step([airflow, "db", "migrate"], "airflow-db-migrate.log")
        settings = write_settings(cfg.settings_file or cfg.project / "airflow_settings.yaml",
                                  cfg.home / "airflow_settings.yaml", store_url=cfg.store_url)
        self._step([sys.executable, "-m", "lago_netsuite_dev.cli.airflow_settings", "apply", str(settings)],
                   "airflow-settings-apply.log")

    def start(self, timeout: float = 300) -> None:
        """Prepare, start every component, wait until all of them are up; stop them all on failure."""
        if any(_alive_group(pid) for pid in self.pids().values()):
            raise ClusterError(f"the cluster in {self.config.home} is already running (./dev cluster stop first)")
        self.prepare()
        self.services = self._services()
        self.services.start()
        try:
            self.services.wait_healthy(timeout=timeout)
            self.wait_workers(timeout=timeout)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise ClusterError(f"the cluster did not come up: {exc}") from exc

    def celery_ping(self, timeout: float = 2.0) -> list[str]:
        """Hostnames of the Celery workers answering on this cluster's broker."""
        from celery import Celery

        app = Celery(broker=self.config.redis_url)
        try:
            replies = app.control.ping(timeout=timeout) or []
        finally:
            app.close()
        return sorted(name for reply in replies for name in reply)

    def wait_workers(self, timeout: float = 300) -> None:
        """Until every worker of this cluster answers a ping."""
        wanted = {self.worker_hostname(i) for i in range(1, self.config.workers + 1)}
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while time.monotonic() < deadline:
            assert self.services is not None
            for name, proc in self.services.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {proc.returncode}; "
                                       f"see {self.config.run_dir / f'airflow-{name}.log'}")
            seen = set(self.celery_ping())
            if wanted <= seen:
                return
            time.sleep(1)
        raise TimeoutError(f"Celery workers not answering after {timeout:.0f} s: {sorted(wanted - seen)}")

    def pids(self) -> dict[str, int]:
        path = self.config.run_dir / "airflow.pids.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def stop(self) -> None:
        (self.services or AirflowServices(run_dir=self.config.run_dir)).stop()

    def status(self) -> list[str]:
        """One line per component, then the api-server's health and the workers that answer."""
        lines = [f"{name}: pid {pid} {'running' if _alive_group(pid) else 'gone'}" for name, pid in self.pids().items()]
        if not lines:
            return [f"the Celery cluster in {self.config.home} is not running"]
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=3) as resp:  # noqa: S310
                health = json.loads(resp.read())
            lines.append("health: " + ", ".join(f"{k} {(v or {}).get('status')}" for k, v in health.items()))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            lines.append(f"health: no answer from {self.api_url} ({exc})")
        if redis_problem(self.config.redis_url) is None:
            lines.append(f"celery workers answering: {', '.join(self.celery_ping()) or 'none'}")
        return lines


def config_from_args(args: argparse.Namespace) -> ClusterConfig:
    return ClusterConfig(project=args.project.resolve(), home=args.home.resolve(), postgres_url=args.postgres_url,
                         redis_url=args.redis_url, workers=args.workers, worker_concurrency=args.concurrency)


def main(argv: list[str] | None = None) -> int:
    """CLI: start | stop | status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--home", type=Path, help="the cluster's AIRFLOW_HOME (default <project>/.cluster)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers, each its own process (default 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="task slots per worker (default 4)")
    parser.add_argument("--postgres-url", default=os.environ.get("LAGO_NETSUITE_CLUSTER_PG_URL", DEFAULT_POSTGRES_URL),
                        help="a PostgreSQL server the metadata and store databases are created on "
                             f"(default {DEFAULT_POSTGRES_URL})")
    parser.add_argument("--redis-url", default=os.environ.get("LAGO_NETSUITE_CLUSTER_REDIS_URL", DEFAULT_REDIS_URL),
                        help=f"the Celery broker (default {DEFAULT_REDIS_URL})")
    args = parser.parse_args(argv)
    args.home = args.home or args.project / ".cluster"
    cluster = Cluster(config_from_args(args))
    if args.action == "stop":
        cluster.stop()
        print("Celery cluster stopped")
        return 0
    if args.action == "status":
        print("\n".join(cluster.status()))
        return 0
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cfg = cluster.config
    print(f"Celery cluster up: {cluster.api_url} (api-server, scheduler with the CeleryExecutor, dag-processor, "
          f"{cfg.workers} workers: {', '.join(cluster.worker_hostname(i) for i in range(1, cfg.workers + 1))})")
    print(f"Metadata database {cfg.metadata_database} and sync store {cfg.store_database} on "
          f"{_where(cfg.postgres_url)}; broker {_where(cfg.redis_url)}, queue {cfg.queue}")
    print(f"Logs: {cfg.run_dir}/airflow-*.log; stop with ./dev cluster stop")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
