"""Transitions of many rows at once, on SQLite and PostgreSQL: the lease guard holds row by row.

PostgreSQL writes a batch in one statement per column set under row locks; SQLite row by row. Both
must change exactly the rows the caller may change, and log an event for each of those only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import claims, migrations, records, schema, store
from lago_netsuite.ledger.claims import FAILED, PENDING, SENT, SYNCED, Transition
from lago_netsuite.ledger.records import Outcome


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 's.db'}"
    eng = store.get_engine(url)
    migrations.migrate(eng)
    yield eng
    store.dispose_engines()


def _seed(engine, n: int) -> list[str]:
    outs = [Outcome(f"lago-invoice-i{k}", "invoice", "invoice", f"i{k}", f"INV-{k}", "h", PENDING,
                    body={"externalId": f"lago-invoice-i{k}", "type": "invoice"}) for k in range(n)]
    records.apply_outcomes(engine, outs, mapping_hash="m", run_id="seed")
    return [o.external_id for o in outs]


def _rows(engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {r.external_id: r for r in conn.execute(sa.select(schema.ledger))}


def _events(engine, run_id: str) -> list[tuple[str, str]]:
    e = schema.event
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(e.c.external_id, e.c.to_state).where(e.c.run_id == run_id)).tuples())


def test_a_batch_changes_only_the_rows_whose_lease_the_owner_holds(engine) -> None:
    ids = _seed(engine, 8)
    mine, theirs = claims.new_owner(), claims.new_owner()
    claims.claim(engine, ids[:5], mine, lease_seconds=600)
    claims.claim(engine, ids[5:], theirs, lease_seconds=600)
    batch = [Transition(eid, PENDING, SENT, values={"attempts": 1, "sent_hash": "a" * 64}) for eid in ids]
    assert claims.transition(engine, batch, run_id="send", owner=mine) == 5
    # results with different column sets in one call: created (with an id) and failed (with a reason)
    results = [Transition(ids[0], SENT, SYNCED, "created", None, "101"),
               Transition(ids[1], SENT, SYNCED, "created", None, "102"),
               Transition(ids[2], SENT, FAILED, "USER_ERROR", "no such item"),
               Transition(ids[6], SENT, SYNCED, "created", None, "999")]  # not ours: left alone
    assert claims.transition(engine, results, run_id="results", owner=mine) == 3
    rows = _rows(engine)
    assert [rows[e].state for e in ids] == [SYNCED, SYNCED, FAILED, SENT, SENT, PENDING, PENDING, PENDING]
    assert (rows[ids[0]].netsuite_id, rows[ids[2]].last_error_message) == ("101", "no such item")
    assert rows[ids[0]].lease_owner is None and rows[ids[3]].lease_owner == mine  # 'sent' keeps its lease
    assert rows[ids[6]].lease_owner == theirs and rows[ids[6]].netsuite_id is None
    assert _events(engine, "send") == [(e, SENT) for e in sorted(ids[:5])]
    assert _events(engine, "results") == sorted([(ids[0], SYNCED), (ids[1], SYNCED), (ids[2], FAILED)])


def test_without_an_owner_a_batch_skips_the_rows_a_loader_holds(engine) -> None:
    ids = _seed(engine, 4)
    claims.claim(engine, ids[:1], claims.new_owner(), lease_seconds=600)
    batch = [Transition(eid, PENDING, PENDING, "REBUILT", "new payload", values={"attempts": 0}) for eid in ids]
    assert claims.transition(engine, batch, run_id="transform", owner=None) == 3
    assert _events(engine, "transform") == [(e, PENDING) for e in sorted(ids[1:])]
