"""lago-netsuite-sync: keep NetSuite's books in step with Lago billing.

The package is imported by the DAGs in ``dags/`` (Airflow puts ``plugins/`` on ``sys.path``), by the
sandboxes and by the tests. Sub-packages import their heavy dependencies (pandas, Great
Expectations) themselves, so importing this package is cheap at DAG parse time.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: Version of the RESTlet wire contract (docs/restlet-contract.md) this package speaks.
CONTRACT_VERSION = 1
