"""Airflow's provider-info entry point: registers the ``lago`` and ``netsuite`` connection types.

Airflow reads it from the ``apache_airflow_provider`` entry point of the installed distribution
(``pyproject.toml``; ``./dev setup`` installs the project), so the connection form offers both
types with their own fields (``get_ui_field_behaviour`` of each hook) instead of saying a provider
package is missing. Imported by every Airflow component: standard library only.
"""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "lago-netsuite-sync"


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager needs: the package name and the two connection types."""
    from lago_netsuite import __version__

    return {
        "package-name": PACKAGE_NAME,
        "name": "Lago → NetSuite sync",
        "description": "Connection types of lago-netsuite-sync: the Lago API and the NetSuite RESTlet.",
        "versions": [__version__],
        "connection-types": [
            {"connection-type": "lago", "hook-class-name": "lago_netsuite.hooks.lago.LagoHook"},
            {"connection-type": "netsuite", "hook-class-name": "lago_netsuite.hooks.netsuite.NetSuiteRestletHook"},
        ],
    }
