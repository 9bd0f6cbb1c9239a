"""What the benchmarks share: figure lines, sandboxes in their own processes, PostgreSQL databases, RSS.

Each benchmark prints one line per figure, ``name: value unit (target ..., ratio ..)``, so two runs
can be compared line by line (``diff``). The sandboxes run in separate processes from the code
being measured, so they never share its GIL:

    python benchmarks/_support.py serve-netsuite '<NetSuiteSandboxConfig fields as JSON>'
    python benchmarks/_support.py serve-lago '{"spec": {...DatasetSpec...}, "api_key": "..", "rate_limit": 50}'

print ``URL http://127.0.0.1:<port>`` once listening, and serve until SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT / "plugins"), str(ROOT / "devtools"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# Airflow reads its configuration at import: without ./dev (which sets the project's .airflow), keep
# the benchmarks' Airflow imports away from ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(Path(tempfile.gettempdir()) / "lago-netsuite-bench-airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

PG_ADMIN_URL = os.environ.get("LAGO_NETSUITE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ACCOUNT_ID = "1234567_SB1"
SCRIPT, DEPLOY = "customscript_lago_netsuite_sync", "customdeploy_lago_netsuite_sync"


# -- figures ---------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def figure(name: str, value: Any, unit: str, *, target: str | None = None, ratio: float | None = None,
           note: str | None = None) -> str:
    """Print (and return) one summary line: ``name: value unit (target ..., ratio .., note)``."""
    extras = [f"target {target}"] if target else []
    if ratio is not None:
        extras.append(f"ratio {ratio:.2f}")
    if note:
        extras.append(note)
    line = f"{name}: {_fmt(value)} {unit}" + (f" ({', '.join(extras)})" if extras else "")
    print(line, flush=True)
    return line


def machine_note() -> str:
    """The machine's load: figures taken while something else runs are not comparable."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def say(message: str) -> None:
    """Progress on stderr, so stdout holds only the figure lines."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


# -- credentials and connections -------------------------------------------------------------------
def netsuite_credentials() -> dict[str, str]:
    """Fresh 64-hex-character token-based-auth values for one benchmark run."""
    return {name: secrets.token_hex(32) for name in ("consumer_key", "consumer_secret", "token_id", "token_secret")}


def netsuite_conn_json(url: str, credentials: dict[str, str], timeout: float = 120) -> str:
    """``AIRFLOW_CONN_NETSUITE_DEFAULT`` for a sandbox at ``url``."""
    return json.dumps({"conn_type": "netsuite", "extra": {
        "account_id": ACCOUNT_ID, **credentials, "base_url": url, "script": SCRIPT, "deploy": DEPLOY,
        "timeout": timeout}})


def lago_conn_json(url: str, api_key: str, requests_per_second: float | None = None) -> str:
    """``AIRFLOW_CONN_LAGO_DEFAULT`` for a sandbox at ``url`` (pacing: the connection's default unless given)."""
    extra = {} if requests_per_second is None else {"requests_per_second": requests_per_second}
    return json.dumps({"conn_type": "lago", "host": f"{url}/api/v1", "password": api_key, "extra": extra})


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: this one, the project on PYTHONPATH, plus ``extra``."""
    parts = [str(ROOT / "plugins"), str(ROOT / "devtools"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    path = os.pathsep.join(parts).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, "GX_ANALYTICS_ENABLED": "false", **extra}


# -- processes -------------------------------------------------------------------------------------
def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group ``proc`` leads, wait, then SIGKILL what is left."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, if any
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2)


@dataclass
class ServerProcess:
    """A sandbox served by ``_support.py serve-*`` in its own process group."""

    proc: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        stop_group(self.proc)

    def cpu_seconds(self) -> float:
        """CPU time the sandbox process has used so far (user + system)."""
        import psutil

        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(kind: str, config: dict[str, Any], log_dir: Path, timeout: float = 120) -> ServerProcess:
    """Start ``serve-<kind>`` with ``config`` and wait for its URL."""
    log = log_dir / f"sandbox-{kind}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, str(Path(__file__)), f"serve-{kind}", json.dumps(config)],
            stdout=subprocess.PIPE, stderr=err, env=child_env(), start_new_session=True,
        )
    assert proc.stdout is not None
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline().decode()), daemon=True)
    reader.start()
    reader.join(timeout)
    line = result[0].strip() if result else ""
    if not line.startswith("URL "):
        stop_group(proc)
        raise RuntimeError(f"the {kind} sandbox did not start: {line!r}; see {log}")
    return ServerProcess(proc, line.split(" ", 1)[1], log)


def _serve_forever(app: Any) -> None:
    from lago_netsuite_dev.sandbox.server import serve_in_thread

    server = serve_in_thread(app)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"URL {server.url}", flush=True)
    stop.wait()
    server.stop()


def serve_netsuite(config: dict[str, Any]) -> None:
    """Serve a NetSuite sandbox configured by ``config`` (NetSuiteSandboxConfig fields; ``faults`` as JSON)."""
    from lago_netsuite_dev.sandbox.netsuite import NetSuiteSandboxConfig, create_app
    from lago_netsuite_dev.sandbox.netsuite.config import FaultConfig

    faults = FaultConfig.from_dict(config.pop("faults", {}))
    _serve_forever(create_app(NetSuiteSandboxConfig(**config, faults=faults)))


def serve_lago(config: dict[str, Any]) -> None:
    """Serve a Lago sandbox over a generated dataset: ``{"spec": {...}, "api_key", "rate_limit"}``."""
    from lago_netsuite_dev.sandbox.lago.app import create_app
    from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, generate

    dataset = generate(DatasetSpec(**config["spec"]))
    _serve_forever(create_app(dataset, config["api_key"], rate_limit_per_s=config.get("rate_limit", 50)))


# -- databases -------------------------------------------------------------------------------------
@contextlib.contextmanager
def postgres_database(prefix: str = "lns_bench") -> Iterator[str]:
    """A fresh PostgreSQL database on ``PG_ADMIN_URL``'s server, dropped afterwards."""
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


# -- memory ----------------------------------------------------------------------------------------
@dataclass
class TreeRssSampler:
    """Samples the summed RSS of some process trees every ``interval`` seconds; keeps the peak."""

    roots: list[int]
    interval: float = 0.25
    peak_bytes: int = 0
    peak_processes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> int:
        import psutil

        seen: dict[int, int] = {}
        for root in self.roots:
            try:
                top = psutil.Process(root)
                procs = [top, *top.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    seen[proc.pid] = proc.memory_info().rss
        total = sum(seen.values())
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, len(seen)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> TreeRssSampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


if __name__ == "__main__":
    command, raw = sys.argv[1], sys.argv[2]
    {"serve-netsuite": serve_netsuite, "serve-lago": serve_lago}[command](json.loads(raw))
