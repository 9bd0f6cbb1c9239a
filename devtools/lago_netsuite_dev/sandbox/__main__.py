"""Run both sandboxes for the demo: ``python -m lago_netsuite_dev.sandbox start|stop|status|serve``.

The ports and credentials come from the project's ``airflow_settings.yaml`` (the same values the
DAGs' connections use), the NetSuite side accepts the items, currencies and subsidiaries of the
mapping file, knows the NetSuite customers Lago already links to, and checks every document's
total against Lago's (the contract's invariant). The Lago dataset is seeded and its dates are
pinned in ``<run-dir>/sandbox-dataset.json``, and the NetSuite records are saved on stop, so a
second demo sees the same Lago documents and the NetSuite records of the first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lago_netsuite import paths

STATE_FILE = "sandboxes.json"
DATASET_FILE = "sandbox-dataset.json"
NETSUITE_STATE_FILE = "netsuite-records.json"


def _connections(settings_path: Path) -> dict[str, dict[str, Any]]:
    from lago_netsuite_dev.cli.airflow_settings import read_settings

    return {c["conn_id"]: c for c in read_settings(settings_path)["connections"]}


def _dataset_spec(run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    pinned = run_dir / DATASET_FILE
    if pinned.exists() and not args.fresh:
        return json.loads(pinned.read_text())
    today = date.today()
    spec = {"seed": args.seed, "customers": args.customers, "invoices": args.invoices,
            "start_date": (today - timedelta(days=args.days - 1)).isoformat(), "end_date": today.isoformat(),
            "as_of_end": True}
    pinned.write_text(json.dumps(spec))
    return spec


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def serve(args: argparse.Namespace) -> None:
    """Run both sandboxes in this process until SIGTERM/SIGINT; save NetSuite's records on the way out."""
    from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, generate
    from lago_netsuite_dev.sandbox.pair import DEMO_REQUIRED_FIELDS, build_pair
    from lago_netsuite_dev.sandbox.server import serve_in_thread

    run_dir: Path = args.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    conns = _connections(args.settings)
    lago_conn, ns_conn = conns["lago_default"], conns["netsuite_default"]
    ns_extra = ns_conn["conn_extra"]
    spec = _dataset_spec(run_dir, args)
    dataset = generate(DatasetSpec(**spec))
    saved = run_dir / NETSUITE_STATE_FILE
    restore = saved.exists() and not args.fresh
    pair = build_pair(
        dataset, lago_api_key=lago_conn["conn_password"],
        netsuite_credentials={k: ns_extra[k] for k in ("account_id", "consumer_key", "consumer_secret", "token_id",
                                                       "token_secret", "script", "deploy")},
        mapping_path=args.mapping, lago_rate_limit=args.lago_rate_limit, seed_linked_customers=not restore,
        concurrency_limit=args.concurrency, latency_per_call_ms=args.latency_call_ms,
        latency_per_record_ms=args.latency_record_ms, required_fields=DEMO_REQUIRED_FIELDS,
    )
    lago_app, ns_app, config = pair.lago_app, pair.netsuite_app, pair.netsuite_config
    store = ns_app.state.sandbox.store
    if restore:
        _restore_netsuite(store, saved)

    lago_server = serve_in_thread(lago_app, port=_port(lago_conn["conn_host"]))
    ns_server = serve_in_thread(ns_app, port=_port(ns_extra["base_url"]))
    (run_dir / STATE_FILE).write_text(json.dumps({
        "pid": os.getpid(), "lago_url": lago_conn["conn_host"], "netsuite_url": ns_extra["base_url"],
        "dataset": spec,
    }))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"Lago sandbox     {lago_conn['conn_host']}  ({len(dataset.invoices)} invoices, "
          f"{len(dataset.credit_notes)} credit notes, {len(dataset.payments)} payments, "
          f"{len(dataset.customers)} customers, issued {spec['start_date']}..{spec['end_date']})", flush=True)
    print(f"NetSuite sandbox {ns_extra['base_url']}  (account {config.account_id}, "
          f"{config.concurrency_limit} concurrent requests)", flush=True)
    stop.wait()
    _save_netsuite(store, run_dir / NETSUITE_STATE_FILE)
    lago_server.stop()
    ns_server.stop()


def _restore_netsuite(store: Any, saved: Path) -> None:
    """Records of an earlier demo come back (ids and voids included)."""
    from lago_netsuite_dev.sandbox.netsuite.store import StoredRecord

    for item in json.loads(saved.read_text()):
        store.seed(StoredRecord(type=item["type"], id=item["id"], external_id=item["externalId"],
                                body=item["body"], voided=item["voided"]))


def _save_netsuite(store: Any, path: Path) -> None:
    from lago_netsuite_dev.sandbox.netsuite.store import jsonable

    records = [{"type": r.type, "id": r.id, "externalId": r.external_id, "body": jsonable(r.body),
                "voided": r.voided} for r in store.records()]
    path.write_text(json.dumps(records))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback URL from our own settings
            return True
    except urllib.error.HTTPError:
        return True  # it answered (401 without a key is fine)
    except OSError:
        return False


def start(args: argparse.Namespace) -> None:
    """Start ``serve`` in the background (its own session) and wait until both sandboxes answer."""
    stop(args, quiet=True)
    run_dir: Path = args.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    log = open(run_dir / "sandboxes.log", "ab")  # noqa: SIM115 - handed to the child
    argv = [sys.executable, "-m", "lago_netsuite_dev.sandbox", "serve", *args.passthrough]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + 90
    state_file = run_dir / STATE_FILE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the sandboxes exited with {proc.returncode}; see {run_dir / 'sandboxes.log'}")
        if state_file.exists():
            state = json.loads(state_file.read_text())
            if state.get("pid") == proc.pid and _answers(state["lago_url"]) and _answers(state["netsuite_url"]):
                print(f"sandboxes up (pid {proc.pid}): Lago {state['lago_url']}, NetSuite {state['netsuite_url']}")
                return
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("the sandboxes did not start within 90 s")


def stop(args: argparse.Namespace, *, quiet: bool = False) -> None:
    """Stop a background ``serve`` (SIGTERM, so it saves NetSuite's records), SIGKILL after 15 s."""
    state_file = args.run_dir / STATE_FILE
    if not state_file.exists():
        return
    pid = json.loads(state_file.read_text()).get("pid")
    if pid and _alive(pid):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        if not quiet:
            print("sandboxes stopped")
    state_file.unlink(missing_ok=True)


def status(args: argparse.Namespace) -> None:
    """Say whether the background sandboxes run."""
    state_file = args.run_dir / STATE_FILE
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if state.get("pid") and _alive(state["pid"]):
        print(f"running (pid {state['pid']}): Lago {state['lago_url']}, NetSuite {state['netsuite_url']}")
    else:
        print("not running")


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m lago_netsuite_dev.sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--run-dir", type=Path, default=paths.PROJECT_ROOT / ".run")
    parser.add_argument("--settings", type=Path, default=paths.PROJECT_ROOT / "airflow_settings.yaml")
    parser.add_argument("--mapping", type=Path, default=paths.include_dir() / "mappings" / "netsuite_mapping.yaml")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--invoices", type=int, default=300)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--days", type=int, default=3, help="issuing dates spread over the last N days")
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--latency-call-ms", type=float, default=100)
    parser.add_argument("--latency-record-ms", type=float, default=5)
    parser.add_argument("--lago-rate-limit", type=int, default=50)
    parser.add_argument("--fresh", action="store_true", help="forget the pinned dataset and saved NetSuite records")
    args, _ = parser.parse_known_args(argv)
    raw = list(argv if argv is not None else sys.argv[1:])
    args.passthrough = [a for a in raw if a not in ("start", "stop", "status", "serve")]
    {"start": start, "stop": stop, "status": status, "serve": serve}[args.action](args)


if __name__ == "__main__":
    main()
