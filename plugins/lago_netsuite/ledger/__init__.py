"""The sync store: catalog, raw documents and the sync ledger, through SQLAlchemy Core.

SQLite (a file under ``$AIRFLOW_HOME``) by default; any SQLAlchemy URL — PostgreSQL in
production — through the Airflow connection ``lago_netsuite_store``. The DDL lives in
``include/sql/migrations`` and is applied by :func:`lago_netsuite.ledger.migrations.migrate`.
"""
