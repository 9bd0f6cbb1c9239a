"""Where the project's data files live, wherever the package is deployed.

The package sits in ``<project>/plugins/lago_netsuite`` both in this repository and in an Astro
image (``/usr/local/airflow/plugins``), so ``include/`` is two levels up. A deployment with another
layout sets ``LAGO_NETSUITE_INCLUDE_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def include_dir() -> Path:
    """The ``include/`` directory (SQL files, mappings)."""
    return Path(os.environ.get("LAGO_NETSUITE_INCLUDE_DIR", PROJECT_ROOT / "include"))


def sql_dir() -> Path:
    """``include/sql``: migrations and parameterised queries."""
    return include_dir() / "sql"


def airflow_home() -> Path:
    """``$AIRFLOW_HOME`` (Airflow's own default when unset)."""
    return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
