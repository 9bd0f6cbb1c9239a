"""A loading worker for the reliability tests: ``python -m tests.reliability.load_worker``.

It imports Airflow and the pipeline once, then, like Airflow's LocalExecutor, forks one child
process per load task: the child runs one load lane (:func:`lago_netsuite.orchestration.steps.lane`,
the producer being done) until nothing is left to send, and exits. The test drives it over
stdin/stdout with one JSON object per line and may SIGKILL a child at any moment — that child is
"the loading process" of the crash tests; the other lanes go on. The parent only forks and reaps
(it never opens the store or an HTTP connection), so a killed child leaves exactly what a killed
Airflow task would: its committed ledger rows and its leases.

Command (stdin)::

    {"run_id": "...", "store_url": "...", "settings": {...}, "env": {"AIRFLOW_CONN_...": "..."},
     "stages": [[{"lane": 0}, {"lane": 1}, ...]], "parallel": 2, "log": "/path/run.log"}

Events (stdout, each line prefixed with ``@@worker ``): ``{"event": "ready"}`` once imported;
``{"event": "started", "pid", "label"}`` and ``{"event": "exited", "pid", "label", "status",
"signal", "stats"}`` per child; ``{"event": "done", "completed": bool}`` per command. A stage
starts only when every child of the previous one exited normally (customers before invoices
before what depends on them); after a killed or failed child the run stops there, as a DAG run
whose load task failed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import traceback
from typing import Any, TextIO

PREFIX = "@@worker "
_OUT: TextIO = sys.__stdout__ or sys.stdout  # the protocol's channel (Airflow's logging may use sys.stdout)


def emit(event: dict[str, Any]) -> None:
    """One protocol line on the real stdout."""
    _OUT.write(PREFIX + json.dumps(event) + "\n")
    _OUT.flush()


def child_main(command: dict[str, Any], group: dict[str, Any], result_path: str) -> int:
    """Body of one forked load task; returns its exit code."""
    log_fd = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.environ.update(command.get("env") or {})
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format=f"%(asctime)s pid={os.getpid()} %(levelname)s %(name)s: %(message)s")
    from lago_netsuite.orchestration import steps as pipeline
    from lago_netsuite.settings import SyncSettings

    logging.getLogger(__name__).info("load task %s: lane %s", command["run_id"], group.get("lane"))
    try:
        ctx = pipeline.RunContext(run_id=command["run_id"], dag_id="reliability",
                                  settings=SyncSettings.from_mapping(command["settings"]),
                                  store_url=command["store_url"])
        stats = pipeline.lane(ctx, int(group["lane"]), producer=lambda: "done",
                              netsuite_conn_id=command.get("netsuite_conn_id", "netsuite_default"))
    except BaseException:  # noqa: BLE001 - reported to the test, which fails on it
        traceback.print_exc()
        return 1
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(stats, fh)
    return 0


def run_command(command: dict[str, Any]) -> None:
    """Run one sync's load stages, forking a child per group."""
    parallel = max(1, int(command.get("parallel", 1)))
    completed = True
    with tempfile.TemporaryDirectory(prefix="load-worker-") as tmp:
        for stage in command["stages"]:
            queue = list(enumerate(stage))
            running: dict[int, tuple[str, str]] = {}
            stage_ok = True
            while queue or running:
                while queue and len(running) < parallel and stage_ok:
                    index, group = queue.pop(0)
                    result_path = os.path.join(tmp, f"{command['run_id']}-{id(stage)}-{index}.json")
                    _OUT.flush()
                    pid = os.fork()
                    if pid == 0:  # the loading process
                        code = 1
                        try:
                            code = child_main(command, group, result_path)
                        finally:
                            os._exit(code)
                    running[pid] = (f"lane {group.get('lane')}", result_path)
                    emit({"event": "started", "pid": pid, "label": f"lane {group.get('lane')}"})
                if not running:
                    break
                pid, status = os.waitpid(-1, 0)
                label, result_path = running.pop(pid)
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                stats: Any = None
                if exit_code == 0 and os.path.exists(result_path):
                    with open(result_path, encoding="utf-8") as fh:
                        stats = json.load(fh)
                emit({"event": "exited", "pid": pid, "label": label, "status": exit_code, "signal": sig,
                      "stats": stats})
                if exit_code != 0:
                    stage_ok = False
                    queue.clear()  # the failed task's siblings that never started are not run
            if not stage_ok:
                completed = False
                break
    emit({"event": "done", "completed": completed})


def main() -> None:
    # Warm imports, done once: every forked child starts from here.
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook  # noqa: F401
    from lago_netsuite.ledger import runtime  # noqa: F401
    from lago_netsuite.load import loader, stream  # noqa: F401
    from lago_netsuite.orchestration import steps as pipeline  # noqa: F401
    from lago_netsuite.settings import SyncSettings  # noqa: F401

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    emit({"event": "ready", "pid": os.getpid()})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        command = json.loads(line)
        if command.get("cmd") == "exit":
            break
        run_command(command)


if __name__ == "__main__":
    main()
