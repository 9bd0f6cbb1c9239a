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
            {"connection-type": "lago", "hook-class-name": "lago_netsuite.hooks.lago.LagoHook", "hook-name": "Lago",
             "ui-field-behaviour": LAGO_FORM},
            {"connection-type": "netsuite", "hook-class-name": "lago_netsuite.hooks.netsuite.NetSuiteRestletHook",
             "hook-name": "NetSuite RESTlet", "ui-field-behaviour": NETSUITE_FORM, "conn-fields": NETSUITE_FIELDS},
        ],
    }


# Declared here (Airflow 3.2+ reads the form from provider info without importing the hooks); the
# hooks' get_ui_field_behaviour() say the same, and a test keeps the two equal.
LAGO_FORM: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "API base URL (incl. /api/v1)", "password": "API key"},
    "placeholders": {"host": "https://api.getlago.com/api/v1",
                     "extra": '{"requests_per_second": 45, "timeout": 30, "max_retries": 5}'},
}
NETSUITE_FORM: dict[str, Any] = {"hidden-fields": ["host", "schema", "login", "password", "port"], "relabeling": {},
                                 "placeholders": {}}


def _field(label: str, description: str, *, secret: bool = False, default: Any = None,
           kind: str = "string") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if secret:
        schema["format"] = "password"
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


#: The NetSuite connection's extras as form fields (stored in the connection's extra under these names).
NETSUITE_FIELDS: dict[str, Any] = {
    "account_id": _field("Account ID", "NetSuite account, e.g. 1234567 or 1234567_SB1 for a sandbox"),
    "consumer_key": _field("Consumer key", "Integration record's consumer key (TBA)", secret=True),
    "consumer_secret": _field("Consumer secret", "Integration record's consumer secret", secret=True),
    "token_id": _field("Token ID", "Access token of the integration role", secret=True),
    "token_secret": _field("Token secret", "Access token secret", secret=True),
    "script": _field("RESTlet script id", "Script record id", default="customscript_lago_netsuite_sync"),
    "deploy": _field("RESTlet deployment id", "Deployment id", default="customdeploy_lago_netsuite_sync"),
    "base_url": _field("RESTlet base URL (optional)", "Defaults to https://<account>.restlets.api.netsuite.com"),
    "timeout": _field("Timeout (seconds)", "Per RESTlet call", default=120, kind="number"),
}
