"""What only the demo, the tests and the benchmarks use — never deployed, never imported by the DAGs.

- ``sandbox``: local stand-ins for Lago's API and a NetSuite RESTlet (real HTTP servers on loopback);
- ``cli``: the tools behind ``./dev`` (Airflow home, settings, services, the Celery cluster, the demo).

The product is ``plugins/lago_netsuite``, the package a deployment copies onto its workers.
"""
