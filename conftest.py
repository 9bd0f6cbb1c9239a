"""Root pytest configuration: shared fixture plugins and a throwaway Airflow home.

Sandbox fixtures live in ``tests/plugins/<system>.py`` so each system's fixtures stay with the
people who own that system; they are registered here because ``pytest_plugins`` is only honoured
in the root conftest.
"""

from __future__ import annotations

import os
import tempfile

pytest_plugins = [
    "tests.plugins.environment",
    "tests.plugins.lago_sandbox",
    "tests.plugins.netsuite_sandbox",
    "tests.plugins.sync_world",
]

# Airflow reads its configuration at import time: point it at a throwaway home before any test
# module imports airflow, so the suite never touches a developer's real Airflow.
if "LAGO_NETSUITE_KEEP_AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="lago-netsuite-airflow-")
    os.environ["AIRFLOW_HOME"] = _home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.path.dirname(__file__), "dags")
    os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = os.path.join(os.path.dirname(__file__), "plugins")
    os.environ["AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES"] = "consumer_key"
