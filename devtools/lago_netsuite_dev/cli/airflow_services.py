"""Run a real Airflow for this project — api-server, scheduler, dag-processor, triggerer — and stop it cleanly.

Each component starts in its own process group, so stopping sends SIGTERM to the whole group
(uvicorn workers, executor workers, task supervisors included), waits, then SIGKILLs what is left:
``airflow standalone`` stopped with a plain SIGTERM leaves children behind. Logs go to
``<run-dir>/airflow-<component>.log``.

    python -m lago_netsuite_dev.cli.airflow_services run --run-dir .run [--port 8080]   # foreground; Ctrl-C stops all
    python -m lago_netsuite_dev.cli.airflow_services start|stop|status --run-dir .run
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# The triggerer too: no task of the project defers, but without one the UI's health badge is red.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_URL = "http://localhost:8080/api/v2/monitor/health"


@dataclass
class AirflowServices:
    """The Airflow processes of one project, started and stopped together."""

    run_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    components: tuple[str, ...] = COMPONENTS
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    health_url: str = HEALTH_URL  # another port when [api] port is not 8080 (e.g. the end-to-end benchmark)
    argv: dict[str, list[str]] = field(default_factory=dict)  # airflow arguments per component; default [name]

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "airflow.pids.json"

    def start(self) -> None:
        """Start every component in a new session (its own process group)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).with_name("airflow"))
        for name in self.components:
            log = open(self.run_dir / f"airflow-{name}.log", "ab")  # noqa: SIM115 - owned by the child
            self.procs[name] = subprocess.Popen(  # noqa: S603 - our own airflow binary, fixed arguments
                [airflow, *self.argv.get(name, [name])], stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )
        self.pid_file.write_text(json.dumps({n: p.pid for n, p in self.procs.items()}))

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Wait until the api-server answers and reports a healthy scheduler and dag-processor."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    log_file = self.run_dir / f"airflow-{name}.log"
                    raise RuntimeError(f"airflow {name} exited with {proc.returncode}; see {log_file}")
            try:
                with urllib.request.urlopen(self.health_url, timeout=3) as resp:  # noqa: S310 - fixed loopback URL
                    health = json.loads(resp.read())
                states = {k: (v or {}).get("status") for k, v in health.items()}
                if states.get("scheduler") == "healthy" and states.get("dag_processor", "healthy") == "healthy":
                    return
                last = str(states)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = str(exc)
            time.sleep(1)
        raise TimeoutError(f"Airflow did not become healthy within {timeout:.0f} s ({last})")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every process group, wait up to ``grace`` seconds, then SIGKILL the rest."""
        pids = {n: p.pid for n, p in self.procs.items()}
        if not pids and self.pid_file.exists():
            pids = json.loads(self.pid_file.read_text())
        stop_groups(list(pids.values()), grace)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()
        self.pid_file.unlink(missing_ok=True)


def _alive_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_groups(pgids: list[int], grace: float = 20.0) -> None:
    """Terminate whole process groups: SIGTERM, wait, SIGKILL."""
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive_group(g) for g in pgids):
        time.sleep(0.2)
    for pgid in pgids:
        if _alive_group(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main(argv: list[str] | None = None) -> None:
    """CLI: run (foreground), start, stop, status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["run", "start", "stop", "status"])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8080, help="port of the UI and API (default 8080)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.port != 8080:  # the API server's port and the URL task workers report to move together
        env["AIRFLOW__API__PORT"] = str(args.port)
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://localhost:{args.port}/execution/"
    services = AirflowServices(run_dir=args.run_dir, env=env,
                               health_url=HEALTH_URL.replace(":8080/", f":{args.port}/"))
    if args.action == "stop":
        services.stop()
        print("Airflow stopped")
        return
    if args.action == "status":
        pids = json.loads(services.pid_file.read_text()) if services.pid_file.exists() else {}
        for name, pid in pids.items():
            print(f"{name}: pid {pid} {'running' if _alive_group(pid) else 'gone'}")
        if not pids:
            print("Airflow is not running (started by this tool)")
        return
    services.start()
    try:
        services.wait_healthy()
    except (RuntimeError, TimeoutError):
        services.stop()
        raise
    print(f"Airflow is up: http://localhost:{args.port} (api-server, scheduler with the LocalExecutor, "
          "dag-processor, triggerer)")
    print(f"Sync ledger: http://localhost:{args.port}/plugin/sync-ledger (Airflow's navigation: 'Sync ledger')")
    print(f"Logs: {args.run_dir}/airflow-*.log")
    if args.action == "start":
        return
    print("Press Ctrl-C to stop all of it.")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping and all(p.poll() is None for p in services.procs.values()):
        time.sleep(0.5)
    services.stop()
    print("Airflow stopped")


if __name__ == "__main__":
    main()
