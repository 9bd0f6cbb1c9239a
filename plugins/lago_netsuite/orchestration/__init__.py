"""The Airflow-facing glue: DAG defaults, task bodies, the steps they call, run notes, provider info, plugin."""
