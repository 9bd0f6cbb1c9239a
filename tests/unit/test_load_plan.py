"""Load planning: how many groups a stage is split into, and that the groups cover it exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from lago_netsuite.ledger import migrations, records, store
from lago_netsuite.ledger.claims import PENDING
from lago_netsuite.ledger.records import Outcome
from lago_netsuite.load.plan import MAX_GROUPS_PER_STAGE, group_count, group_ids, plan_groups


@pytest.mark.parametrize(
    ("records_", "per_group", "lanes", "batch_size", "expected"),
    [
        pytest.param(0, 500, 5, 25, 0, id="empty stage"),
        pytest.param(30, 500, 5, 25, 2, id="smaller than a wave: one batch per group at least"),
        pytest.param(500, 500, 5, 25, 5, id="one group's worth spread over the wave"),
        pytest.param(2500, 500, 5, 25, 5, id="exactly one wave"),
        pytest.param(4042, 500, 5, 25, 10, id="9 groups round up to two full waves"),
        pytest.param(5190, 500, 5, 25, 10, id="11 groups round down: no wave of one"),
        pytest.param(3100, 500, 5, 25, 5, id="7 groups round to the nearest multiple: one wave"),
        pytest.param(1100, 500, 1, 1, 3, id="one lane: as many groups as documents_per_load_task asks"),
        pytest.param(10**6, 500, 5, 25, MAX_GROUPS_PER_STAGE, id="capped under max_map_length"),
        pytest.param(10**6, 500, 7, 25, MAX_GROUPS_PER_STAGE // 7 * 7, id="cap stays a multiple of the lanes"),
    ],
)
def test_group_count(records_: int, per_group: int, lanes: int, batch_size: int, expected: int) -> None:
    assert group_count(records_, per_group, lanes=lanes, batch_size=batch_size) == expected


def test_groups_are_even_and_cover_each_record_once(tmp_path: Path) -> None:
    engine = store.get_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        migrations.migrate(engine)
        outcomes = [Outcome(f"lago-invoice-i{n}", "invoice", "invoice", f"i{n}", f"INV-{n:04d}", "h", PENDING,
                            body={"externalId": f"lago-invoice-i{n}", "type": "invoice"}) for n in range(1037)]
        records.apply_outcomes(engine, outcomes, mapping_hash="m", run_id="seed")
        plan = plan_groups(engine, "run-1", kinds=("invoice",), per_group=100, lanes=5, batch_size=25)
        sizes = [len(group_ids(engine, ref.as_dict())) for ref in plan[2]]
        assert len(sizes) == 10 and max(sizes) - min(sizes) <= 1
        ids = [eid for ref in plan[2] for eid in group_ids(engine, ref.as_dict())]
        assert sorted(ids) == sorted(o.external_id for o in outcomes)
    finally:
        store.dispose_engines()
