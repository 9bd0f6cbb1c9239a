"""The project's Airflow plugin, loaded through the ``airflow.plugins`` entry point (pyproject.toml).

It only registers the :mod:`lago_netsuite.orchestration.run_notes` listener. Importing it is cheap: every
Airflow component loads plugins at start-up.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from lago_netsuite.orchestration import run_notes


class LagoNetSuitePlugin(AirflowPlugin):
    """Writes each sync run's outcome onto the run as its note."""

    name = "lago_netsuite"
    listeners = [run_notes]
