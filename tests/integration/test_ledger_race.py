"""Two loader processes racing over the same pending records on PostgreSQL: no record is sent twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import migrations, records, schema, store
from lago_netsuite.ledger.claims import PENDING
from lago_netsuite.ledger.records import Outcome
from tests.plugins.netsuite_sandbox import customer_record, netsuite_conn_json

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_two_loaders_share_the_records_and_none_is_sent_twice(postgres_url, netsuite_sandbox_factory, tmp_path):
    sandbox = netsuite_sandbox_factory(latency_per_call_ms=30, latency_per_record_ms=2, concurrency_limit=10)
    engine = store.get_engine(postgres_url)
    migrations.migrate(engine)
    outcomes = [Outcome(f"lago-customer-r{n}", "customer", "customer", f"r{n}", f"C-{n}", "h", PENDING,
                        body=customer_record(f"lago-customer-r{n}")) for n in range(120)]
    records.apply_outcomes(engine, outcomes, mapping_hash="m", run_id="seed")
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps([o.external_id for o in outcomes]))
    go = tmp_path / "go"
    env = {**os.environ, "AIRFLOW_CONN_NETSUITE_DEFAULT": netsuite_conn_json(sandbox),
           "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT / 'devtools'}{os.pathsep}{ROOT}"}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.integration.race_loader", postgres_url, str(ids_file),
                               str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for _ in range(2)]
    import time

    deadline = time.monotonic() + 120  # both processes imported, connected and waiting, however loaded the machine
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs]
        time.sleep(0.05)
    go.touch()
    outputs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outputs]
    stats = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(s["created"] for s in stats) == 120
    assert all(s["created"] > 0 for s in stats), f"one loader did everything: {stats}"
    ns = sandbox.stats()
    assert ns["records_received"] == 120, "a record was sent twice"
    assert ns["duplicates_prevented"] == 0
    with engine.connect() as conn:
        t = schema.ledger
        rows = conn.execute(sa.select(t.c.state, t.c.netsuite_id, t.c.attempts)).all()
    assert {r.state for r in rows} == {"synced"} and all(r.attempts == 1 for r in rows)
    assert sorted(r.netsuite_id for r in rows) == sorted(r["id"] for r in sandbox.records())
    store.dispose_engines()
