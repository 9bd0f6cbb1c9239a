"""Benchmark: the sync ledger UI's documents page with 1,000,000 ledger rows (SQLite and PostgreSQL).

A fresh store is migrated and filled with N ledger rows (default 1,000,000: 94 % synced, 3 % failed,
1 % quarantined, 2 % waiting; invoices, credit notes and payments of 1,000 customers in 4 billing
entities and 3 currencies over 2019-2026) and their Lago documents, by bulk inserts (``COPY`` on
PostgreSQL, ``executemany`` on SQLite). Then the real app (``lago_netsuite.ui.app``, with Airflow's
auth manager and a viewer's JWT) answers ``GET /documents`` (the HTML page: rows, counts per state,
links) through FastAPI's TestClient; each figure is the median of R requests after one warm-up.

    .venv/bin/python benchmarks/ui.py [--rows 1000000] [--repeat 5] [--sqlite] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import figure, machine_note, postgres_database, say  # noqa: E402

TARGET_MS = 300
STATES = ["synced"] * 94 + ["failed"] * 3 + ["quarantined"] + ["waiting"] * 2
KINDS = [("invoice", "invoice")] * 8 + [("creditnote", "creditnote"), ("payment", "payment")]
CURRENCIES = ["EUR", "USD", "JPY"]
T0 = datetime(2019, 1, 1)


def _rows(n: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    ledger, docs = [], []
    for i in range(n):
        kind, doc_kind = KINDS[i % 10]
        lago_id = f"{i:012d}-0000-4000-8000-000000000000"
        state = STATES[(i * 7919) % 100]
        day = T0 + timedelta(days=(i * 2922) // n)  # 2019-01-01 .. 2026-12-31, in creation order
        created = T0 + timedelta(seconds=i * 240)
        bad = state in ("failed", "quarantined")
        err = ("NETSUITE_ERROR", f"NetSuite refused the record {i}") if bad else (None, None)
        number = f"ACME-{day:%Y%m}-{i:07d}"
        ledger.append((f"lago-{kind}-{lago_id}", kind, kind, lago_id, number, CURRENCIES[i % 3], 1000 + i % 50000,
                       state, "create", '{"externalId": "x"}', 0, str(10 + i) if state == "synced" else None,
                       err[0], err[1], 0, f"scheduled__{day:%Y-%m-%d}", created, created,
                       f"entity-{(i % 1000) % 4}"))  # the customer's billing entity, as the sync keeps it
        docs.append((doc_kind, lago_id, number, f"{day:%Y-%m-%d}", "finalized", f"CUST-{i % 1000}", "{}", "0" * 64,
                     created, created, created))
    customers = [(f"cust-{c}", f"CUST-{c}", f"entity-{c % 4}", "{}", "0" * 64, T0, T0, T0) for c in range(1000)]
    return ledger, docs, customers


LEDGER_COLS = ("external_id, kind, record_type, lago_id, number, currency, total_minor, state, action, payload, "
               "attempts, netsuite_id, last_error_code, last_error_message, changed_after_sync, last_run_id, "
               "created_at, updated_at, billing_entity_code")
DOC_COLS = ("kind, lago_id, number, issuing_date, status, customer_external_id, payload, payload_hash, "
            "first_seen_at, changed_at, last_seen_at")
CUST_COLS = "lago_id, external_id, billing_entity_code, payload, payload_hash, first_seen_at, changed_at, last_seen_at"


def fill(url: str, n: int) -> None:
    from lago_netsuite.ledger import migrations, store

    engine = store.get_engine(url)
    migrations.migrate(engine)
    ledger, docs, customers = _rows(n)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            for table, cols, data in (("sync_ledger", LEDGER_COLS, ledger), ("lago_document", DOC_COLS, docs),
                                      ("lago_customer", CUST_COLS, customers)):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
        else:
            for table, cols, data in (("sync_ledger", LEDGER_COLS, ledger), ("lago_document", DOC_COLS, docs),
                                      ("lago_customer", CUST_COLS, customers)):
                marks = ", ".join("?" * len(cols.split(",")))
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", data)  # noqa: S608 - fixed names
        raw.commit()
    finally:
        raw.close()
    # statistics and (PostgreSQL) the visibility map, as autovacuum keeps them on a live store
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")


def _airflow_ready() -> None:
    home = Path(os.environ["AIRFLOW_HOME"])
    marker = home / ".ui-bench-migrated"
    if not marker.exists():
        say("migrating Airflow's metadata database for the auth manager (once)")
        subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True,
                       capture_output=True, timeout=600)
        marker.touch()


def measure(url: str, label: str, n: int, repeat: int) -> list[str]:
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from lago_netsuite.ledger import store
    from lago_netsuite.ui import links
    from lago_netsuite.ui.app import create_app

    auth = init_auth_manager()
    headers = {"Authorization": f"Bearer {auth.generate_jwt(SimpleAuthManagerUser(username='bench', role='VIEWER'))}"}
    engine = store.get_engine(url)
    app = create_app(engine_factory=lambda: engine, link_factory=lambda: links.LinkContext("1234567_SB1", {}))
    client = TestClient(app, root_path="/lago-netsuite")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("first page", {}),
        ("filtered page (state=failed)", {"state": "failed"}),
        ("filtered page (quarantined invoices in EUR)", {"state": "quarantined", "kind": "invoice", "currency": "EUR"}),
        ("filtered page (one customer)", {"q": "CUST-42"}),
        ("filtered page (issued in 2024-06)", {"date_from": "2024-06-01", "date_to": "2024-06-30"}),
        ("filtered page (one billing entity)", {"billing_entity": "entity-1"}),
    ]
    # a page deep in the table: the cursor a reader reaches after paging 95 % of the way down
    cases.append((f"page {n * 95 // 100 // 50 + 1:,} (keyset cursor)", {"cursor": _cursor_near_end(engine)}))
    lines = []
    for name, params in cases:
        r = client.get("/documents", params=params, headers=headers)
        assert r.status_code == 200, r.text[:500]
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = client.get("/documents", params=params, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        ms = statistics.median(times)
        lines.append(figure(f"ui {label} {n:,} rows, {name}", ms, "ms", target=f"< {TARGET_MS} ms",
                            ratio=ms / TARGET_MS))
    return lines


def _cursor_near_end(engine: Any) -> str:
    import sqlalchemy as sa

    from lago_netsuite.ledger import schema
    from lago_netsuite.ui import queries

    L = schema.ledger
    with engine.connect() as conn:  # set-up only, not timed: 95 % of the way down the table
        row = conn.execute(sa.select(L.c.created_at, L.c.external_id)
                           .order_by(L.c.created_at.desc(), L.c.external_id.desc())
                           .offset(_N[0] * 95 // 100).limit(1)).one()
    return queries.encode_cursor(row.created_at, row.external_id)


_N = [0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    _N[0] = args.rows
    both = not (args.sqlite or args.postgres)
    _airflow_ready()
    say(machine_note())
    if args.sqlite or both:
        with tempfile.TemporaryDirectory(prefix="lns-ui-bench-") as tmp:
            url = f"sqlite:///{tmp}/store.db"
            t = time.perf_counter()
            fill(url, args.rows)
            say(f"SQLite store with {args.rows:,} rows filled in {time.perf_counter() - t:.0f} s")
            measure(url, "SQLite", args.rows, args.repeat)
    if args.postgres or both:
        with postgres_database("lns_ui_bench") as url:
            t = time.perf_counter()
            fill(url, args.rows)
            say(f"PostgreSQL store with {args.rows:,} rows filled in {time.perf_counter() - t:.0f} s")
            measure(url, "PostgreSQL", args.rows, args.repeat)
            from lago_netsuite.ledger import store

            store.dispose_engines()


if __name__ == "__main__":
    main()
