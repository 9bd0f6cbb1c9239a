"""The sync ledger inside Airflow's UI: documents, one document, retries, reconciliation, a run's documents."""
