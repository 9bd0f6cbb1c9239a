"""lago-netsuite-sync: keep NetSuite's books in step with Lago billing.

This package is what a deployment copies onto its workers; the DAGs in ``dags/`` import it (Airflow
puts ``plugins/`` on ``sys.path``). Its layout follows the flow:

- ``extract``: Lago's API → the sync store (documents, catalog, late changes, the sweep);
- ``transform``: stored documents → NetSuite records (pandas), one run's transform step (``run``);
- ``validate``: the Great Expectations gate every record passes before it may be sent;
- ``load``: the load lanes (which records are ready) and the loader that sends them through the RESTlet;
- ``ledger``: the sync store — schema, migrations, every record's state and events;
- ``hooks``: the Airflow hooks for Lago and the NetSuite RESTlet, and the connection check;
- ``payments_back``: payments recorded in NetSuite → Lago, with their own ledger state;
- ``orchestration``: the Airflow-facing glue — DAG defaults, task bodies, the steps they call, run
  notes, the connection types and the plugin; ``ui``: the sync ledger pages in Airflow's UI;
- shared: ``context`` (who is running), ``settings``, ``money``, ``netsuite_fields``, ``report``, ``paths``.

The Lago and NetSuite sandboxes and the ``./dev`` tools live apart, in ``devtools/lago_netsuite_dev``;
nothing here imports them. Sub-packages import their heavy dependencies (pandas, Great
Expectations) themselves, so importing this package is cheap at DAG parse time.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: Version of the RESTlet wire contract (docs/restlet-contract.md) this package speaks.
CONTRACT_VERSION = 1
