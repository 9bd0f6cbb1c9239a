"""Command-line tools behind ``./dev``: Airflow home set-up, settings, services and the demo."""
