"""A loader process for the race test: ``python -m tests.integration.race_loader <store url> <ids json>``.

It says it is ready (a ``ready-<pid>`` file beside the go file), waits for the go file,
loads every given record, and prints its stats as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    store_url, ids_file, go_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
    from lago_netsuite.ledger import store
    from lago_netsuite.load.loader import GroupLoader, LoaderOptions

    engine = store.get_engine(store_url)
    ids = json.loads(Path(ids_file).read_text())
    loader = GroupLoader(engine, NetSuiteRestletHook("netsuite_default"), run_id="race",
                         options=LoaderOptions(batch_size=5, in_run_retry_seconds=2))
    with engine.connect():  # connected before the start line, so neither starts late
        pass
    (go_file.parent / f"ready-{os.getpid()}").touch()
    while not go_file.exists():
        time.sleep(0.01)
    print(json.dumps(loader.load(ids).as_dict()))


if __name__ == "__main__":
    main()
